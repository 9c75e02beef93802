// tests/test_cuda_optim.cpp: optimizers, gradient clipping and GradScaler on CUDA parameters, each checked
// against the CPU on the same inputs: every optimizer's trajectory over 20 steps of random gradients (f32
// and f64, parameters of several sizes including one spanning several multi-tensor chunks, an empty one
// and one without a gradient), state dicts moved between devices, the scaler's skip / backoff and its
// exactness, and clipping. Without a device every test prints "skipped: no CUDA device".
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace {

using kiln::Device;
using kiln::DType;
using kiln::Tensor;
using kiln::testing::error_of;
namespace optim = kiln::optim;

#define REQUIRE_CUDA() \
  if (!kiln::has_backend(kiln::DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

template <class Opt, class Options>
MakeOptimizer make(Options options) {
  return [options](const std::vector<Tensor>& p) { return std::make_unique<Opt>(p, options); };
}

// Every optimizer, with each of its update paths switched on in some configuration.
std::vector<std::pair<std::string, MakeOptimizer>> configurations() {
  using namespace optim;
  return {
      {"SGD plain", make<SGD>(SGDOptions{.lr = 0.05})},
      {"SGD momentum dampening", make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.3})},
      {"SGD nesterov wd maximize",
       make<SGD>(SGDOptions{
           .lr = 0.05, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true, .maximize = true})},
      {"Adam", make<Adam>(AdamOptions{.lr = 1e-2})},
      {"Adam wd amsgrad", make<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true})},
      {"Adam maximize", make<Adam>(AdamOptions{.lr = 1e-2, .maximize = true})},
      {"AdamW", make<AdamW>(AdamWOptions{.lr = 1e-2})},
      {"AdamW amsgrad maximize", make<AdamW>(AdamWOptions{.lr = 1e-2, .amsgrad = true, .maximize = true})},
      {"RMSprop", make<RMSprop>(RMSpropOptions{.lr = 1e-2})},
      {"RMSprop centered momentum wd",
       make<RMSprop>(RMSpropOptions{.lr = 1e-2, .weight_decay = 1e-2, .momentum = 0.5, .centered = true})},
      {"Adagrad",
       make<Adagrad>(AdagradOptions{.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.1})},
      {"Adagrad wd maximize",
       make<Adagrad>(AdagradOptions{.lr = 0.1, .weight_decay = 1e-2, .maximize = true})},
      {"NAdam", make<NAdam>(NAdamOptions{.lr = 1e-2})},
      {"NAdam wd", make<NAdam>(NAdamOptions{.lr = 1e-2, .weight_decay = 1e-2})},
      {"Adamax wd maximize", make<Adamax>(AdamaxOptions{.lr = 1e-2, .weight_decay = 1e-2, .maximize = true})},
      {"RAdam", make<RAdam>(RAdamOptions{.lr = 1e-2})},
      {"RAdam wd", make<RAdam>(RAdamOptions{.lr = 1e-2, .weight_decay = 1e-2})},
  };
}

// Shapes: small ones, an empty one, and one of 70000 elements (two multi-tensor chunks of 65536).
const std::vector<kiln::Shape> kShapes = {{7, 5}, {5}, {0}, {70000}, {3, 4, 2}};

std::vector<Tensor> make_params(DType dtype, Device device) {
  kiln::manual_seed(11);
  std::vector<Tensor> params;
  for (const auto& shape : kShapes)
    params.push_back(kiln::randn(shape, {.dtype = dtype}).to(device).detach().requires_grad_());
  return params;
}

// Step s's gradients, the same on both devices; parameter 1 gets none on odd steps (skipped).
void set_grads(const std::vector<Tensor>& params, int s) {
  kiln::manual_seed(100 + s);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i == 1 && s % 2 == 1) {
      params[i].set_grad(Tensor());
      continue;
    }
    params[i].set_grad(kiln::randn(params[i].shape(), {.dtype = params[i].dtype()}).to(params[i].device()));
  }
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  auto g = got.to(Device::cpu()).to_vector<double>(), w = want.to(Device::cpu()).to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      ASSERT_TRUE(std::isnan(g[i])) << what << " element " << i;
    } else {
      ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
          << what << " element " << i << ": " << g[i] << " (CUDA) vs " << w[i] << " (CPU)";
    }
  }
}

