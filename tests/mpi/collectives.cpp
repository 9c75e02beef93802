// Collectives under mpirun with 1, 2 and 3 ranks: every op for every dtype, sizes 0, 1, odd and 64 MiB,
// async handles, non-contiguous tensors, and the errors for inputs the ranks disagree on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace dist = kiln::distributed;
using namespace kiln;
using kiln::testing::error_of;

namespace {

int rank() { return dist::get_rank(); }
int world() { return dist::get_world_size(); }

const DType kAllDtypes[] = {DType::f32, DType::f64,     DType::i64, DType::i32,
                            DType::u8,  DType::boolean, DType::f16, DType::bf16};

// Rank r's element i: small integers, exact in every dtype (also f16/bf16 sums of a few ranks).
double value(int r, int64_t i) { return static_cast<double>((i * 7 + r * 3) % 11); }

Tensor make(DType dtype, int64_t n, int r) {
  Tensor t = empty({n}, {.dtype = DType::f64});
  double* p = t.data<double>();
  for (int64_t i = 0; i < n; ++i)
    p[i] = dtype == DType::boolean ? static_cast<double>((i + r) % 3 == 0) : value(r, i);
  return t.to(dtype);
}

double reduce(dist::ReduceOp op, DType dtype, int64_t i) {
  std::vector<double> v;
  for (int r = 0; r < world(); ++r) v.push_back(dtype == DType::boolean ? ((i + r) % 3 == 0) : value(r, i));
  double acc = v[0];
  for (size_t k = 1; k < v.size(); ++k) {
    switch (op) {
      case dist::ReduceOp::sum:
      case dist::ReduceOp::mean:
        acc += v[k];
        break;
      case dist::ReduceOp::max:
        acc = std::max(acc, v[k]);
        break;
      case dist::ReduceOp::min:
        acc = std::min(acc, v[k]);
        break;
      case dist::ReduceOp::product:
        acc *= v[k];
        break;
    }
  }
  if (op == dist::ReduceOp::mean) acc /= world();
  if (dtype == DType::boolean) {
    if (op == dist::ReduceOp::sum || op == dist::ReduceOp::max) return acc > 0;
    return acc != 0;  // min and product: "and"
  }
  if (dtype == DType::u8 && op == dist::ReduceOp::product) return std::fmod(acc, 256.0);
  return acc;
}

// Compares in f64; f16/bf16 hold the small integers (and the means of 2 and 3 ranks) to their precision.
void expect_values(const Tensor& got, const std::function<double(int64_t)>& want, const std::string& what) {
  const std::vector<double> v = got.to(DType::f64).contiguous().to_vector<double>();
  const double tol = got.dtype() == DType::bf16 ? 0.04 : got.dtype() == DType::f16 ? 0.005 : 1e-6;
  int64_t bad = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) {
    const double w = want(i);
    if (std::abs(v[i] - w) > tol * std::max(1.0, std::abs(w))) {
      if (bad++ < 3) ADD_FAILURE() << what << ": element " << i << " is " << v[i] << ", expected " << w;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

// The expected values repeat every 33 elements (value() has period 11, the bool pattern 3): computing
// them once keeps the 64 MiB checks fast.
std::function<double(int64_t)> periodic(const std::function<double(int64_t)>& f) {
  std::vector<double> table(33);
  for (int64_t i = 0; i < 33; ++i) table[i] = f(i);
  return [table](int64_t i) { return table[i % 33]; };
}

std::string name(DType d, dist::ReduceOp op, int64_t n) {
  return std::string(dtype_name(d)) + " " + dist::reduce_op_name(op) + " n=" + std::to_string(n);
}

}  // namespace

TEST(Collectives, InitReportsRankAndWorld) {
  EXPECT_TRUE(dist::is_available());
  EXPECT_TRUE(dist::is_initialized());
  EXPECT_GE(rank(), 0);
  EXPECT_LT(rank(), world());
  // Every rank runs on this machine in the test: local rank equals the rank.
  EXPECT_EQ(dist::get_local_rank(), rank());
  EXPECT_TRUE(dist::default_device().is_cpu());
  // The ranks are distinct and cover 0..world-1: their sum is known.
  Tensor r = full({1}, rank(), {.dtype = DType::i64});
  dist::all_reduce(r);
  EXPECT_EQ(r.item<int64_t>(), int64_t{world()} * (world() - 1) / 2);
  EXPECT_CONTAINS(error_of([] { dist::init_process_group(); }), "already initialized");
}

TEST(Collectives, AllReduceEveryDtypeOpAndSize) {
  const dist::ReduceOp ops[] = {dist::ReduceOp::sum, dist::ReduceOp::max, dist::ReduceOp::min,
                                dist::ReduceOp::product, dist::ReduceOp::mean};
  for (DType d : kAllDtypes) {
    for (dist::ReduceOp op : ops) {
      if (op == dist::ReduceOp::mean && !is_floating(d)) continue;
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{1001}}) {
        Tensor t = make(d, n, rank());
        dist::all_reduce(t, op);
        EXPECT_EQ(t.dtype(), d);
        EXPECT_EQ(t.numel(), n);
        expect_values(t, periodic([&](int64_t i) { return reduce(op, d, i); }), name(d, op, n));
      }
    }
  }
}

