// bench/bench_op_table.cpp: times every case of the op table (tests/support/op_cases.h) in f32: the
// forward pass alone (no recording) and forward + backward. The same table drives the tests, so every
// op the library lists has a timing; compare runs before and after a kernel change. Depends on
// kiln_op_cases and Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "support/op_cases.h"

namespace {

using kiln::Tensor;
using kiln::testing::OpCase;

void forward(benchmark::State& state, const OpCase* c) {
  auto inputs = kiln::testing::make_inputs(*c, kiln::DType::f32, false);
  kiln::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(c->fn(inputs).impl());
}

void forward_backward(benchmark::State& state, const OpCase* c) {
  auto inputs = kiln::testing::make_inputs(*c, kiln::DType::f32, true);
  std::vector<Tensor> wrt;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) wrt.push_back(t);
  for (auto _ : state) {
    Tensor out = c->fn(inputs);
    benchmark::DoNotOptimize(kiln::autograd::grad({out}, wrt, {kiln::ones_like(out)}, false, false, true));
  }
}

const bool registered = [] {
  if (const char* threads = std::getenv("KILN_BENCH_THREADS")) kiln::set_num_threads(std::atoi(threads));
  for (const OpCase& c : kiln::testing::op_cases()) {
    benchmark::RegisterBenchmark(("forward/" + c.name()).c_str(), forward, &c)->UseRealTime();
    if (c.gradcheck)
      benchmark::RegisterBenchmark(("forward_backward/" + c.name()).c_str(), forward_backward, &c)
          ->UseRealTime();
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
