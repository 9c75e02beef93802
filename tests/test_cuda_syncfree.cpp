// tests/test_cuda_syncfree.cpp: training steps without host synchronization. Index range checks
// (Backend::check_index) keep their CPU messages and, on CUDA, are reported once at the next
// synchronization; arange / one_hot / avg_pool2d / adaptive pooling build their helper tensors on the
// device; an eager CUDA step of the demo MLP waits for the device zero times (cuda::detail::sync_count);
// a model with Embedding, average pooling and Dropout is captured by TrainStepGraph and trains exactly
// like the eager loop (the captured dropout masks are the eager ones). The CPU tests run everywhere, the
// others print "skipped: no CUDA device" without one.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

namespace F = nn::functional;

Tensor i64(std::vector<int64_t> v) { return from_vector(v); }

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got.to(Device::cpu())), w = values(want.to(Device::cpu()));
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
        << "element " << i << ": " << g[i] << " vs " << w[i];
}

// ---- on the CPU: the checks throw at once, with the messages they always had ----

TEST(IndexCheck, CpuMessagesNameTheOpTheValueAndTheRange) {
  Tensor x = arange(0.0, 6.0, 1.0, {.dtype = DType::f32}).reshape({2, 3});
  EXPECT_CONTAINS(error_of([&] {
                    index_select(x, 1, i64({0, 3}));
                  }),
                  "index_select: index 3 is out of range for a dimension of size 3 (valid: 0 to 2)");
  EXPECT_CONTAINS(error_of([&] {
                    gather(x, 0, i64({-1, 0, 1}).reshape({1, 3}));
                  }),
                  "gather: index -1 is out of range for a dimension of size 2 (valid: 0 to 1)");
  EXPECT_CONTAINS(error_of([&] {
                    scatter_add(x, 1, i64({5, 0}).reshape({1, 2}), ones({1, 2}));
                  }),
                  "scatter_add: index 5 is out of range for a dimension of size 3");
  EXPECT_CONTAINS(error_of([&] {
                    one_hot(i64({0, 4}), 4);
                  }),
                  "one_hot: index 4 is out of range for a dimension of size 4 (valid: 0 to 3)");
  EXPECT_CONTAINS(error_of([&] {
                    embedding(ones({5, 2}), i64({1, 5}));
                  }),
                  "embedding: index 5 is out of range for num_embeddings 5 (weight [5, 2], indices [2])");
  EXPECT_CONTAINS(error_of([&] { index_select(x, 1, from_vector<int32_t>({0})); }),
                  "index_select: index must be i64, got i32");
}

// The mechanism cross_entropy's targets use: [0, K) or ignore_index.
TEST(IndexCheck, AnAllowedValueOutsideTheRangePasses) {
  IndexCheck check{
      .op = "cross_entropy", .what = "K =", .lo = 0, .hi = 3, .has_allowed = true, .allowed = -100};
  const Backend& cpu = backend(Device::cpu());
  EXPECT_NO_THROW(cpu.check_index(i64({0, 2, -100, 1}), check));
  EXPECT_NO_THROW(cpu.check_index(i64({-100, -100}), check));
  EXPECT_CONTAINS(error_of([&] {
                    cpu.check_index(i64({0, -100, 3}), check);
                  }),
                  "cross_entropy: index 3 is out of range for K = 3 (valid: 0 to 2 or -100)");
  EXPECT_CONTAINS(error_of([&] { cpu.check_index(i64({-1, 7}), check); }), "index -1 is out of range");
  // A strided index is read in its own order.
  Tensor strided = transpose(i64({0, 1, 2, 9}).reshape({2, 2}), 0, 1);
  EXPECT_CONTAINS(error_of([&] { cpu.check_index(strided, check); }), "index 9");
}

