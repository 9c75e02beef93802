// DistributedDataParallel under mpirun with 1, 2 and 3 ranks: training equals one process on the
// concatenated batch and stays bit-identical across ranks; buckets, no_sync, unused parameters, buffer
// broadcast, and models that differ across ranks.
#include <gtest/gtest.h>

#include <cstring>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace dist = kiln::distributed;
namespace F = kiln::nn::functional;
using namespace kiln;
using kiln::testing::error_of;

namespace {

int rank() { return dist::get_rank(); }
int world() { return dist::get_world_size(); }

// The demo's MLP (examples/fashion_mnist_demo.cpp) without its Dropout: each rank draws its own dropout
// masks, so no run of several ranks can equal one process's.
nn::ModulePtr demo_mlp() {
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(),
                                          nn::Linear(512, 256), nn::ReLU(), nn::Linear(256, 10));
}

// The first 1,200 Fashion-MNIST training images, scaled to [0, 1].
const std::pair<Tensor, Tensor>& fashion() {
  static const std::pair<Tensor, Tensor> data = [] {
    auto [train, test] = data::FashionMNIST::load();
    Tensor x = div(train.images.slice(0, 0, 1200).to(DType::f32), full({}, 255.0));
    return std::pair{x.contiguous(), train.labels.slice(0, 0, 1200).contiguous()};
  }();
  return data;
}

// This rank's rows of a global batch whose size every world size divides.
Tensor local_rows(const Tensor& t) {
  const int64_t n = t.size(0) / world();
  return t.slice(0, rank() * n, (rank() + 1) * n);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item<double>();
}

// Every rank's copy of t is the same bits as rank 0's.
void expect_bitwise_equal_across_ranks(const Tensor& t, const std::string& what) {
  Tensor c = t.detach().contiguous();
  Tensor all = empty({world() * c.numel()}, {.dtype = c.dtype()});
  dist::all_gather_into_tensor(all, c.reshape({-1}));
  const size_t bytes = c.numel() * dtype_size(c.dtype());
  const char* p = static_cast<const char*>(all.data_ptr());
  for (int r = 1; r < world(); ++r)
    EXPECT_EQ(std::memcmp(p, p + r * bytes, bytes), 0) << what << " on rank " << r;
}

struct Variant {
  const char* name;
  dist::DDPOptions options;
  // f32: every step's averaged gradient against one process's gradient of the whole batch at the same
  // weights (the reference is reset to the DDP weights first), within 1e-6, so that rounding does not
  // compound. f64: an independent one-process run of all 20 steps, within 1e-10 at the end. (An
  // independent f32 run drifts by more than rounding: a 1e-9 difference that flips a ReLU input's
  // sign changes that step's gradient by ~1e-5, and later steps amplify it.)
  DType dtype = DType::f32;
};

class DDPTraining : public ::testing::TestWithParam<Variant> {};

}  // namespace

