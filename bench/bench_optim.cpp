// kiln/bench/bench_optim.cpp: the time of one optimizer step over the parameters of a 784-512-256-10 MLP
// (535,818 f32 parameters in six tensors, nn::Linear's layout), the step the demo takes every batch.
// Gradients are fixed random tensors; nothing else runs inside the timed loop. Besides the time, GB/s
// counts the minimum memory traffic of the update (Adam: parameter, gradient, two moments read, three
// written = 28 bytes per f32 parameter). BM_adamw_composite is the same AdamW update written with
// whole-tensor kiln ops (one temporary per op, as a straightforward port of PyTorch's loop would be), the
// baseline the fused loop is measured against. Threads: KILN_BENCH_THREADS (default 2).
// BM_adam_step_10m is one Adam step over a single 10M-parameter tensor.
// Depends on kiln::kiln and Google Benchmark.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "kiln/kiln.h"

namespace {

int bench_threads() {
  const char* env = std::getenv("KILN_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 ? n : 2;
}

struct Mlp {
  Mlp() {
    kiln::manual_seed(1);
    const int64_t sizes[] = {784, 512, 256, 10};
    for (int l = 0; l < 3; ++l) {
      params.push_back((kiln::randn({sizes[l + 1], sizes[l]}) * 0.05).detach().requires_grad_());
      params.push_back(kiln::zeros({sizes[l + 1]}, {.requires_grad = true}));
    }
    for (Tensor& p : params) p.set_grad(kiln::randn(p.shape()) * 1e-2);
  }
  int64_t numel() const {
    int64_t n = 0;
    for (const Tensor& p : params) n += p.numel();
    return n;
  }
  using Tensor = kiln::Tensor;
  std::vector<Tensor> params;
};

void report(benchmark::State& state, int64_t bytes_per_step) {
  state.counters["GB/s"] =
      benchmark::Counter(double(bytes_per_step) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void run_step(benchmark::State& state,
              const std::function<std::unique_ptr<kiln::optim::Optimizer>(Mlp&)>& make,
              int64_t bytes_per_param) {
  kiln::set_num_threads(bench_threads());
  Mlp mlp;
  auto opt = make(mlp);
  opt->step();  // state allocation happens once, outside the timing
  for (auto _ : state) {
    opt->step();
    benchmark::ClobberMemory();
  }
  report(state, bytes_per_param * mlp.numel());
}

void BM_adam_step(benchmark::State& state) {
  run_step(
      state, [](Mlp& m) { return std::make_unique<kiln::optim::Adam>(m.params); }, 28);
}
void BM_adamw_step(benchmark::State& state) {
  run_step(
      state, [](Mlp& m) { return std::make_unique<kiln::optim::AdamW>(m.params); }, 28);
}
void BM_adamw_amsgrad_step(benchmark::State& state) {
  run_step(
      state,
      [](Mlp& m) {
        return std::make_unique<kiln::optim::AdamW>(m.params, kiln::optim::AdamWOptions{.amsgrad = true});
      },
      36);
}
void BM_sgd_momentum_step(benchmark::State& state) {
  run_step(
      state,
      [](Mlp& m) {
        return std::make_unique<kiln::optim::SGD>(m.params,
                                                  kiln::optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
      },
      20);
}

// Adam over 10M f32 parameters in one tensor (too big for the caches: the step is memory-bound, so it
// shows whether the update loop still vectorizes and streams).
void BM_adam_step_10m(benchmark::State& state) {
  kiln::set_num_threads(bench_threads());
  kiln::manual_seed(2);
  kiln::Tensor p = (kiln::randn({10'000'000}) * 0.05).detach().requires_grad_();
  p.set_grad(kiln::randn(p.shape()) * 1e-2);
  kiln::optim::Adam opt({p});
  opt.step();  // state allocation happens once, outside the timing
  for (auto _ : state) {
    opt.step();
    benchmark::ClobberMemory();
  }
  report(state, 28 * p.numel());
}

// AdamW with whole-tensor ops: the baseline.
void BM_adamw_composite(benchmark::State& state) {
  kiln::set_num_threads(bench_threads());
  Mlp mlp;
  std::vector<kiln::Tensor> m, v;
  for (const auto& p : mlp.params) m.push_back(kiln::zeros_like(p)), v.push_back(kiln::zeros_like(p));
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 1e-2;
  int64_t step = 0;
  for (auto _ : state) {
    kiln::NoGradGuard no_grad;
    ++step;
    const double bc1 = 1 - std::pow(b1, double(step)), bc2 = 1 - std::pow(b2, double(step));
    for (std::size_t i = 0; i < mlp.params.size(); ++i) {
      kiln::Tensor& p = mlp.params[i];
      kiln::Tensor g = p.grad();
      p.mul_(1 - lr * wd);
      m[i].mul_(b1).add_(g, 1 - b1);
      v[i].mul_(b2).add_(g * g, 1 - b2);
      kiln::Tensor denom = kiln::sqrt(v[i]) / std::sqrt(bc2) + eps;
      p.sub_(m[i] / denom, lr / bc1);
    }
    benchmark::ClobberMemory();
  }
  report(state, 28 * mlp.numel());
}

BENCHMARK(BM_adam_step)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adamw_step)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adamw_amsgrad_step)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sgd_momentum_step)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adam_step_10m)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adamw_composite)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