// The optimizers' state dicts: the same names, buffers close (on any device), counts equal.
void expect_same_state(const kiln::StateDict& got, const kiln::StateDict& want, double tol,
                       const std::string& what) {
  ASSERT_EQ(got.keys(), want.keys()) << what;
  for (const auto& [key, value] : want) expect_close(got.at(key), value, tol, what + " " + key);
}

// A state buffer (not a step count or a group's parameter list).
bool is_buffer(const std::string& key, const Tensor& value) {
  return key.rfind("state.", 0) == 0 && value.dim() > 0;
}

double tolerance(DType dtype) { return dtype == DType::f32 ? 2e-5 : 1e-12; }

TEST(CudaOptim, EveryOptimizerFollowsTheCpuTrajectory) {
  REQUIRE_CUDA();
  for (DType dtype : {DType::f32, DType::f64})
    for (const auto& [name, make_opt] : configurations()) {
      const std::string what = name + (dtype == DType::f32 ? " f32" : " f64");
      auto cpu = make_params(dtype, Device::cpu()), gpu = make_params(dtype, Device::cuda());
      auto opt_cpu = make_opt(cpu), opt_gpu = make_opt(gpu);
      for (int s = 0; s < 20; ++s) {
        set_grads(cpu, s);
        set_grads(gpu, s);
        opt_cpu->step();
        opt_gpu->step();
      }
      for (std::size_t i = 0; i < cpu.size(); ++i) {
        EXPECT_TRUE(gpu[i].device().is_cuda()) << what;
        expect_close(gpu[i], cpu[i], tolerance(dtype), what + " param " + std::to_string(i));
      }
      kiln::StateDict state = opt_gpu->state_dict();
      for (const auto& [key, value] : state)  // buffers live on the parameter's device, counts on the host
        EXPECT_TRUE(!is_buffer(key, value) || value.device().is_cuda()) << what << " " << key;
      expect_same_state(state, opt_cpu->state_dict(), tolerance(dtype), what);
    }
}

TEST(CudaOptim, GroupsMixingDtypesAndDevices) {
  REQUIRE_CUDA();
  auto cpu = [] {
    kiln::manual_seed(3);
    return std::vector<Tensor>{kiln::randn({4, 3}).requires_grad_(),
                               kiln::randn({6}, {.dtype = DType::f64}).requires_grad_(),
                               kiln::randn({5}).requires_grad_()};
  }();
  std::vector<Tensor> mixed;  // f32 on CUDA, f64 on CUDA, f32 on the CPU: three kernel calls in one group
  for (std::size_t i = 0; i < cpu.size(); ++i)
    mixed.push_back(cpu[i].detach().clone().to(i < 2 ? Device::cuda() : Device::cpu()).requires_grad_());
  for (std::size_t i = 0; i < cpu.size(); ++i) cpu[i] = cpu[i].detach().clone().requires_grad_();
  optim::Adam a(cpu, {.lr = 0.01, .amsgrad = true}), b(mixed, {.lr = 0.01, .amsgrad = true});
  for (int s = 0; s < 5; ++s) {
    set_grads(cpu, 2 * s);
    set_grads(mixed, 2 * s);
    a.step();
    b.step();
  }
  for (std::size_t i = 0; i < cpu.size(); ++i)
    expect_close(mixed[i], cpu[i], tolerance(cpu[i].dtype()), "param " + std::to_string(i));
}