TEST(DeviceConstants, ArangeKeepsItsValuesInEveryDtype) {
  auto want = [](double start, double end, double step) {
    std::vector<double> v;
    for (int64_t i = 0; start + double(i) * step < end; ++i) v.push_back(start + double(i) * step);
    return v;
  };
  EXPECT_EQ(values(arange(0.5, 3.0, 0.5, {.dtype = DType::f64})), want(0.5, 3.0, 0.5));
  EXPECT_EQ(values(arange(0.5, 3.0, 0.5, {.dtype = DType::i64})), (std::vector<double>{0, 1, 1, 2, 2}));
  EXPECT_EQ(values(arange(5, {.dtype = DType::i64})), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(values(arange(0.0, 1.0, 0.25, {.dtype = DType::i32})), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(values(arange(3.0, 0.0, -1.0, {.dtype = DType::f32})), (std::vector<double>{3, 2, 1}));
  EXPECT_EQ(arange(0, {.dtype = DType::f32}).numel(), 0);
  EXPECT_TRUE(arange(3.0, 6.0, 1.0, {.requires_grad = true}).requires_grad());
}

// avg_pool2d's divisor: the count of cells (with or without padding) each window covers, against a loop.
TEST(DeviceConstants, AvgPoolDivisorsCountTheWindowCells) {
  manual_seed(3);
  Tensor x = randn({2, 3, 7, 6}, {.dtype = DType::f64});
  for (bool include_pad : {false, true}) {
    for (bool ceil : {false, true}) {
      SCOPED_TRACE(std::string(include_pad ? "include_pad" : "exclude_pad") + (ceil ? " ceil" : ""));
      const int64_t k = 3, s = 2, p = 1;
      Tensor got = avg_pool2d(x, {k, k}, {s, s}, {p, p}, ceil, include_pad);
      auto xv = values(x);
      const int64_t ho = got.size(2), wo = got.size(3);
      std::vector<double> want;
      for (int64_t n = 0; n < 6; ++n)
        for (int64_t oh = 0; oh < ho; ++oh)
          for (int64_t ow = 0; ow < wo; ++ow) {
            const int64_t h0 = oh * s - p, w0 = ow * s - p;
            const int64_t h1 = std::min<int64_t>(h0 + k, 7 + p), w1 = std::min<int64_t>(w0 + k, 6 + p);
            double sum = 0;
            for (int64_t h = std::max<int64_t>(h0, 0); h < std::min<int64_t>(h1, 7); ++h)
              for (int64_t w = std::max<int64_t>(w0, 0); w < std::min<int64_t>(w1, 6); ++w)
                sum += xv[n * 42 + h * 6 + w];
            const double count = include_pad ? double((h1 - h0) * (w1 - w0))
                                             : double((std::min<int64_t>(h1, 7) - std::max<int64_t>(h0, 0)) *
                                                      (std::min<int64_t>(w1, 6) - std::max<int64_t>(w0, 0)));
            want.push_back(sum / count);
          }
      auto g = values(got);
      ASSERT_EQ(g.size(), want.size());
      for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-12) << "element " << i;
    }
  }
}

TEST(DeviceConstants, AdaptiveAvgPoolAveragesItsWindows) {
  Tensor x = arange(0.0, 35.0, 1.0, {.dtype = DType::f64}).reshape({1, 1, 7, 5});
  Tensor y = adaptive_avg_pool2d(x, {3, 2});
  // Rows windows of 7 -> 3: [0, 3), [2, 5), [4, 7); columns of 5 -> 2: [0, 3), [2, 5).
  auto mean = [&](int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    double s = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += double(h * 5 + w);
    return s / double((h1 - h0) * (w1 - w0));
  };
  std::vector<double> want = {mean(0, 3, 0, 3), mean(0, 3, 2, 5), mean(2, 5, 0, 3),
                              mean(2, 5, 2, 5), mean(4, 7, 0, 3), mean(4, 7, 2, 5)};
  auto g = values(y);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-12) << "element " << i;
}

// ---- on a device ----

