// tests/test_cuda_fused.cpp: the CUDA fused kernels (kernels/cuda/fused.cu) against the CPU kernels on
// the same inputs: softmax / log_softmax in both layouts and at long rows, softmax_cross_entropy values
// and logit gradients (weights, ignore_index, label smoothing, spatial targets), bias_act for every
// activation with both gradients, and a fused Linear + activation Sequential's training gradients.
// Without a device every test prints "skipped: no CUDA device".
#include <gtest/gtest.h>

#include <cmath>

#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got.to(Device::cpu())), w = values(want.to(Device::cpu()));
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << "element " << i;
    } else {
      ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
          << "element " << i << ": " << g[i] << " (CUDA) vs " << w[i] << " (CPU)";
    }
  }
}

double tol_of(DType dt) { return dt == DType::f32 ? 2e-5 : 1e-12; }

// f(inputs) on the CPU and on CUDA: the values and the gradients of every floating input agree.
void expect_cuda_matches_cpu(const std::vector<Tensor>& cpu_inputs,
                             const std::function<Tensor(const std::vector<Tensor>&)>& f, double tol) {
  std::vector<Tensor> cpu, gpu, diff_cpu, diff_gpu;
  for (const Tensor& t : cpu_inputs) {
    Tensor c = t.detach().clone(), g = t.detach().to(Device::cuda());
    if (is_floating(t.dtype())) {
      c.requires_grad_();
      g.requires_grad_();
      diff_cpu.push_back(c);
      diff_gpu.push_back(g);
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  Tensor y_cpu = f(cpu), y_gpu = f(gpu);
  ASSERT_TRUE(y_gpu.device().is_cuda());
  expect_close(y_gpu, y_cpu, tol);
  Tensor seed = rand(y_cpu.shape(), {.dtype = y_cpu.dtype()}) + 0.5;
  auto g_cpu = autograd::grad({y_cpu}, diff_cpu, {seed});
  auto g_gpu = autograd::grad({y_gpu}, diff_gpu, {seed.to(Device::cuda())});
  for (size_t i = 0; i < g_cpu.size(); ++i) {
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    expect_close(g_gpu[i], g_cpu[i], tol);
  }
}

Tensor labels(std::vector<double> v, Shape s) { return from_vector(v, s, DType::i64); }

TEST(CudaFused, SoftmaxMatchesCpu) {
  REQUIRE_CUDA();
  manual_seed(1);
  for (DType dt : {DType::f32, DType::f64}) {
    for (Shape s : {Shape{7, 10}, Shape{3, 5000}, Shape{2, 6, 9}, Shape{1, 1}, Shape{300, 33}}) {
      Tensor x = (randn(s) * 4.0).to(dt);
      SCOPED_TRACE(shape_str(s));
      expect_cuda_matches_cpu(
          {x}, [](const auto& v) { return softmax(v[0], -1); }, tol_of(dt));
      expect_cuda_matches_cpu(
          {x}, [](const auto& v) { return log_softmax(v[0], -1); }, tol_of(dt));
      expect_cuda_matches_cpu(
          {x}, [](const auto& v) { return softmax(v[0], 0); }, tol_of(dt));  // I > 1
    }
  }
}

TEST(CudaFused, CrossEntropyMatchesCpu) {
  REQUIRE_CUDA();
  manual_seed(2);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = (randn({6, 5}) * 3.0).to(dt);
    Tensor t = labels({0, 4, 3, -100, 1, 4}, {6});
    Tensor w = (rand({5}) + 0.5).to(dt).to(Device::cuda());
    Tensor w_cpu = w.to(Device::cpu());
    expect_cuda_matches_cpu(
        {x}, [&](const auto& v) { return softmax_cross_entropy(v[0], t.to(v[0].device())); }, tol_of(dt));
    expect_cuda_matches_cpu(
        {x},
        [&](const auto& v) {
          const Tensor& ww = v[0].device().is_cuda() ? w : w_cpu;
          return softmax_cross_entropy(v[0], t.to(v[0].device()), ww, -100, 0.2);
        },
        tol_of(dt));
    Tensor xs = randn({2, 4, 3, 2}).to(dt);  // (N, K, d1, d2)
    Tensor ts = labels({0, 1, 2, 3, 3, 2, 1, 0, 2, -100, 1, 1}, {2, 3, 2});
    expect_cuda_matches_cpu(
        {xs}, [&](const auto& v) { return softmax_cross_entropy(v[0], ts.to(v[0].device()), {}, -100, 0.1); },
        tol_of(dt));
    // Wide rows (more classes than a warp has lanes, several times over).
    Tensor xl = (randn({64, 1000}) * 5.0).to(dt);
    Tensor tl = randint(0, 1000, {64});
    expect_cuda_matches_cpu(
        {xl}, [&](const auto& v) { return softmax_cross_entropy(v[0], tl.to(v[0].device())); }, tol_of(dt));
  }
}

TEST(CudaFused, CrossEntropyLossThroughNnMatchesCpu) {
  REQUIRE_CUDA();
  manual_seed(3);
  Tensor x = randn({8, 10});
  Tensor t = labels({0, 9, 3, 3, 5, 1, 1, 2}, {8});
  expect_cuda_matches_cpu(
      {x},
      [&](const auto& v) {
        return nn::functional::cross_entropy(v[0], t.to(v[0].device()), {.label_smoothing = 0.1});
      },
      2e-5);
}

TEST(CudaFused, BiasActMatchesCpu) {
  REQUIRE_CUDA();
  manual_seed(4);
  for (DType dt : {DType::f32, DType::f64}) {
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu, Activation::silu,
                           Activation::sigmoid, Activation::tanh, Activation::leaky_relu}) {
      SCOPED_TRACE(activation_name(act));
      Tensor x = (randn({33, 70}) * 2.0).to(dt), b = randn({70}).to(dt);
      expect_cuda_matches_cpu(
          {x, b}, [act](const auto& v) { return bias_act(v[0], v[1], act, 0.2); }, tol_of(dt));
    }
  }
}

TEST(CudaFused, FusedSequentialTrainsLikeCpu) {
  REQUIRE_CUDA();
  manual_seed(5);
  nn::Sequential cpu_model{nn::Linear(12, 16), nn::GELU(), nn::Linear(16, 4)};
  nn::Sequential gpu_model{nn::Linear(12, 16), nn::GELU(), nn::Linear(16, 4)};
  gpu_model.load_state_dict(cpu_model.state_dict());
  gpu_model.to(Device::cuda());
  Tensor x = randn({9, 12});
  Tensor t = randint(0, 4, {9});
  Tensor loss_cpu = nn::functional::cross_entropy(cpu_model(x), t);
  Tensor loss_gpu = nn::functional::cross_entropy(gpu_model(x.to(Device::cuda())), t.to(Device::cuda()));
  expect_close(loss_gpu, loss_cpu, 2e-5);
  loss_cpu.backward();
  loss_gpu.backward();
  auto pc = cpu_model.parameters(), pg = gpu_model.parameters();
  for (size_t i = 0; i < pc.size(); ++i) expect_close(pg[i].grad(), pc[i].grad(), 1e-4);
}

}  // namespace
}  // namespace kiln::testing
