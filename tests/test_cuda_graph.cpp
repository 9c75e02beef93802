// tests/test_cuda_graph.cpp: CUDA Graph capture (kernels/cuda/graph.h) and the DataLoader's pinned
// staging. Replays recompute from new static inputs; the private pool keeps captured memory away from
// eager tensors until the Graph dies; backward at capture assigns .grad, so replays never accumulate;
// TrainStepGraph trains exactly like the eager loop (against the CPU), BatchNorm buffers included; replays
// of a captured dropout draw the masks the eager steps would have; host reads and synchronization during
// capture fail with errors that say so, and leave the stream usable (tests/test_cuda_syncfree.cpp: index
// checks and a captured model with Dropout, Embedding and pooling). The errors that need no device run
// everywhere; the rest print "skipped: no CUDA device" without one.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got.to(Device::cpu())), w = values(want.to(Device::cpu()));
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
        << "element " << i << ": " << g[i] << " vs " << w[i];
}

Tensor cuda_tensor(std::vector<float> v, Shape s) { return from_vector(v, s).to(Device::cuda()); }

// ---- without a device too ----

TEST(CudaGraph, MisuseFailsWithAMessageEvenWithoutADevice) {
  cuda::Graph g;
  EXPECT_FALSE(g.is_captured());
  EXPECT_CONTAINS(error_of([&] { g.replay(); }), "Graph::replay");
  EXPECT_CONTAINS(error_of([&] { g.capture_end(); }), "Graph::capture_end");
  EXPECT_FALSE(cuda::is_current_stream_capturing(0));
  if (!cuda::is_available()) {
    EXPECT_CONTAINS(error_of([&] { g.capture([] {}); }), "Graph::capture");
    std::string e = error_of([] {
      cuda::TrainStepGraph step(
          {ones({2})}, {}, [] { return Tensor(); }, nullptr);
    });
    EXPECT_CONTAINS(e, "TrainStepGraph");
  }
}