TEST(CudaOptim, StateDictMovesBetweenDevices) {
  REQUIRE_CUDA();
  for (const auto& [name, make_opt] : configurations()) {
    // Five steps on CUDA, then the state goes to a CPU optimizer over CPU copies of the parameters (and
    // the CPU optimizer's back to CUDA): both continue five more steps along the same trajectory.
    auto gpu = make_params(DType::f64, Device::cuda());
    auto opt_gpu = make_opt(gpu);
    for (int s = 0; s < 5; ++s) {
      set_grads(gpu, s);
      opt_gpu->step();
    }
    std::vector<Tensor> cpu;
    for (const Tensor& p : gpu) cpu.push_back(p.detach().to(Device::cpu()).requires_grad_());
    auto opt_cpu = make_opt(cpu);
    opt_cpu->load_state_dict(opt_gpu->state_dict());
    for (const auto& [key, value] : opt_cpu->state_dict())
      EXPECT_TRUE(value.device().is_cpu()) << name << " " << key;
    auto gpu2 = make_params(DType::f64, Device::cuda());
    for (std::size_t i = 0; i < gpu.size(); ++i) gpu2[i].detach().copy_(gpu[i].detach());
    auto opt_gpu2 = make_opt(gpu2);
    opt_gpu2->load_state_dict(opt_cpu->state_dict());  // CPU-saved state onto CUDA parameters
    for (const auto& [key, value] : opt_gpu2->state_dict())
      EXPECT_TRUE(!is_buffer(key, value) || value.device().is_cuda()) << name << " " << key;
    for (int s = 5; s < 10; ++s) {
      set_grads(gpu, s);
      set_grads(cpu, s);
      set_grads(gpu2, s);
      opt_gpu->step();
      opt_cpu->step();
      opt_gpu2->step();
    }
    for (std::size_t i = 0; i < gpu.size(); ++i) {
      expect_close(gpu[i], cpu[i], 1e-12, name + " CUDA -> CPU param " + std::to_string(i));
      expect_close(gpu2[i], gpu[i], 0.0, name + " CPU -> CUDA param " + std::to_string(i));
    }
  }
}

// ---- clipping ----

std::vector<Tensor> clip_params(Device device) {
  kiln::manual_seed(5);
  std::vector<Tensor> params;
  for (const auto& shape : kShapes) {
    Tensor p = kiln::zeros(shape).to(device).requires_grad_();
    p.set_grad((kiln::randn(shape) * 3.0).to(device));
    params.push_back(p);
  }
  return params;
}

TEST(CudaOptim, ClipGradNormMatchesTheCpu) {
  REQUIRE_CUDA();
  for (double p : std::vector<double>{2.0, 1.0, 3.0, 0.0, INFINITY, -INFINITY}) {
    auto cpu = clip_params(Device::cpu()), gpu = clip_params(Device::cuda());
    const double want = optim::clip_grad_norm_(cpu, 1.5, p);
    Tensor got = optim::clip_grad_norm_tensor_(gpu, 1.5, p);
    EXPECT_TRUE(got.device().is_cuda());
    EXPECT_EQ(got.dim(), 0);
    EXPECT_NEAR(got.item<double>(), want, 1e-9 * (1 + std::abs(want))) << "norm_type " << p;
    for (std::size_t i = 0; i < cpu.size(); ++i)
      expect_close(gpu[i].grad(), cpu[i].grad(), 1e-6, "norm_type " + std::to_string(p));
  }
  auto cpu = clip_params(Device::cpu()), gpu = clip_params(Device::cuda());
  EXPECT_NEAR(optim::clip_grad_norm_(gpu, 0.5), optim::clip_grad_norm_(cpu, 0.5), 1e-9);
}

TEST(CudaOptim, ClipGradValueMatchesTheCpu) {
  REQUIRE_CUDA();
  auto cpu = clip_params(Device::cpu()), gpu = clip_params(Device::cuda());
  optim::clip_grad_value_(cpu, 0.7);
  optim::clip_grad_value_(gpu, 0.7);
  for (std::size_t i = 0; i < cpu.size(); ++i) expect_close(gpu[i].grad(), cpu[i].grad(), 0.0, "clip value");
}

