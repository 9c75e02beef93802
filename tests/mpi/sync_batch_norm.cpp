// SyncBatchNorm under mpirun: each rank normalizing its rows equals BatchNorm on the whole batch in one
// process (outputs, input gradients, summed parameter gradients, running statistics), in f64.
#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace dist = kiln::distributed;
using namespace kiln;

namespace {
double max_abs_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item<double>();
}
}  // namespace

TEST(SyncBatchNorm, EqualsBatchNormOnTheGlobalBatch) {
  const int r = dist::get_rank(), w = dist::get_world_size();
  constexpr int64_t N = 12, C = 3, L = 5;  // N divisible by 1, 2 and 3
  manual_seed(11);
  Tensor x_all = add(mul(randn({N, C, L}, {.dtype = DType::f64}), full({}, 3.0)), full({}, 1.5));
  Tensor coeff = randn({N, C, L}, {.dtype = DType::f64});
  const int64_t n = N / w;

  nn::BatchNorm1d ref(C, {.momentum = 0.3});
  dist::SyncBatchNorm sync(C, {.momentum = 0.3});
  ref.to(DType::f64);
  sync.to(DType::f64);
  {
    NoGradGuard g;
    for (auto* m : std::initializer_list<nn::BatchNormBase*>{&ref, &sync}) {
      m->weight.copy_(Tensor(arange(1, C + 1, 1, {.dtype = DType::f64})));
      m->bias.copy_(full({C}, 0.25, {.dtype = DType::f64}));
    }
  }
  Tensor xr = x_all.detach().clone().requires_grad_(true);
  Tensor yr = ref(xr);
  sum(mul(yr, coeff)).backward();

  Tensor xl = x_all.slice(0, r * n, (r + 1) * n).contiguous().requires_grad_(true);
  Tensor yl = sync(xl);
  sum(mul(yl, coeff.slice(0, r * n, (r + 1) * n))).backward();

  EXPECT_LE(max_abs_diff(yl, yr.slice(0, r * n, (r + 1) * n)), 1e-12);
  EXPECT_LE(max_abs_diff(xl.grad(), xr.grad().slice(0, r * n, (r + 1) * n)), 1e-12);
  // Each rank holds its rows' share of the parameter gradients; their sum is the whole batch's.
  for (auto [mine, want] : {std::pair{sync.weight, ref.weight}, std::pair{sync.bias, ref.bias}}) {
    Tensor g = mine.grad().clone();
    dist::all_reduce(g);
    EXPECT_LE(max_abs_diff(g, want.grad()), 1e-12);
  }
  EXPECT_LE(max_abs_diff(sync.running_mean, ref.running_mean), 1e-12);
  EXPECT_LE(max_abs_diff(sync.running_var, ref.running_var), 1e-12);
  EXPECT_EQ(sync.num_batches_tracked.item<int64_t>(), 1);

  // Evaluation uses the running statistics, with no communication: the same as BatchNorm's.
  sync.eval();
  ref.eval();
  EXPECT_LE(max_abs_diff(sync(xl.detach()), ref(xl.detach())), 1e-12);
  // The state dict loads into a BatchNorm1d (same names).
  nn::BatchNorm1d back(C);
  back.to(DType::f64);
  back.load_state_dict(sync.state_dict());
  EXPECT_CONTAINS(kiln::testing::error_of([&] { sync(zeros({4})); }),
                  "SyncBatchNorm: expected an (N, C, ...) input");
}
