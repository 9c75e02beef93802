// kiln/bench/bench_conv.cpp: f32 conv2d throughput at the Fashion-MNIST CNN's two layer shapes, batch 128,
// in GFLOP/s (2 * multiply-adds of the convolutions actually run):
//   BM_conv2d_forward/<layer>   kiln::conv2d with bias, output allocated, no recording
//   BM_conv2d_fwd_bwd/<layer>   forward + backward of sum(conv2d(x, w, b) * g): weight and bias gradients,
//                               and the input gradient for conv2 only (conv1's input is the images, as
//                               in the demo), so conv1 runs 2 convolutions' worth and conv2 3
//   BM_max_pool2d/...           max_pool2d(2) forward on conv1's output (GB/s of input read)
//   BM_cnn_step/batch128        forward + backward of the whole demo CNN (time only)
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

// max_pool2d(2) forward on conv1's activations, (128, 32, 28, 28): memory-bound, reported in GB/s read.
void BM_max_pool2d(benchmark::State& state) {
  kiln::set_num_threads(bench_threads());
  kiln::manual_seed(1);
  kiln::Tensor x = kiln::randn({128, 32, 28, 28});
  kiln::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(kiln::max_pool2d(x, {2, 2}).data_ptr());
  state.counters["GB/s"] =
      benchmark::Counter(double(x.numel()) * 4e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One training step's forward + backward of the demo CNN (no optimizer): conv1 + ReLU + max-pool 2,
// conv2 + ReLU + max-pool 2, Linear(3136, 128) + ReLU, Linear(128, 10), cross-entropy; batch 128.
void BM_cnn_step(benchmark::State& state) {
  kiln::set_num_threads(bench_threads());
  kiln::manual_seed(1);
  auto param = [](kiln::Shape s, double scale) { return (kiln::randn(s) * scale).detach().requires_grad_(); };
  kiln::Tensor w1 = param({32, 1, 3, 3}, 0.3), b1 = param({32}, 0.1);
  kiln::Tensor w2 = param({64, 32, 3, 3}, 0.06), b2 = param({64}, 0.1);
  kiln::Tensor w3 = param({128, 3136}, 0.02), b3 = param({128}, 0.1);
  kiln::Tensor w4 = param({10, 128}, 0.1), b4 = param({10}, 0.1);
  kiln::Tensor x = kiln::rand({128, 1, 28, 28});
  kiln::Tensor y = kiln::randint(0, 10, {128});
  for (auto _ : state) {
    kiln::Tensor h = kiln::max_pool2d(kiln::relu(kiln::conv2d(x, w1, b1, {1, 1}, {1, 1})), {2, 2});
    h = kiln::max_pool2d(kiln::relu(kiln::conv2d(h, w2, b2, {1, 1}, {1, 1})), {2, 2});
    h = kiln::relu(kiln::linear(kiln::flatten(h, 1), w3, b3));
    kiln::Tensor logits = kiln::linear(h, w4, b4);
    kiln::Tensor loss = -kiln::gather(kiln::log_softmax(logits, 1), 1, y.unsqueeze(1)).mean();
    auto grads = kiln::autograd::grad({loss}, {w1, b1, w2, b2, w3, b3, w4, b4});
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
}

const bool registered = [] {
  benchmark::RegisterBenchmark("BM_max_pool2d/128x32x28x28_k2", BM_max_pool2d)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_cnn_step/batch128", BM_cnn_step)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
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