TEST(CudaOptim, ClippingGradientsOnTwoDevicesIsAnError) {
  REQUIRE_CUDA();
  Tensor a = kiln::zeros({2}).requires_grad_(), b = kiln::zeros({2}).to(Device::cuda()).requires_grad_();
  a.set_grad(kiln::ones({2}));
  b.set_grad(kiln::ones({2}).to(Device::cuda()));
  EXPECT_CONTAINS(
      error_of([&] {
        optim::clip_grad_norm_({a, b}, 1.0);
      }),
      "clip_grad_norm_: gradients live on different devices: parameter 0 on cpu, parameter 1 on cuda:0");
  EXPECT_CONTAINS(error_of([&] {
                    optim::clip_grad_value_({a, b}, 1.0);
                  }),
                  "clip_grad_value_: gradients live on different devices");
}

// ---- GradScaler ----

TEST(CudaOptim, GradScalerSkipsAnInfStepAndBacksOff) {
  REQUIRE_CUDA();
  Tensor p = kiln::ones({3}).to(Device::cuda()).requires_grad_();
  optim::SGD opt({p}, {.lr = 0.1});
  optim::GradScaler scaler;
  scaler.scale((p * p).sum()).backward();
  p.set_grad(kiln::from_vector<float>({1.0f, INFINITY, 2.0f}).to(Device::cuda()));
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 32768.0);
  EXPECT_EQ(p.to(Device::cpu()).to_vector<double>(), (std::vector<double>{1, 1, 1}));
  opt.zero_grad();
  scaler.scale((p * p).sum()).backward();  // d/dp = 2p = 2, scaled by 2^15
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  expect_close(p, kiln::full({3}, 0.8), 1e-6, "after the clean step");
}

TEST(CudaOptim, GradScalerUnscaleMatchesTheCpu) {
  REQUIRE_CUDA();
  for (DType dtype : {DType::f32, DType::f64}) {
    kiln::manual_seed(9);
    std::vector<Tensor> cpu, gpu;
    for (const auto& shape : kShapes) {
      Tensor g = kiln::randn(shape, {.dtype = dtype}) * 65536.0;
      cpu.push_back(kiln::zeros(shape, {.dtype = dtype}).requires_grad_());
      cpu.back().set_grad(g);
      gpu.push_back(kiln::zeros(shape, {.dtype = dtype}).to(Device::cuda()).requires_grad_());
      gpu.back().set_grad(g.to(Device::cuda()));
    }
    optim::SGD a(cpu, {.lr = 0.1}), b(gpu, {.lr = 0.1});
    optim::GradScaler sa, sb;
    sa.unscale_(a);
    sb.unscale_(b);
    for (std::size_t i = 0; i < cpu.size(); ++i)
      expect_close(gpu[i].grad(), cpu[i].grad(), 0.0, "unscaled grad");
    EXPECT_TRUE(sb.step(b));
    sb.update();
    EXPECT_EQ(sb.get_scale(), 65536.0);
  }
}

TEST(CudaOptim, ScaledTrainingEqualsUnscaledTraining) {
  REQUIRE_CUDA();
  // With a power-of-two scale and no overflow, scaling and unscaling are exact: the same parameters.
  kiln::manual_seed(21);
  Tensor x = kiln::randn({16, 8}).to(Device::cuda());
  Tensor w0 = kiln::randn({4, 8}), b0 = kiln::randn({4});
  auto run = [&](bool scaled) {
    Tensor w = w0.to(Device::cuda()).requires_grad_(), b = b0.to(Device::cuda()).requires_grad_();
    optim::Adam opt({w, b}, {.lr = 1e-2});
    optim::GradScaler scaler({.enabled = scaled});
    for (int s = 0; s < 10; ++s) {
      opt.zero_grad();
      Tensor loss = kiln::tanh(kiln::linear(x, w, b)).square().mean();
      scaler.scale(loss).backward();
      scaler.step(opt);
      scaler.update();
    }
    return std::vector<Tensor>{w, b};
  };
  auto a = run(true), b = run(false);
  for (std::size_t i = 0; i < a.size(); ++i) expect_close(a[i], b[i], 0.0, "param " + std::to_string(i));
}

}  // namespace