TEST(CudaGraph, TrainStepGraphWantsStaticInputsOnTheDevice) {
#ifdef KILN_WITH_CUDA
  std::string e = error_of([] {
    cuda::TrainStepGraph step(
        {ones({2})}, {}, [] { return Tensor(); }, nullptr);
  });
  EXPECT_CONTAINS(e, "static input 0 must be a tensor on the first input's CUDA device");
  EXPECT_CONTAINS(error_of([] {
                    cuda::TrainStepGraph step(
                        {}, {}, [] { return Tensor(); }, nullptr);
                  }),
                  "no static inputs");
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

// ---- on a device ----

TEST(CudaGraph, ReplayRecomputesFromTheStaticInputs) {
  REQUIRE_CUDA();
  Tensor x = cuda_tensor({1, 2, 3, 4}, {2, 2}), w = cuda_tensor({0.5f, -1, 2, 0.25f}, {2, 2});
  Tensor b = cuda_tensor({1, -1}, {2});
  Tensor y;
  cuda::Graph g;
  g.capture([&] { y = relu(add(matmul(x, w), b)); });
  EXPECT_TRUE(g.is_captured());
  EXPECT_FALSE(cuda::is_current_stream_capturing(0));
  for (float scale : {1.0f, -2.0f, 3.5f}) {
    Tensor fresh = cuda_tensor({scale, 2 * scale, -scale, 0.5f * scale}, {2, 2});
    x.copy_(fresh);
    g.replay();
    expect_close(y, relu(add(matmul(fresh, w), b)), 1e-6);
  }
}

TEST(CudaGraph, BackwardAtCaptureAssignsGradsSoReplaysDoNotAccumulate) {
  REQUIRE_CUDA();
  Tensor w = cuda_tensor({0.5f, -1, 2}, {3}).requires_grad_(true);
  Tensor x = cuda_tensor({1, 2, 3}, {3});
  Tensor loss;
  cuda::Graph g;
  w.set_grad(Tensor());
  g.capture([&] {
    loss = sum(square(mul(w, x)));
    loss.backward();
  });
  Tensor grad = w.grad();
  ASSERT_TRUE(grad.defined());
  for (int replay = 0; replay < 3; ++replay) {
    g.replay();
    // d/dw sum((w x)^2) = 2 w x^2, once, however many replays ran.
    expect_close(grad, cuda_tensor({1, -8, 36}, {3}), 1e-6);
    EXPECT_NEAR(loss.item<float>(), 0.25 + 4 + 36, 1e-4);
  }
  EXPECT_EQ(w.grad().data_ptr(), grad.data_ptr());
}

TEST(CudaGraph, CapturedMemoryStaysPrivateUntilTheGraphDies) {
  REQUIRE_CUDA();
  const int64_t n = 12345;  // an unusual size class, so the cache's blocks of it are only ours
  void* temp = nullptr;
  Tensor x = full({n}, 2.0, {.device = Device::cuda()}), out;
  {
    cuda::Graph g;
    g.capture([&] {
      Tensor t = exp(x);  // a temporary freed during capture: the replay still writes it
      temp = t.data_ptr();
      out = add(t, x);
    });
    EXPECT_GT(g.pool_bytes(), 0);
    Tensor eager = empty({n}, {.device = Device::cuda()});
    EXPECT_NE(eager.data_ptr(), temp) << "an eager tensor got a block the graph's replay writes";
    eager.fill_(-1.0);
    g.replay();
    expect_close(out, full({n}, std::exp(2.0) + 2.0), 1e-5);
    expect_close(eager, full({n}, -1.0), 0);
  }
  // The graph is gone: its free blocks are the shared cache's again.
  Tensor later = empty({n}, {.device = Device::cuda()});
  EXPECT_EQ(later.data_ptr(), temp);
}

TEST(CudaGraph, HostReadsAndSynchronizationDuringCaptureFailAndSaySo) {
  REQUIRE_CUDA();
  Tensor x = cuda_tensor({1, 2, 3}, {3});
  cuda::Graph g;
  std::string e = error_of([&] { g.capture([&] { (void)sum(x).item<float>(); }); });
  EXPECT_CONTAINS(e, "item()");
  EXPECT_CONTAINS(e, "during CUDA Graph capture");
  EXPECT_CONTAINS(e, "cudaErrorStreamCaptureUnsupported");
  EXPECT_FALSE(g.is_captured());
  EXPECT_FALSE(cuda::is_current_stream_capturing(0));
  e = error_of([&] { g.capture([&] { cuda::synchronize(); }); });
  EXPECT_CONTAINS(e, "cuda::synchronize: a host synchronization");
  e = error_of([&] { g.capture([&] { (void)ones({3}).to(Device::cuda()); }); });
  EXPECT_CONTAINS(e, "host-to-device copy");
  // The stream works eagerly afterwards, and the same Graph can still capture.
  EXPECT_NEAR(sum(x).item<float>(), 6.0, 1e-6);
  Tensor y;
  g.capture([&] { y = mul(x, x); });
  g.replay();
  expect_close(y, cuda_tensor({1, 4, 9}, {3}), 0);
  EXPECT_CONTAINS(error_of([&] { g.capture([] {}); }), "already holds a capture");
}

// Replay k of a captured dropout draws the mask eager step k would have drawn from the same seed.
TEST(CudaGraph, CapturedDropoutReplaysDrawTheEagerMasks) {
  REQUIRE_CUDA();
  Tensor x = ones({1000}, {.device = Device::cuda()});
  manual_seed(21);
  std::vector<std::vector<double>> eager;
  for (int i = 0; i < 3; ++i) eager.push_back(values(dropout(x, 0.5, true)));
  const uint64_t eager_offset = default_generator().offset();

  manual_seed(21);
  Tensor y;
  cuda::Graph graph;
  graph.capture([&] { y = dropout(x, 0.5, true); });
  EXPECT_EQ(default_generator().offset(), 0u) << "capture ran nothing, so it draws nothing";
  for (int i = 0; i < 3; ++i) {
    graph.replay();
    EXPECT_EQ(values(y), eager[i]) << "replay " << i;
  }
  EXPECT_NE(eager[0], eager[1]);
  EXPECT_EQ(default_generator().offset(), eager_offset);
  // Reseeding between replays takes effect as it would eagerly.
  manual_seed(21);
  graph.replay();
  EXPECT_EQ(values(y), eager[0]);
  // Reseeding during capture is refused.
  cuda::Graph other;
  EXPECT_CONTAINS(error_of([&] {
                    other.capture([&] {
                      manual_seed(3);
                      (void)dropout(x, 0.5, true);
                    });
                  }),
                  "reseeded");
}

TEST(CudaGraph, CapturesDoNotNest) {
  REQUIRE_CUDA();
  cuda::Graph outer, inner;
  std::string e = error_of([&] { outer.capture([&] { inner.capture([] {}); }); });
  EXPECT_CONTAINS(e, "already capturing");
  EXPECT_FALSE(outer.is_captured());
}

// y = x w^T + b with MSE against t, plain SGD: the graphed loop against the eager loop on the CPU.
TEST(CudaGraph, TrainStepGraphTrainsLikeTheEagerLoop) {
  REQUIRE_CUDA();
  manual_seed(7);
  Tensor w_cpu = randn({3, 5}), b_cpu = randn({3});
  std::vector<Tensor> xs, ts;
  for (int i = 0; i < 4; ++i) xs.push_back(randn({8, 5})), ts.push_back(randn({8, 3}));
  const double lr = 0.1;
  auto sgd = [&](const std::vector<Tensor>& params) {
    NoGradGuard no_grad;
    for (const Tensor& p : params) Tensor(p).sub_(p.grad(), lr);
  };
  auto loss_of = [](const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& t) {
    return nn::functional::mse_loss(add(matmul(x, transpose(w, 0, 1)), b), t);
  };

  std::vector<Tensor> ref = {w_cpu.clone().requires_grad_(true), b_cpu.clone().requires_grad_(true)};
  std::vector<Tensor> dev = {w_cpu.to(Device::cuda()).requires_grad_(true),
                             b_cpu.to(Device::cuda()).requires_grad_(true)};
  Tensor x = empty({8, 5}, {.device = Device::cuda()}), t = empty({8, 3}, {.device = Device::cuda()});
  cuda::TrainStepGraph step(
      {x, t}, dev,
      [&] {
        Tensor loss = loss_of(x, dev[0], dev[1], t);
        loss.backward();
        return loss;
      },
      [&] { sgd(dev); }, {.warmup_steps = 2});
  for (int i = 0; i < 10; ++i) {
    for (const Tensor& p : ref) p.set_grad(Tensor());
    Tensor want = loss_of(xs[i % 4], ref[0], ref[1], ts[i % 4]);
    want.backward();
    sgd(ref);
    Tensor got = step.run({xs[i % 4], ts[i % 4]});
    EXPECT_EQ(step.captured(), i >= 2) << "step " << i;
    EXPECT_NEAR(got.item<float>(), want.item<float>(), 1e-4) << "step " << i;
  }
  expect_close(dev[0], ref[0], 1e-4);
  expect_close(dev[1], ref[1], 1e-4);

  dev[0].set_grad(Tensor());  // what zero_grad() would do
  EXPECT_CONTAINS(error_of([&] { step.run({xs[0], ts[0]}); }), "do not call zero_grad()");
  EXPECT_CONTAINS(error_of([&] { step.run({xs[0]}); }), "1 tensors for 2 static inputs");
  EXPECT_CONTAINS(error_of([&] { step.run({xs[0], randn({4, 3})}); }), "needs drop_last");
}

// BatchNorm updates its running statistics in place (and counts batches), so replays keep updating the
// module's own buffers: after the same batches, graphed and eager (CPU) modules agree on buffers and grads.
TEST(CudaGraph, ReplaysUpdateBatchNormBuffersInPlace) {
  REQUIRE_CUDA();
  auto build = [] {
    manual_seed(11);
    return nn::Sequential(nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU());
  };
  nn::Sequential eager = build(), graphed = build();
  graphed.to(Device::cuda());
  std::vector<Tensor> xs;
  for (int i = 0; i < 3; ++i) xs.push_back(randn({6, 4}));
  Tensor x = empty({6, 4}, {.device = Device::cuda()});
  cuda::TrainStepGraph step({x}, graphed.parameters(),
                            [&] {
                              Tensor loss = sum(square(graphed(x)));
                              loss.backward();
                              return loss;
                            },
                            nullptr, {.warmup_steps = 1});
  for (int i = 0; i < 6; ++i) {
    for (const Tensor& p : eager.parameters()) p.set_grad(Tensor());
    sum(square(eager(xs[i % 3]))).backward();
    step.run({xs[i % 3]});
  }
  EXPECT_TRUE(step.captured());
  auto want = eager.named_buffers(), got = graphed.named_buffers();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    expect_close(got[i].second, want[i].second, 1e-5);
  }
  auto pw = eager.parameters(), pg = graphed.parameters();
  for (size_t i = 0; i < pw.size(); ++i) expect_close(pg[i].grad(), pw[i].grad(), 1e-4);
}

TEST(CudaGraph, PinnedDataLoaderBatchesMatchAndCopyToTheDevice) {
  REQUIRE_CUDA();
  Tensor xs = arange(0, 40).to(DType::f32).reshape({20, 2});
  Tensor ys = arange(0, 20);
  data::DataLoader plain(data::TensorDataset(xs, ys), {.batch_size = 8, .shuffle = true, .seed = 1});
  data::DataLoader pinned(
      data::TensorDataset(xs, ys),
      {.batch_size = 8, .shuffle = true, .seed = 1, .num_workers = 2, .pin_memory = true});
  std::vector<Tensor> want;
  for (auto& b : plain) want.push_back(b.x);
  size_t i = 0;
  for (auto& b : pinned) {
    ASSERT_LT(i, want.size());
    EXPECT_TRUE(cuda::is_pinned(b.x));
    EXPECT_TRUE(cuda::is_pinned(b.y));
    expect_close(b.x.to(Device::cuda()), want[i++], 0);
  }
  EXPECT_EQ(i, want.size());
}

}  // namespace
}  // namespace kiln::testing