TEST(CudaSyncFree, AnOutOfRangeIndexIsReportedOnceAtTheNextSynchronization) {
  REQUIRE_CUDA();
  const Device dev = Device::cuda();
  Tensor w = arange(0.0, 15.0, 1.0, {.dtype = DType::f32, .device = dev}).reshape({5, 3});
  cuda::synchronize();
  const int64_t syncs = cuda::detail::sync_count();
  Tensor rows = index_select(w, 0, i64({1, 7, 2}).to(dev));  // no throw, no wait: checked on the device
  EXPECT_EQ(cuda::detail::sync_count(), syncs);
  std::string e = error_of([&] { (void)sum(rows).item<float>(); });
  EXPECT_CONTAINS(e, "index_select: index 7 is out of range for a dimension of size 5 (valid: 0 to 4)");
  EXPECT_CONTAINS(e, "(detected on cuda:0 at the next synchronization");
  // Raised once: the word is clear again, and the kernel skipped the bad row instead of reading past w.
  EXPECT_NO_THROW(cuda::synchronize());
  EXPECT_EQ(values(rows), (std::vector<double>{3, 4, 5, 0, 0, 0, 6, 7, 8}));

  // The first bad index wins until it is read; every op names itself.
  Tensor g = gather(w, 1, i64({0, -2, 1}).reshape({1, 3}).to(dev));
  Tensor s = scatter_add(w, 0, i64({9, 0, 0}).reshape({1, 3}).to(dev), ones({1, 3}, {.device = dev}));
  e = error_of([&] { cuda::synchronize(); });
  EXPECT_CONTAINS(e, "gather: index -2 is out of range for a dimension of size 3");
  EXPECT_EQ(e.find("scatter_add"), std::string::npos) << e;
  auto sv = values(s);  // the bad element added nothing; the others did
  EXPECT_EQ(std::vector<double>(sv.begin(), sv.begin() + 3), (std::vector<double>{0, 2, 3}));
  EXPECT_CONTAINS(
      error_of([&] { (void)embedding(w, i64({5}).to(dev)).to(Device::cpu()); }),
      "embedding: index 5 is out of range for num_embeddings 5 (valid: 0 to 4) (detected on cuda:0");
  EXPECT_CONTAINS(error_of([&] {
                    (void)one_hot(i64({0, 3}).to(dev), 3).to(Device::cpu());
                  }),
                  "one_hot: index 3 is out of range for a dimension of size 3");
  IndexCheck ce{.op = "cross_entropy", .what = "K =", .lo = 0, .hi = 3, .has_allowed = true, .allowed = -100};
  backend(dev).check_index(i64({0, -100, 2}).to(dev), ce);
  EXPECT_NO_THROW(cuda::synchronize());
  backend(dev).check_index(i64({0, -100, 4}).to(dev), ce);
  EXPECT_CONTAINS(error_of([] { cuda::synchronize(); }),
                  "cross_entropy: index 4 is out of range for K = 3 (valid: 0 to 2 or -100)");
  EXPECT_NO_THROW(cuda::synchronize());
}

TEST(CudaSyncFree, ACapturedIndexCheckReportsABadIndexOfAReplay) {
  REQUIRE_CUDA();
  const Device dev = Device::cuda();
  Tensor w = ones({4, 2}, {.device = dev}), idx = i64({0, 1}).to(dev), out;
  cuda::Graph graph;
  graph.capture([&] { out = embedding(w, idx); });
  graph.replay();
  EXPECT_NO_THROW(cuda::synchronize());
  idx.copy_(i64({3, 4}).to(dev));
  graph.replay();
  EXPECT_CONTAINS(error_of([] { cuda::synchronize(); }),
                  "embedding: index 4 is out of range for num_embeddings 4");
  EXPECT_NO_THROW(cuda::synchronize());
}

