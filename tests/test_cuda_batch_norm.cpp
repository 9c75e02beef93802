// tests/test_cuda_batch_norm.cpp: the CUDA batch-norm kernels (kernels/cuda/batch_norm.cu) against the CPU
// kernels on the same inputs: outputs, updated running statistics and the gradients of x, weight and bias,
// in training and evaluation, f32 and f64, with and without affine parameters, for shapes that exercise
// short and long channel reductions, many channels (the grid-stride loop over channels) and an empty
// batch; second-order gradients; and the kernel table's supports() answer. Without a device every test
// prints "skipped: no CUDA device".
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <kiln/autograd/engine.h>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = values(got.to(Device::cpu())), w = values(want.to(Device::cpu()));
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
        << what << " element " << i << ": cuda " << g[i] << " vs cpu " << w[i];
}

struct Result {
  Tensor out, rm, rv, gx, gw, gb;
};

// One forward + backward on `device` from inputs drawn on the CPU (so both devices see the same values).
Result run(Device device, const Shape& shape, DType dtype, bool affine, bool training, uint64_t seed) {
  manual_seed(seed);
  const int64_t c = shape[1];
  Tensor x_cpu = (randn(shape) * 2.0 + 0.7).to(dtype), g_cpu = randn(shape).to(dtype);
  Tensor w_cpu = (rand({c}) + 0.5).to(dtype), b_cpu = randn({c}).to(dtype);
  Tensor rm_cpu = (randn({c}) * 0.1).to(dtype), rv_cpu = (rand({c}) + 0.5).to(dtype);
  Tensor x = x_cpu.to(device).requires_grad_();
  Tensor w = affine ? w_cpu.to(device).requires_grad_() : Tensor();
  Tensor b = affine ? b_cpu.to(device).requires_grad_() : Tensor();
  Result r;
  r.rm = rm_cpu.to(device), r.rv = rv_cpu.to(device);
  r.out = batch_norm(x, r.rm, r.rv, w, b, training, 0.1, 1e-5);
  if (x.numel() > 0) {
    r.out.backward(g_cpu.to(device));
    r.gx = x.grad();
    if (affine) r.gw = w.grad(), r.gb = b.grad();
  }
  return r;
}

void compare(const Shape& shape, DType dtype, bool affine, bool training) {
  const std::string what = shape_str(shape) + (dtype == DType::f32 ? " f32" : " f64") +
                           (affine ? " affine" : " plain") + (training ? " training" : " eval");
  // CUDA accumulates f32 in f32 (a tree per channel), the CPU in double.
  const double tol = dtype == DType::f32 ? 2e-4 : 1e-10;
  Result cpu = run(Device::cpu(), shape, dtype, affine, training, 17);
  Result gpu = run(Device::cuda(), shape, dtype, affine, training, 17);
  expect_close(gpu.out, cpu.out, tol, what + " out");
  expect_close(gpu.rm, cpu.rm, tol, what + " running_mean");
  expect_close(gpu.rv, cpu.rv, tol, what + " running_var");
  if (cpu.gx.defined()) expect_close(gpu.gx, cpu.gx, tol, what + " grad x");
  if (affine && cpu.gx.defined()) {
    // grad_weight / grad_bias sum over N H W values: scale the tolerance with the count.
    const double sum_tol = tol * std::sqrt(double(cpu.out.numel() / shape[1]));
    expect_close(gpu.gw, cpu.gw, sum_tol, what + " grad weight");
    expect_close(gpu.gb, cpu.gb, sum_tol, what + " grad bias");
  }
}

TEST(CudaBatchNorm, SupportsFloatingDtypes) {
  REQUIRE_CUDA();
  const Backend& be = backend(Device::cuda());
  EXPECT_TRUE(be.supports(BatchNormKernel::forward, DType::f32));
  EXPECT_TRUE(be.supports(BatchNormKernel::backward, DType::f64));
  EXPECT_FALSE(be.supports(BatchNormKernel::forward, DType::i64));
}

TEST(CudaBatchNorm, TrainingMatchesCpu) {
  REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    for (bool affine : {true, false}) {
      compare({16, 8}, dt, affine, true);           // BatchNorm1d: S = 1
      compare({4, 3, 50}, dt, affine, true);        // (N, C, L)
      compare({32, 16, 28, 28}, dt, affine, true);  // the demo CNN's layer: 25088 values per channel
      compare({2, 3, 1, 1}, dt, affine, true);      // two values per channel, fewer than the block's threads
    }
  }
  compare({3, 3000, 2}, DType::f32, true, true);  // more channels than one launch's grid needs
}

TEST(CudaBatchNorm, EvaluationMatchesCpu) {
  REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    compare({16, 8}, dt, true, false);
    compare({4, 6, 7, 5}, dt, false, false);
  }
  // An empty batch in evaluation: an empty output, no launch over zero elements.
  Result r = run(Device::cuda(), {0, 3, 4}, DType::f32, true, false, 1);
  EXPECT_EQ(r.out.shape(), (Shape{0, 3, 4}));
}

TEST(CudaBatchNorm, RunningStatisticsOverSeveralSteps) {
  REQUIRE_CUDA();
  Tensor rm_cpu = zeros({4}, {.dtype = DType::f64}), rv_cpu = ones({4}, {.dtype = DType::f64});
  Tensor rm_gpu = rm_cpu.to(Device::cuda()), rv_gpu = rv_cpu.to(Device::cuda());
  manual_seed(4);
  for (int step = 0; step < 5; ++step) {
    Tensor x = randn({6, 4, 3, 3}, {.dtype = DType::f64}) * (step + 1.0) + step;
    batch_norm(x, rm_cpu, rv_cpu, {}, {}, true, 0.2);
    batch_norm(x.to(Device::cuda()), rm_gpu, rv_gpu, {}, {}, true, 0.2);
  }
  expect_close(rm_gpu, rm_cpu, 1e-12, "running_mean after 5 steps");
  expect_close(rv_gpu, rv_cpu, 1e-12, "running_var after 5 steps");
}

// Second-order gradients run the backward op's formulas (ops) on CUDA: same values as on the CPU.
TEST(CudaBatchNorm, SecondOrderGradientsMatchCpu) {
  REQUIRE_CUDA();
  auto second = [](Device device) {
    manual_seed(21);
    Tensor x = (randn({5, 3, 4}, {.dtype = DType::f64}) + 0.3).to(device).requires_grad_();
    Tensor w = (rand({3}, {.dtype = DType::f64}) + 0.5).to(device).requires_grad_();
    Tensor c = randn({5, 3, 4}, {.dtype = DType::f64}).to(device);
    Tensor y = batch_norm(x, {}, {}, w, {}, true);
    auto g = autograd::grad({sum(y * c)}, {x, w}, {}, false, /*create_graph=*/true);
    Tensor z = sum(square(g[0])) + sum(g[1] * g[1]);
    return autograd::grad({z}, {x, w});
  };
  auto cpu = second(Device::cpu()), gpu = second(Device::cuda());
  expect_close(gpu[0], cpu[0], 1e-9, "second order x");
  expect_close(gpu[1], cpu[1], 1e-9, "second order weight");
}

}  // namespace
}  // namespace kiln::testing
