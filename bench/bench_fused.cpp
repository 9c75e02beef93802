// kiln/bench/bench_fused.cpp: the fused kernels against the composites they replace, forward + backward.
// BM_ce_fused is nn::functional::cross_entropy (the fused softmax_cross_entropy op); BM_ce_composite is the
// pre-fusion formula (x - logsumexp(x), gather, mean), at the demo's (128, 10) and at (1024, 1000);
// BM_ce_fused_ops_backward keeps the fused forward but takes the backward written with ops. log_softmax
// forward + backward: the primitive op against the composite it replaced.
// BM_linear_relu_fused / _unfused time linear + ReLU with bias and activation in one pass or as
// add then relu, at the MLP's first layer (128 x 784 -> 512). BM_linear_relu_gemm_bias folds the bias
// into the GEMM instead (C = broadcast bias, beta = 1, through the raw kernel table) then applies relu:
// the alternative the fused op was measured against. Threads: KILN_BENCH_THREADS (default 2).
// Depends on kiln::kiln and Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "kiln/kiln.h"

namespace {

using kiln::Tensor;

int bench_threads() {
  const char* env = std::getenv("KILN_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 ? n : 2;
}

struct CeInputs {
  CeInputs(int64_t n, int64_t k) {
    kiln::manual_seed(1);
    kiln::set_num_threads(bench_threads());
    logits = (kiln::randn({n, k}) * 2.0).requires_grad_();
    target = kiln::randint(0, k, {n});
  }
  Tensor logits, target;
};

void BM_ce_fused(benchmark::State& state) {
  CeInputs in(state.range(0), state.range(1));
  for (auto _ : state) {
    Tensor loss = kiln::nn::functional::cross_entropy(in.logits, in.target);
    loss.backward();
    benchmark::DoNotOptimize(in.logits.grad().data_ptr());
    in.logits.set_grad(Tensor());
  }
}

void BM_ce_composite(benchmark::State& state) {
  CeInputs in(state.range(0), state.range(1));
  for (auto _ : state) {
    Tensor logp = in.logits - kiln::logsumexp(in.logits, {1}, /*keepdim=*/true);
    Tensor loss = kiln::neg(kiln::mean(kiln::gather(logp, 1, kiln::unsqueeze(in.target, 1))));
    loss.backward();
    benchmark::DoNotOptimize(in.logits.grad().data_ptr());
    in.logits.set_grad(Tensor());
  }
}

// The fused forward with its backward written with ops (the path a recorded backward takes): the
// alternative to the one-kernel backward.
void BM_ce_fused_ops_backward(benchmark::State& state) {
  CeInputs in(state.range(0), state.range(1));
  for (auto _ : state) {
    Tensor loss = kiln::nn::functional::cross_entropy(in.logits, in.target);
    Tensor g = kiln::autograd::grad({loss}, {in.logits}, {}, false, /*create_graph=*/true)[0];
    benchmark::DoNotOptimize(g.data_ptr());
  }
}

// log_softmax forward + backward: the primitive op against the composite x - logsumexp(x).
void BM_log_softmax_primitive(benchmark::State& state) {
  CeInputs in(state.range(0), state.range(1));
  for (auto _ : state) {
    Tensor g = kiln::autograd::grad({kiln::sum(kiln::log_softmax(in.logits, 1) * 0.5)}, {in.logits})[0];
    benchmark::DoNotOptimize(g.data_ptr());
  }
}

void BM_log_softmax_composite(benchmark::State& state) {
  CeInputs in(state.range(0), state.range(1));
  for (auto _ : state) {
    Tensor logp = in.logits - kiln::logsumexp(in.logits, {1}, /*keepdim=*/true);
    Tensor g = kiln::autograd::grad({kiln::sum(logp * 0.5)}, {in.logits})[0];
    benchmark::DoNotOptimize(g.data_ptr());
  }
}

struct LinearInputs {
  LinearInputs() {
    kiln::manual_seed(2);
    kiln::set_num_threads(bench_threads());
    x = kiln::randn({128, 784});
    w = (kiln::randn({512, 784}) * 0.05).requires_grad_();
    b = (kiln::randn({512}) * 0.1).requires_grad_();
  }
  void clear() {
    w.set_grad(Tensor());
    b.set_grad(Tensor());
  }
  Tensor x, w, b;
};

void BM_linear_relu_fused(benchmark::State& state) {
  LinearInputs in;
  for (auto _ : state) {
    Tensor y = kiln::linear(in.x, in.w, in.b, kiln::Activation::relu);
    kiln::sum(y).backward();
    benchmark::DoNotOptimize(in.b.grad().data_ptr());
    in.clear();
  }
}

void BM_linear_relu_unfused(benchmark::State& state) {
  LinearInputs in;
  for (auto _ : state) {
    Tensor y = kiln::relu(kiln::matmul(in.x, kiln::transpose(in.w, 0, 1)) + in.b);
    kiln::sum(y).backward();
    benchmark::DoNotOptimize(in.b.grad().data_ptr());
    in.clear();
  }
}

// Forward only (the backward would be the unfused one): bias broadcast into C, GEMM with beta = 1, relu.
void BM_linear_relu_gemm_bias_forward(benchmark::State& state) {
  LinearInputs in;
  Tensor w = in.w.detach().contiguous(), b = in.b.detach();
  for (auto _ : state) {
    Tensor out = kiln::expand(b, {128, 512}).contiguous();
    kiln::GemmArgs a;
    a.trans_b = true;
    a.m = 128, a.n = 512, a.k = 784, a.beta = 1.0;
    a.a = in.x.data_ptr(), a.lda = 784, a.b = w.data_ptr(), a.ldb = 784, a.c = out.data_ptr(), a.ldc = 512;
    kiln::backend(kiln::Device::cpu()).gemm(a);
    Tensor y = kiln::relu(out);
    benchmark::DoNotOptimize(y.data_ptr());
  }
}

void BM_linear_relu_fused_forward(benchmark::State& state) {
  LinearInputs in;
  kiln::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = kiln::linear(in.x, in.w, in.b, kiln::Activation::relu);
    benchmark::DoNotOptimize(y.data_ptr());
  }
}

}  // namespace

BENCHMARK(BM_ce_fused)->Args({128, 10})->Args({1024, 1000})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ce_composite)->Args({128, 10})->Args({1024, 1000})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ce_fused_ops_backward)->Args({128, 10})->Args({1024, 1000})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_log_softmax_primitive)->Args({128, 10})->Args({1024, 1000})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_log_softmax_composite)->Args({128, 10})->Args({1024, 1000})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_linear_relu_fused)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_linear_relu_unfused)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_linear_relu_fused_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_linear_relu_gemm_bias_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
