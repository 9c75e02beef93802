// kiln/bench/bench_gemm.cpp: f32 GEMM throughput at the MLP's shapes (784-512-256, batch 128: forward,
// grad_input and grad_weight, the last two with a transposed operand) and at 1024^3, in GFLOP/s.
//   BM_kiln_gemm/<shape>      kiln::matmul on tensors (transposed operands as .t() views), output allocated
//   BM_kiln_gemm_raw/<shape>  the kernel table's gemm directly: kiln::matmul minus the op's overhead
//   BM_openblas_sgemm/<shape> cblas_sgemm on the same shapes and transposes (when built with OpenBLAS)
// Threads: KILN_BENCH_THREADS (default 2) for both kiln and OpenBLAS. `kiln_bench_gemm --check` compares
// kiln's results with OpenBLAS's (or a naive loop) and exits. Depends on kiln::kiln, Google Benchmark.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/tensor.h"
#include "kiln/tensor/threads.h"

#ifdef KILN_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace {

// C (M x N) = op(A) (M x K) @ op(B) (K x N), row-major; a transposed operand is stored as its transpose.
struct GemmShape {
  const char* name;
  int64_t m, k, n;
  bool trans_a, trans_b;
};

// The MLP's weights are stored (D_in, D_out), so forward is X @ W, grad_input is G @ W^T and grad_weight
// is X^T @ G. (nn::Linear's (D_out, D_in) layout gives the same products with the flags moved.)
constexpr GemmShape kShapes[] = {
    {"fc1_fwd_128x784x512", 128, 784, 512, false, false},
    {"fc1_dx_128x512x784_nt", 128, 512, 784, false, true},
    {"fc1_dw_784x128x512_tn", 784, 128, 512, true, false},
    {"fc2_fwd_128x512x256", 128, 512, 256, false, false},
    {"fc2_dx_128x256x512_nt", 128, 256, 512, false, true},
    {"fc2_dw_512x128x256_tn", 512, 128, 256, true, false},
    {"square_1024x1024x1024", 1024, 1024, 1024, false, false},
};

int bench_threads() {
  const char* env = std::getenv("KILN_BENCH_THREADS");
  int n = env ? std::atoi(env) : 2;
  return n >= 1 ? n : 2;
}

double gemm_flops(const GemmShape& s) { return 2.0 * double(s.m) * double(s.n) * double(s.k); }