TEST(Collectives, AllReduce64MiB) {
  for (DType d : {DType::f32, DType::bf16}) {
    const int64_t n = (int64_t{64} << 20) / static_cast<int64_t>(dtype_size(d));
    Tensor t = make(d, n, rank());
    dist::all_reduce(t, dist::ReduceOp::sum);
    expect_values(t, periodic([&](int64_t i) { return reduce(dist::ReduceOp::sum, d, i); }),
                  name(d, dist::ReduceOp::sum, n));
  }
}

TEST(Collectives, MeanOfFloatsDividesExactlyAndIntegersRefuse) {
  Tensor t = full({5}, rank() + 1.0, {.dtype = DType::f32});
  dist::all_reduce(t, dist::ReduceOp::mean);
  const float want = static_cast<float>(world() * (world() + 1) / 2) / static_cast<float>(world());
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, want);  // sum then one true division, bit for bit
  Tensor i = full({3}, 1.0, {.dtype = DType::i64});
  EXPECT_CONTAINS(error_of([&] { dist::all_reduce(i, dist::ReduceOp::mean); }),
                  "mean needs a floating dtype");
}

TEST(Collectives, BroadcastFromEveryRoot) {
  for (DType d : kAllDtypes)
    for (int src = 0; src < world(); ++src)
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{777}}) {
        Tensor t = make(d, n, rank());
        dist::broadcast(t, src);
        Tensor want = make(d, n, src);
        expect_values(
            t, [&](int64_t i) { return want.to(DType::f64).data<double>()[i]; },
            std::string("broadcast ") + std::string(dtype_name(d)) + " src " + std::to_string(src));
      }
  Tensor t = zeros({2});
  EXPECT_CONTAINS(error_of([&] { dist::broadcast(t, world()); }), "src rank");
}

TEST(Collectives, AllGatherBothForms) {
  for (DType d : kAllDtypes)
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{301}}) {
      Tensor in = make(d, n, rank()).view({n, 1});
      std::vector<Tensor> outs;
      for (int r = 0; r < world(); ++r) outs.push_back(full({n, 1}, 5, {.dtype = d}));
      dist::all_gather(outs, in);
      for (int r = 0; r < world(); ++r) {
        Tensor want = make(d, n, r).to(DType::f64);
        expect_values(
            outs[r].reshape({-1}), [&](int64_t i) { return want.data<double>()[i]; },
            "all_gather " + std::string(dtype_name(d)) + " part " + std::to_string(r));
      }
      Tensor flat = zeros({world() * n}, {.dtype = d});
      dist::all_gather_into_tensor(flat, in);
      expect_values(
          flat,
          [&](int64_t i) { return make(d, n, static_cast<int>(i / n)).to(DType::f64).data<double>()[i % n]; },
          "all_gather_into_tensor " + std::string(dtype_name(d)));
    }
  Tensor in = zeros({4});
  EXPECT_CONTAINS(error_of([&] { dist::all_gather(std::vector<Tensor>(world() + 1, zeros({4})), in); }),
                  "output tensors for world_size");
  EXPECT_CONTAINS(error_of([&] { dist::all_gather(std::vector<Tensor>(world(), zeros({5})), in); }),
                  "has shape");
  Tensor wrong = zeros({world() * 4 + 1});
  EXPECT_CONTAINS(error_of([&] { dist::all_gather_into_tensor(wrong, in); }), "needs");
}

TEST(Collectives, ReduceScatterBothForms) {
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::f16, DType::bf16})
    for (dist::ReduceOp op : {dist::ReduceOp::sum, dist::ReduceOp::max})
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{257}}) {
        // Rank r's input row block k holds make(d, n, r + k): each rank's result block differs.
        Tensor in = empty({world() * n}, {.dtype = d});
        std::vector<Tensor> parts;
        for (int k = 0; k < world(); ++k) {
          parts.push_back(make(d, n, rank() + k));
          in.slice(0, k * n, (k + 1) * n).copy_(parts.back());
        }
        auto want = [&](int64_t i) {
          double acc = op == dist::ReduceOp::sum ? 0 : -1e30;
          for (int r = 0; r < world(); ++r) {
            const double v = value(r + rank(), i);
            acc = op == dist::ReduceOp::sum ? acc + v : std::max(acc, v);
          }
          return acc;
        };
        Tensor out = zeros({n}, {.dtype = d});
        dist::reduce_scatter_tensor(out, in, op);
        expect_values(out, want, "reduce_scatter_tensor " + name(d, op, n));
        Tensor out2 = zeros({n}, {.dtype = d});
        dist::reduce_scatter(out2, parts, op);
        expect_values(out2, want, "reduce_scatter " + name(d, op, n));
      }
}

