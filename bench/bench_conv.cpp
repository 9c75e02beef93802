// kiln/bench/bench_conv.cpp: f32 conv2d throughput at the Fashion-MNIST CNN's two layer shapes, batch 128,
// in GFLOP/s (2 * multiply-adds of the convolutions actually run):
//   BM_conv2d_forward/<layer>   kiln::conv2d with bias, output allocated, no recording
//   BM_conv2d_fwd_bwd/<layer>   forward + backward of sum(conv2d(x, w, b) * g): weight and bias gradients,
//                               and the input gradient for conv2 only (conv1's input is the images, as
//                               in the demo), so conv1 runs 2 convolutions' worth and conv2 3
// Layers: conv1 (128, 1, 28, 28) * (32, 1, 3, 3), padding 1; conv2 (128, 32, 14, 14) * (64, 32, 3, 3),
// padding 1. Threads: KILN_BENCH_THREADS (default 2). Depends on kiln::kiln, Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include <kiln/kiln.h>

namespace {

struct Layer {
  const char* name;
  int64_t n, c_in, hw, c_out;
  bool input_grad;
};
constexpr Layer kLayers[] = {{"conv1_128x1x28x28_k32x3x3", 128, 1, 28, 32, false},
                             {"conv2_128x32x14x14_k64x3x3", 128, 32, 14, 64, true}};

int bench_threads() {
  const char* env = std::getenv("KILN_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 ? n : 2;
}

double conv_flops(const Layer& l) { return 2.0 * double(l.n * l.c_out * l.hw * l.hw * l.c_in * 9); }

void BM_conv2d_forward(benchmark::State& state, Layer l) {
  kiln::set_num_threads(bench_threads());
  kiln::manual_seed(1);
  kiln::Tensor x = kiln::randn({l.n, l.c_in, l.hw, l.hw});
  kiln::Tensor w = kiln::randn({l.c_out, l.c_in, 3, 3}), b = kiln::randn({l.c_out});
  kiln::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(kiln::conv2d(x, w, b, {1, 1}, {1, 1}).data_ptr());
  state.counters["GFLOP/s"] =
      benchmark::Counter(conv_flops(l) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_conv2d_fwd_bwd(benchmark::State& state, Layer l) {
  kiln::set_num_threads(bench_threads());
  kiln::manual_seed(1);
  kiln::Tensor x = kiln::randn({l.n, l.c_in, l.hw, l.hw}, {.requires_grad = l.input_grad});
  kiln::Tensor w = kiln::randn({l.c_out, l.c_in, 3, 3}, {.requires_grad = true});
  kiln::Tensor b = kiln::randn({l.c_out}, {.requires_grad = true});
  kiln::Tensor g = kiln::randn({l.n, l.c_out, l.hw, l.hw});
  std::vector<kiln::Tensor> wrt{w, b};
  if (l.input_grad) wrt.push_back(x);
  for (auto _ : state) {
    kiln::Tensor y = kiln::conv2d(x, w, b, {1, 1}, {1, 1});
    auto grads = kiln::autograd::grad({y}, wrt, {g});
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(conv_flops(l) * (l.input_grad ? 3 : 2) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (const Layer& l : kLayers) {
    benchmark::RegisterBenchmark((std::string("BM_conv2d_forward/") + l.name).c_str(), BM_conv2d_forward, l)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("BM_conv2d_fwd_bwd/") + l.name).c_str(), BM_conv2d_fwd_bwd, l)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