// 20 SGD steps (momentum 0.9) on global batches of 60 Fashion-MNIST images: every rank's model matches
// one process training on the 60 rows at once, and the ranks stay bit-identical.
TEST_P(DDPTraining, MatchesOneProcessOnTheConcatenatedBatch) {
  const Variant& v = GetParam();
  const auto& [all_images, labels] = fashion();
  const Tensor images = all_images.to(v.dtype);
  manual_seed(100 + rank());  // different on every rank: the wrapper must broadcast rank 0's weights
  auto model = demo_mlp();
  model->to(v.dtype);
  dist::DistributedDataParallel ddp(model, v.options);
  manual_seed(100);
  auto reference = demo_mlp();
  reference->to(v.dtype);
  const auto ref_params = reference->parameters();
  const auto params = ddp.parameters();
  ASSERT_EQ(params.size(), ref_params.size());
  for (size_t i = 0; i < params.size(); ++i) ASSERT_EQ(max_abs_diff(params[i], ref_params[i]), 0.0) << i;

  optim::SGD opt(params, {.lr = 0.05, .momentum = 0.9});
  optim::SGD ref_opt(ref_params, {.lr = 0.05, .momentum = 0.9});
  constexpr int64_t batch = 60;
  double worst_grad = 0;
  for (int64_t step = 0; step < 20; ++step) {
    Tensor x = images.slice(0, step * batch, (step + 1) * batch),
           y = labels.slice(0, step * batch, (step + 1) * batch);
    opt.zero_grad();
    F::cross_entropy(ddp(local_rows(x)), local_rows(y)).backward();
    if (v.dtype == DType::f32) {
      {
        NoGradGuard g;
        for (size_t i = 0; i < params.size(); ++i) Tensor(ref_params[i]).copy_(params[i]);
      }
      reference->zero_grad();
      F::cross_entropy((*reference)(x), y).backward();
      for (size_t i = 0; i < params.size(); ++i)
        worst_grad = std::max(worst_grad, max_abs_diff(params[i].grad(), ref_params[i].grad()));
    } else {
      ref_opt.zero_grad();
      F::cross_entropy((*reference)(x), y).backward();
      ref_opt.step();
    }
    opt.step();
  }
  for (size_t i = 0; i < params.size(); ++i)
    expect_bitwise_equal_across_ranks(params[i], "parameter " + std::to_string(i));
  if (v.dtype == DType::f32) {
    EXPECT_LE(worst_grad, 1e-6) << v.name;
  } else {
    double worst = 0;
    for (size_t i = 0; i < params.size(); ++i)
      worst = std::max(worst, max_abs_diff(params[i], ref_params[i]));
    EXPECT_LE(worst, 1e-10) << v.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Buckets, DDPTraining,
                         ::testing::Values(Variant{"default", {}},
                                           Variant{"small_buckets",
                                                   {.bucket_cap_mb = 0.1, .first_bucket_cap_mb = 0.01}},
                                           Variant{"no_overlap", {.bucket_cap_mb = 0.1, .overlap = false}},
                                           Variant{"f64_independent_run", {}, DType::f64}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DDP, BucketsFollowReverseRegistrationOrderAndTheirCaps) {
  manual_seed(0);
  dist::DistributedDataParallel ddp(demo_mlp(), {.bucket_cap_mb = 25, .first_bucket_cap_mb = 0.25});
  // Parameters: 0 w(512x784) 1 b 2 w(256x512) 3 b 4 w(10x256) 5 b. The first bucket closes once past
  // 0.25 MB (after the 512 KiB weight 2); the rest fit in one 25 MB bucket.
  const std::vector<std::vector<size_t>> want{{5, 4, 3, 2}, {1, 0}};
  EXPECT_EQ(ddp.bucket_assignment(), want);
  dist::DistributedDataParallel one(demo_mlp());
  EXPECT_EQ(one.bucket_assignment().size(), 1u);  // 2.1 MB in all: below the 1 MB first cap until w0
  EXPECT_CONTAINS(error_of([] { dist::DistributedDataParallel bad(demo_mlp(), {.bucket_cap_mb = 0}); }),
                  "must be positive");
  std::ostringstream os;
  os << ddp;
  EXPECT_CONTAINS(os.str(), "DistributedDataParallel(world_size=" + std::to_string(world()));
  EXPECT_TRUE(ddp.state_dict().contains("module.1.weight"));  // PyTorch's DDP names
}

// Two micro-batches: the first inside no_sync() stays local, the second reduces the accumulated sum.
TEST(DDP, NoSyncAccumulatesLocallyThenReducesTheSum) {
  const auto& [images, labels] = fashion();
  manual_seed(7);
  auto model = demo_mlp();
  dist::DistributedDataParallel ddp(model);
  const auto params = ddp.parameters();
  Tensor xa = images.slice(0, 0, 60), ya = labels.slice(0, 0, 60);
  Tensor xb = images.slice(0, 60, 120), yb = labels.slice(0, 60, 120);
  auto local_grads = [&](const Tensor& x, const Tensor& y) {
    return autograd::grad({F::cross_entropy((*model)(local_rows(x)), local_rows(y))}, params);
  };
  const auto ga = local_grads(xa, ya), gb = local_grads(xb, yb);  // grad() fires no DDP hook
  {
    auto guard = ddp.no_sync();
    F::cross_entropy(ddp(local_rows(xa)), local_rows(ya)).backward();
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_EQ(max_abs_diff(params[i].grad(), ga[i]), 0.0) << "local " << i;
  F::cross_entropy(ddp(local_rows(xb)), local_rows(yb)).backward();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor want = add(ga[i], gb[i]).contiguous();
    dist::all_reduce(want, dist::ReduceOp::mean);
    EXPECT_LE(max_abs_diff(params[i].grad(), want), 1e-7) << "reduced " << i;
    expect_bitwise_equal_across_ranks(params[i].grad(), "grad " + std::to_string(i));
  }
}

namespace {
// A trunk and three heads: head_a always used, head_b used only on rank 0, head_c never.
class Heads : public nn::Module {
 public:
  Heads() {
    trunk = register_module("trunk", std::make_shared<nn::Linear>(4, 8));
    head_a = register_module("head_a", std::make_shared<nn::Linear>(8, 2));
    head_b = register_module("head_b", std::make_shared<nn::Linear>(8, 2));
    head_c = register_module("head_c", std::make_shared<nn::Linear>(8, 2));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu((*trunk)(x));
    Tensor out = (*head_a)(h);
    return use_b ? add(out, (*head_b)(h)) : out;
  }
  std::string type_name() const override { return "Heads"; }
  std::shared_ptr<nn::Linear> trunk, head_a, head_b, head_c;
  bool use_b = false;
};
}  // namespace

TEST(DDP, UnusedParametersAreFoundAndReducedAsZeros) {
  manual_seed(3);
  auto heads = std::make_shared<Heads>();
  heads->use_b = rank() == 0;
  dist::DistributedDataParallel ddp(heads, {.find_unused_parameters = true});
  Tensor x = full({5, 4}, 0.5 + rank());
  const auto local = autograd::grad({sum((*heads)(x))}, {heads->head_b->weight}, {}, false, false,
                                    /*allow_unused=*/true);
  sum(ddp(x)).backward();
  // head_b: rank 0's gradient over the ranks' mean (the others contribute zeros), on every rank.
  Tensor want = rank() == 0 ? local[0].contiguous() : zeros_like(heads->head_b->weight);
  dist::broadcast(want, 0);
  EXPECT_LE(max_abs_diff(heads->head_b->weight.grad(), div(want, full({}, world()))), 1e-7);
  // head_c: unused on every rank, so its gradient stays undefined.
  EXPECT_FALSE(heads->head_c->weight.grad().defined());
  for (auto& [name, p] : ddp.named_parameters())
    if (p.grad().defined()) expect_bitwise_equal_across_ranks(p.grad(), name);
  // A second step works the same way.
  ddp.zero_grad();
  sum(ddp(x)).backward();
  EXPECT_TRUE(heads->trunk->weight.grad().defined());
}

TEST(DDP, AParameterWithoutGradientIsAnErrorNamingItUnlessFindUnusedIsOn) {
  manual_seed(3);
  auto heads = std::make_shared<Heads>();
  // Small buckets so that some buckets complete and the one holding head_c never does.
  dist::DistributedDataParallel ddp(heads, {.bucket_cap_mb = 0.0001, .first_bucket_cap_mb = 0.0001});
  Tensor x = full({5, 4}, 1.0);
  sum(ddp(x)).backward();
  const std::string msg = error_of([&] { ddp(x); });
  EXPECT_CONTAINS(msg, "'module.head_c.weight'");
  EXPECT_CONTAINS(msg, "find_unused_parameters");
  EXPECT_EQ(msg.find("head_a"), std::string::npos) << msg;
  dist::barrier();
}

TEST(DDP, BuffersComeFromRankZeroBeforeEachTrainingForward) {
  manual_seed(1);
  auto bn = std::make_shared<nn::BatchNorm1d>(3, nn::BatchNormOptions{.momentum = 0.0});
  dist::DistributedDataParallel ddp(bn);
  {
    NoGradGuard g;
    bn->running_mean.fill_(rank() + 10.0);  // the ranks drift apart...
  }
  Tensor x = randn({4, 3}, {.requires_grad = true});
  ddp(x);  // ...and the forward starts from rank 0's buffers again (momentum 0 keeps them)
  for (float v : bn->running_mean.to_vector<float>()) EXPECT_EQ(v, 10.0f);
}

TEST(DDP, ModelsThatDifferAcrossRanksAreTheSameErrorOnEveryRank) {
  if (world() == 1) GTEST_SKIP() << "needs two ranks to differ";
  std::string msg = error_of(
      [] { dist::DistributedDataParallel bad(std::make_shared<nn::Linear>(4, rank() == 0 ? 5 : 6)); });
  EXPECT_CONTAINS(
      msg,
      "the ranks' models differ: parameters 0 ('module.weight' on this rank) is f32 [5, 4] on rank 0 "
      "but f32 [6, 4] on rank 1");
  msg = error_of(
      [] { dist::DistributedDataParallel bad(std::make_shared<nn::Linear>(4, 5, /*bias=*/rank() == 0)); });
  EXPECT_CONTAINS(msg, "rank 0 has 2 parameters, rank 1 has 1");
  msg = error_of([] {
    auto m = std::make_shared<nn::Linear>(4, 5);
    if (rank() == 1) m->to(DType::f64);
    dist::DistributedDataParallel bad(m);
  });
  EXPECT_CONTAINS(msg, "f32 [5, 4] on rank 0 but f64 [5, 4] on rank 1");
}