TEST(Collectives, AsyncHandlesCompleteInOrderAndNonContiguousTensorsWork) {
  std::vector<Tensor> ts;
  std::vector<dist::Work> works;
  for (int k = 0; k < 6; ++k) {
    ts.push_back(full({1000 + k}, rank() + k, {.dtype = DType::f64}));
    works.push_back(dist::all_reduce(ts.back(), dist::ReduceOp::sum, /*async_op=*/true));
  }
  for (int k = 5; k >= 0; --k) {  // waiting out of order is fine
    works[k].wait();
    EXPECT_TRUE(works[k].is_completed());
    works[k].wait();  // a second wait returns at once
    const double want = world() * (world() - 1) / 2.0 + world() * k;
    for (double v : ts[k].to_vector<double>()) ASSERT_EQ(v, want);
  }
  // A transposed view: the collective stages it and writes the result back through the view.
  Tensor base = arange(0, 12, 1, {.dtype = DType::f32}).view({3, 4});
  Tensor tview = base.transpose(0, 1);
  ASSERT_FALSE(tview.is_contiguous());
  dist::all_reduce(tview, dist::ReduceOp::sum);
  const std::vector<float> got = base.to_vector<float>();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got[i], static_cast<float>(i * world()));
  dist::barrier();
}

TEST(Collectives, RanksThatDisagreeGetTheSameClearErrorAndTheGroupStaysUsable) {
  if (world() == 1) GTEST_SKIP() << "needs two ranks to disagree";
  // Different element counts.
  Tensor t = zeros({10 + rank()});
  std::string msg = error_of([&] { dist::all_reduce(t); });
  EXPECT_CONTAINS(msg, "disagree on the element count");
  EXPECT_CONTAINS(msg, "rank 0 10, rank 1 11");
  // Different dtypes.
  Tensor u = zeros({4}, {.dtype = rank() == 0 ? DType::f32 : DType::f64});
  msg = error_of([&] { dist::all_reduce(u); });
  EXPECT_CONTAINS(msg, "disagree on the dtype");
  EXPECT_CONTAINS(msg, "rank 0 f32, rank 1 f64");
  // Different collectives.
  Tensor v = zeros({4});
  msg = error_of([&] {
    if (rank() == 0)
      dist::broadcast(v, 0);
    else
      dist::all_reduce(v);
  });
  EXPECT_CONTAINS(msg, "disagree on the collective");
  // Different ops and roots.
  msg = error_of([&] { dist::all_reduce(v, rank() == 0 ? dist::ReduceOp::sum : dist::ReduceOp::max); });
  EXPECT_CONTAINS(msg, "disagree on the reduce op");
  msg = error_of([&] { dist::broadcast(v, rank() == 0 ? 0 : 1); });
  EXPECT_CONTAINS(msg, "disagree on the root rank");
  // Nothing moved, so the group still works.
  Tensor w = full({3}, 1.0);
  dist::all_reduce(w);
  for (float x : w.to_vector<float>()) EXPECT_EQ(x, static_cast<float>(world()));
}

TEST(Collectives, DifferentiableAllReduceSumsGradientsOverRanks) {
  Tensor x = full({3}, rank() + 1.0, {.requires_grad = true});
  Tensor y = dist::functional::all_reduce_sum(x);
  // loss_r = sum((r + 1) * y): d(sum over ranks of loss)/dx = sum over r of (r + 1).
  Tensor loss = sum(mul(y, full({3}, rank() + 1.0)));
  loss.backward();
  const float want = static_cast<float>(world() * (world() + 1) / 2);
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, want);
  for (float g : x.grad().to_vector<float>()) EXPECT_EQ(g, want);
}

TEST(Collectives, AllGatherConcatTakesUnevenFirstDims) {
  // Rank r contributes r + 1 rows of 3 columns holding r.
  Tensor mine = full({rank() + 1, 3}, rank(), {.dtype = DType::f64});
  Tensor all = dist::all_gather_concat(mine);
  const int64_t rows = int64_t{world()} * (world() + 1) / 2;
  ASSERT_EQ(all.shape(), (Shape{rows, 3}));
  const std::vector<double> v = all.to_vector<double>();
  int64_t i = 0;
  for (int r = 0; r < world(); ++r)
    for (int k = 0; k < (r + 1) * 3; ++k) EXPECT_EQ(v[i++], r);
}