TEST(CudaSyncFree, DeviceConstantsMatchTheCpu) {
  REQUIRE_CUDA();
  const Device dev = Device::cuda();
  for (DType t : {DType::f32, DType::f64, DType::i64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    expect_close(arange(-1.5, 4.0, 0.75, {.dtype = t, .device = dev}), arange(-1.5, 4.0, 0.75, {.dtype = t}),
                 0);
  }
  Tensor labels = i64({2, 0, 1, 2});
  expect_close(one_hot(labels.to(dev), 4), one_hot(labels, 4), 0);
  manual_seed(5);
  Tensor x = randn({2, 3, 9, 7});
  for (bool include_pad : {false, true})
    for (bool ceil : {false, true})
      expect_close(avg_pool2d(x.to(dev), {3, 2}, {2, 2}, {1, 1}, ceil, include_pad),
                   avg_pool2d(x, {3, 2}, {2, 2}, {1, 1}, ceil, include_pad), 1e-5);
  expect_close(adaptive_avg_pool2d(x.to(dev), {4, 3}), adaptive_avg_pool2d(x, {4, 3}), 1e-5);
}

// Embedding -> avg_pool2d -> adaptive_avg_pool2d -> Dropout -> linear, plus a one_hot term: the graphed
// loop (2 eager warmup steps, then replays) against the eager loop on the device, from the same seed.
TEST(CudaSyncFree, TrainStepGraphCapturesDropoutEmbeddingAndPooling) {
  REQUIRE_CUDA();
  const Device dev = Device::cuda();
  manual_seed(8);
  Tensor w0 = randn({10, 8}), l0 = randn({3, 8}), b0 = randn({3});
  std::vector<Tensor> idxs, targets;
  for (int i = 0; i < 3; ++i) idxs.push_back(randint(0, 10, {4, 16})), targets.push_back(randn({4, 3}));
  auto loss_of = [](const Tensor& idx, const Tensor& t, const std::vector<Tensor>& p) {
    Tensor e = reshape(embedding(p[0], idx), {4, 1, 16, 8});
    Tensor h = adaptive_avg_pool2d(avg_pool2d(e, {2, 2}), {4, 2});
    Tensor z = add(matmul(dropout(reshape(h, {4, 8}), 0.3, true), transpose(p[1], 0, 1)), p[2]);
    Tensor hot = one_hot(select(idx, 1, 0), 10).to(DType::f32);
    return add(F::mse_loss(z, t), sum(matmul(hot, p[0])) * 0.01);
  };
  auto sgd = [](const std::vector<Tensor>& params) {
    NoGradGuard no_grad;
    for (const Tensor& p : params) Tensor(p).sub_(p.grad(), 0.05);
  };
  auto params = [&] {
    return std::vector<Tensor>{w0.to(dev).requires_grad_(true), l0.to(dev).requires_grad_(true),
                               b0.to(dev).requires_grad_(true)};
  };
  const int steps = 7;
  std::vector<Tensor> ref = params(), got = params();
  std::vector<double> ref_losses;
  manual_seed(99);
  for (int i = 0; i < steps; ++i) {
    for (const Tensor& p : ref) p.set_grad(Tensor());
    Tensor loss = loss_of(idxs[i % 3].to(dev), targets[i % 3].to(dev), ref);
    loss.backward();
    sgd(ref);
    ref_losses.push_back(loss.item<double>());
  }
  Tensor idx = empty({4, 16}, {.dtype = DType::i64, .device = dev}), t = empty({4, 3}, {.device = dev});
  manual_seed(99);
  cuda::TrainStepGraph step(
      {idx, t}, got,
      [&] {
        Tensor loss = loss_of(idx, t, got);
        loss.backward();
        return loss;
      },
      [&] { sgd(got); }, {.warmup_steps = 2});
  for (int i = 0; i < steps; ++i) {
    Tensor loss = step.run({idxs[i % 3], targets[i % 3]});
    EXPECT_EQ(step.captured(), i >= 2);
    EXPECT_NEAR(loss.item<double>(), ref_losses[i], 1e-5 * (1 + std::abs(ref_losses[i]))) << "step " << i;
  }
  for (size_t i = 0; i < ref.size(); ++i) expect_close(got[i], ref[i], 1e-5);
}

// The demo's MLP (784-512-256-10, ReLU, Dropout 0.2) with AdamW, data already on the device: after a
// warmup step (lazy optimizer state), a step queues work and never waits for the device.
void expect_step_never_waits(bool use_cross_entropy) {
  const Device dev = Device::cuda();
  manual_seed(1);
  nn::Sequential model(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                       nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2), nn::Linear(256, 10));
  model.to(dev);
  optim::AdamW opt(model.parameters(), {.lr = 1e-3});
  Tensor x = randn({128, 1, 28, 28}).to(dev), y = randint(0, 10, {128}).to(dev);
  auto step = [&] {
    opt.zero_grad();
    Tensor logits = model(x);
    Tensor loss = use_cross_entropy ? F::cross_entropy(logits, y)
                                    : neg(mean(gather(log_softmax(logits, 1), 1, unsqueeze(y, 1))));
    loss.backward();
    opt.step();
    return loss;
  };
  step();
  cuda::synchronize();
  const int64_t before = cuda::detail::sync_count();
  Tensor loss = step();
  EXPECT_EQ(cuda::detail::sync_count() - before, 0) << "host synchronizations in one eager step";
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
}

TEST(CudaSyncFree, AnEagerMlpStepNeverWaitsForTheDevice) {
  REQUIRE_CUDA();
  expect_step_never_waits(false);
}

// Needs cross_entropy to check its targets with check_index_range (the fused cross-entropy's job).
TEST(CudaSyncFree, AnEagerMlpStepWithCrossEntropyNeverWaitsForTheDevice) {
  REQUIRE_CUDA();
  expect_step_never_waits(true);
}

}  // namespace
}  // namespace kiln::testing