void set_flops_counter(benchmark::State& state, const GemmShape& s) {
  // Reported directly in GFLOP/s so the JSON value and the column name agree.
  state.counters["GFLOP/s"] =
      benchmark::Counter(gemm_flops(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Stored operand shapes: A is (M, K) or, when transposed, (K, M); likewise B.
kiln::Shape stored_a(const GemmShape& s) { return s.trans_a ? kiln::Shape{s.k, s.m} : kiln::Shape{s.m, s.k}; }
kiln::Shape stored_b(const GemmShape& s) { return s.trans_b ? kiln::Shape{s.n, s.k} : kiln::Shape{s.k, s.n}; }

struct KilnOperands {
  kiln::Tensor a, b;        // as stored (contiguous)
  kiln::Tensor op_a, op_b;  // as multiplied: .t() views where transposed
};

KilnOperands make_kiln_operands(const GemmShape& s) {
  KilnOperands o;
  o.a = kiln::randn(stored_a(s));
  o.b = kiln::randn(stored_b(s));
  o.op_a = s.trans_a ? o.a.t() : o.a;
  o.op_b = s.trans_b ? o.b.t() : o.b;
  return o;
}

kiln::GemmArgs raw_args(const GemmShape& s, const KilnOperands& o, const kiln::Tensor& c) {
  kiln::GemmArgs g;
  g.trans_a = s.trans_a;
  g.trans_b = s.trans_b;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.a = o.a.data_ptr();
  g.lda = o.a.size(1);
  g.b = o.b.data_ptr();
  g.ldb = o.b.size(1);
  g.c = c.data_ptr();
  g.ldc = s.n;
  g.dtype = kiln::DType::f32;
  return g;
}

void bm_kiln_gemm(benchmark::State& state, GemmShape s) {
  KilnOperands o = make_kiln_operands(s);
  for (auto _ : state) {
    kiln::Tensor c = kiln::matmul(o.op_a, o.op_b);
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  set_flops_counter(state, s);
}

void bm_kiln_gemm_raw(benchmark::State& state, GemmShape s) {
  KilnOperands o = make_kiln_operands(s);
  kiln::Tensor c = kiln::empty({s.m, s.n});
  const kiln::Backend& cpu = kiln::backend(kiln::Device::cpu());
  kiln::GemmArgs args = raw_args(s, o, c);
  for (auto _ : state) {
    cpu.gemm(args);
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  set_flops_counter(state, s);
}

// 64-byte aligned f32 buffers filled from N(0, 1), so OpenBLAS sees memory like kiln's storage.
struct Buffer {
  explicit Buffer(int64_t n, uint32_t seed) : size(n) {
    size_t bytes = (size_t(n) * sizeof(float) + 63) / 64 * 64;
    data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist;
    for (int64_t i = 0; i < n; ++i) data[i] = dist(gen);
  }
  int64_t size;
  std::unique_ptr<float[], decltype(&std::free)> data{nullptr, &std::free};
};

#ifdef KILN_BENCH_OPENBLAS
void openblas_gemm(const GemmShape& s, const float* a, const float* b, float* c) {
  const int lda = int(s.trans_a ? s.m : s.k), ldb = int(s.trans_b ? s.k : s.n);
  cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
              int(s.m), int(s.n), int(s.k), 1.0f, a, lda, b, ldb, 0.0f, c, int(s.n));
}

void bm_openblas_sgemm(benchmark::State& state, GemmShape s) {
  Buffer a(s.m * s.k, 1), b(s.k * s.n, 2), c(s.m * s.n, 3);
  for (auto _ : state) {
    openblas_gemm(s, a.data.get(), b.data.get(), c.data.get());
    benchmark::DoNotOptimize(c.data.get());
    benchmark::ClobberMemory();
  }
  set_flops_counter(state, s);
}
#endif

// The reference product: OpenBLAS's when available, else a naive loop accumulating in double.
std::vector<float> reference_gemm(const GemmShape& s, const float* a, const float* b) {
  std::vector<float> c(size_t(s.m * s.n));
#ifdef KILN_BENCH_OPENBLAS
  openblas_gemm(s, a, b, c.data());
#else
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        float av = s.trans_a ? a[p * s.m + i] : a[i * s.k + p];
        float bv = s.trans_b ? b[j * s.k + p] : b[p * s.n + j];
        acc += double(av) * double(bv);
      }
      c[size_t(i * s.n + j)] = float(acc);
    }
#endif
  return c;
}

// Largest |x - ref| / (|ref| + sqrt(K)): entries are sums of K unit-variance products.
double max_rel_error(const float* x, const std::vector<float>& ref, int64_t k) {
  double worst = 0, scale = std::sqrt(double(k));
  for (size_t i = 0; i < ref.size(); ++i) {
    double e = std::abs(double(x[i]) - double(ref[i])) / (std::abs(double(ref[i])) + scale);
    if (!(e <= worst)) worst = e;  // also catches NaN
  }
  return worst;
}

// Checks kiln::matmul and the raw gemm against the reference at every shape; returns the exit status.
int run_check() {
  int failures = 0;
  for (const GemmShape& s : kShapes) {
    KilnOperands o = make_kiln_operands(s);
    std::vector<float> ref = reference_gemm(s, o.a.data<float>(), o.b.data<float>());
    kiln::Tensor via_op = kiln::matmul(o.op_a, o.op_b).contiguous();
    kiln::Tensor via_raw = kiln::empty({s.m, s.n});
    kiln::backend(kiln::Device::cpu()).gemm(raw_args(s, o, via_raw));
    double e_op = max_rel_error(via_op.data<float>(), ref, s.k);
    double e_raw = max_rel_error(via_raw.data<float>(), ref, s.k);
    bool ok = e_op < 1e-4 && e_raw < 1e-4 && via_op.size(0) == s.m && via_op.size(1) == s.n;
    std::printf("%-26s matmul err %.2e  raw err %.2e  %s\n", s.name, e_op, e_raw, ok ? "ok" : "MISMATCH");
    failures += !ok;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = bench_threads();
  kiln::set_num_threads(threads);
#ifdef KILN_BENCH_OPENBLAS
  openblas_set_num_threads(threads);
  benchmark::AddCustomContext("openblas", openblas_get_config());
#endif
  benchmark::AddCustomContext("kiln_bench_threads", std::to_string(threads));

  for (const GemmShape& s : kShapes) {
    std::string name = s.name;
    benchmark::RegisterBenchmark(("BM_kiln_gemm/" + name).c_str(), bm_kiln_gemm, s)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_kiln_gemm_raw/" + name).c_str(), bm_kiln_gemm_raw, s)->UseRealTime();
#ifdef KILN_BENCH_OPENBLAS
    benchmark::RegisterBenchmark(("BM_openblas_sgemm/" + name).c_str(), bm_openblas_sgemm, s)->UseRealTime();
#endif
  }

  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check") == 0) return run_check();
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
