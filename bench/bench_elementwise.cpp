// kiln/bench/bench_elementwise.cpp: memory throughput of kiln's elementwise ops, reductions and softmax on
// f32 tensors, in GB/s (10^9 bytes of tensor data read + written per second; the minimum traffic, so a
// kernel that makes extra passes shows a lower number). Each iteration calls the op as user code does,
// output allocation included. Threads: KILN_BENCH_THREADS (default 2). Depends on kiln::kiln and
// Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/tensor.h"
#include "kiln/tensor/threads.h"

namespace {

constexpr int64_t kBytesF32 = 4;

int bench_threads() {
  const char* env = std::getenv("KILN_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 ? n : 2;
}

void set_bytes_counter(benchmark::State& state, int64_t bytes) {
  // Reported directly in GB/s so the JSON value and the column name agree.
  state.counters["GB/s"] =
      benchmark::Counter(double(bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Runs `op` on each iteration; `bytes` is the data one call must read and write at least.
void run_op(benchmark::State& state, const std::function<kiln::Tensor()>& op, int64_t bytes) {
  for (auto _ : state) {
    kiln::Tensor out = op();
    benchmark::DoNotOptimize(out.data_ptr());
    benchmark::ClobberMemory();
  }
  set_bytes_counter(state, bytes);
}

void reg(const std::string& name, std::function<void(benchmark::State&)> fn) {
  benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& state) { fn(state); })->UseRealTime();
}

// Elementwise ops on n contiguous elements; `label` is "1M" or "16M".
void register_elementwise(int64_t n, const std::string& label) {
  using kiln::Tensor;
  auto unary = [&](const std::string& op_name, Tensor (*op)(const Tensor&)) {
    reg("BM_" + op_name + "/" + label, [n, op](benchmark::State& state) {
      Tensor x = kiln::randn({n});
      run_op(
          state, [&] { return op(x); }, 2 * n * kBytesF32);
    });
  };
  reg("BM_add/" + label, [n](benchmark::State& state) {
    Tensor a = kiln::randn({n}), b = kiln::randn({n});
    run_op(
        state, [&] { return kiln::add(a, b); }, 3 * n * kBytesF32);
  });
  reg("BM_mul/" + label, [n](benchmark::State& state) {
    Tensor a = kiln::randn({n}), b = kiln::randn({n});
    run_op(
        state, [&] { return kiln::mul(a, b); }, 3 * n * kBytesF32);
  });
  unary("exp", static_cast<Tensor (*)(const Tensor&)>(&kiln::exp));
  unary("relu", &kiln::relu);
  unary("sigmoid", &kiln::sigmoid);
}

// (N, D) + (D): the bias add of a linear layer, broadcasting a row over every sample.
void register_row_bias(int64_t rows, int64_t cols) {
  std::string label = std::to_string(rows) + "x" + std::to_string(cols);
  reg("BM_add_row_bias/" + label, [rows, cols](benchmark::State& state) {
    kiln::Tensor x = kiln::randn({rows, cols}), bias = kiln::randn({cols});
    run_op(
        state, [&] { return kiln::add(x, bias); }, (2 * rows * cols + cols) * kBytesF32);
  });
}

void register_reductions() {
  for (int64_t n : {int64_t{1} << 20, int64_t{1} << 24}) {
    std::string label = n == (int64_t{1} << 20) ? "1M" : "16M";
    reg("BM_sum_all/" + label, [n](benchmark::State& state) {
      kiln::Tensor x = kiln::randn({n});
      run_op(
          state, [&] { return kiln::sum(x); }, (n + 1) * kBytesF32);
    });
  }
  constexpr int64_t r = 4096, c = 4096;
  for (int64_t dim : {0, 1}) {
    reg("BM_sum_dim" + std::to_string(dim) + "/4096x4096", [dim](benchmark::State& state) {
      kiln::Tensor x = kiln::randn({r, c});
      run_op(
          state, [&] { return kiln::sum(x, {dim}); }, (r * c + (dim == 0 ? c : r)) * kBytesF32);
    });
  }
}

// A tiny add, where the time is the op's fixed cost (checks, allocation, dispatch), not bandwidth.
void register_small_add() {
  reg("BM_add_small/128x10", [](benchmark::State& state) {
    kiln::Tensor a = kiln::randn({128, 10}), b = kiln::randn({128, 10});
    run_op(
        state, [&] { return kiln::add(a, b); }, 3 * 128 * 10 * kBytesF32);
  });
}

void register_softmax(int64_t rows, int64_t cols) {
  std::string label = std::to_string(rows) + "x" + std::to_string(cols);
  reg("BM_softmax_dim1/" + label, [rows, cols](benchmark::State& state) {
    kiln::Tensor x = kiln::randn({rows, cols});
    run_op(
        state, [&] { return kiln::softmax(x, 1); }, 2 * rows * cols * kBytesF32);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = bench_threads();
  kiln::set_num_threads(threads);
  benchmark::AddCustomContext("kiln_bench_threads", std::to_string(threads));

  register_elementwise(int64_t{1} << 20, "1M");
  register_elementwise(int64_t{1} << 24, "16M");
  register_row_bias(1024, 1024);
  register_row_bias(4096, 4096);
  register_reductions();
  register_small_add();
  register_softmax(128, 10);
  register_softmax(4096, 1024);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
