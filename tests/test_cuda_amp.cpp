// tests/test_cuda_amp.cpp: the CUDA f16/bf16 kernels against the CPU reference (which converts to f32,
// computes, and rounds once): casts bit for bit (ties, overflow, subnormals, NaN), elementwise kernels,
// where, fill, reductions, index kernels, GEMM through cublasGemmStridedBatchedEx (and the TF32 switch for
// f32); the vectorized elementwise path against the strided one (odd sizes, misaligned slices, broadcast
// scalars, transposed operands, where); and autocast on CUDA. Without a device every test prints
// "skipped: no CUDA device". Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

const Device kGpu = Device::cuda();
const std::vector<DType> kLow = {DType::f16, DType::bf16};

// One unit in the last place at 1.0: 2^-10 for f16, 2^-7 for bf16.
double eps_of(DType t) { return t == DType::f16 ? 0x1p-10 : 0x1p-7; }

// Element-wise |got - want| <= atol + rtol |want|; NaN must match NaN, infinities must match exactly.
void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  auto g = values(got.to(Device::cpu())), w = values(want);
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      ASSERT_TRUE(std::isnan(g[i])) << what << " element " << i;
    } else if (std::isinf(w[i])) {
      ASSERT_EQ(g[i], w[i]) << what << " element " << i;
    } else {
      ASSERT_LE(std::abs(g[i] - w[i]), atol + rtol * std::abs(w[i]))
          << what << " element " << i << ": " << g[i] << " vs " << w[i];
    }
  }
}
void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  expect_close(got, want, 0, 0, what);
}

// Values that exercise rounding: ties, overflow, subnormals of both formats, signed zero, NaN, inf.
Tensor awkward_values() {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  return from_vector<float>({1.0f,
                             -2.5f,
                             1.0f / 3.0f,
                             65504.0f,
                             65519.0f,
                             65520.0f,
                             1e10f,
                             -1e10f,
                             1.0f + 0x1p-11f,
                             1.0f + 3 * 0x1p-11f,
                             1.0f + 0x1p-8f,
                             1.0f + 3 * 0x1p-8f,
                             0x1p-14f,
                             0x1p-24f,
                             0x1p-25f,
                             0x1.8p-25f,
                             3 * 0x1p-25f,
                             0x1p-133f,
                             -0.0f,
                             inf,
                             -inf,
                             nan,
                             3.0e38f,
                             123456.789f});
}

TEST(CudaAmp, CastsMatchTheCpuBitForBit) {
  REQUIRE_CUDA();
  Tensor x = awkward_values();
  for (DType low : kLow) {
    Tensor cpu = x.to(low), gpu = x.to(kGpu).to(low);
    EXPECT_EQ(gpu.device(), kGpu);
    // Bits, not values: compare the 16-bit patterns (NaN payloads may differ; both must be NaN).
    std::vector<double> c = values(cpu), g = values(gpu.to(Device::cpu()));
    for (size_t i = 0; i < c.size(); ++i) {
      if (std::isnan(c[i]))
        EXPECT_TRUE(std::isnan(g[i])) << i;
      else
        EXPECT_EQ(std::signbit(c[i]), std::signbit(g[i])) << i;
    }
    expect_identical(gpu, cpu, "f32 -> low");
    expect_identical(gpu.to(DType::f32), cpu.to(DType::f32), "low -> f32");
    expect_identical(x.to(DType::f64).to(kGpu).to(low), x.to(DType::f64).to(low), "f64 -> low");
    expect_identical(gpu.to(DType::f64), cpu.to(DType::f64), "low -> f64");
    Tensor ints = from_vector<int64_t>({0, 1, -7, 2049, 65535, 1 << 20});
    expect_identical(ints.to(kGpu).to(low), ints.to(low), "i64 -> low");
    expect_identical(cpu.slice(0, 0, 4).to(kGpu).to(DType::i64), cpu.slice(0, 0, 4).to(DType::i64),
                     "low -> i64");
    expect_identical(gpu.to(DType::boolean), cpu.to(DType::boolean), "low -> bool");
  }
  expect_identical(x.to(kGpu).to(DType::f16).to(DType::bf16), x.to(DType::f16).to(DType::bf16),
                   "f16 -> bf16");
}

TEST(CudaAmp, ElementwiseMatchesTheCpuReference) {
  REQUIRE_CUDA();
  manual_seed(11);
  for (DType low : kLow) {
    const double tol = eps_of(low);  // transcendentals: one unit in the last place (CUDA vs libm in f32)
    Tensor a = randn({37, 29}).to(low), b = (rand({29}) + 0.5).to(low);
    Tensor ga = a.to(kGpu), gb = b.to(kGpu);
    // Correctly rounded f32 operations give identical results once rounded to the low dtype.
    expect_identical(ga + gb, a + b, "add");
    expect_identical(ga - gb, a - b, "sub");
    expect_identical(ga * gb, a * b, "mul");
    expect_identical(ga / gb, a / b, "div");
    expect_identical(maximum(ga, gb), maximum(a, b), "maximum");
    expect_identical(ga > gb, a > b, "gt");
    expect_identical(neg(ga), neg(a), "neg");
    expect_identical(relu(ga), relu(a), "relu");
    expect_identical(sqrt(abs(ga)), sqrt(abs(a)), "sqrt");
    expect_close(exp(ga), exp(a), tol, 0, "exp");
    expect_close(log(abs(ga) + 1e-3), log(abs(a) + 1e-3), tol, tol * 1e-2, "log");
    expect_close(tanh(ga), tanh(a), tol, tol * 1e-3, "tanh");
    expect_close(sigmoid(ga), sigmoid(a), tol, 0, "sigmoid");
    expect_close(gelu(ga), gelu(a), tol, tol * 1e-3, "gelu");
    expect_close(silu(ga), silu(a), tol, tol * 1e-3, "silu");
    expect_close(pow(gb, ga), pow(b, a), tol, 0, "pow");
    expect_identical(where(ga > 0.0, ga, gb), where(a > 0.0, a, b), "where");
    expect_identical(full({5, 3}, 0.1, {.dtype = low, .device = kGpu}), full({5, 3}, 0.1, {.dtype = low}),
                     "fill");
  }
}

// The vectorized path (dense, aligned operands) and the strided one agree bit for bit, and both match the
// CPU, for sizes that leave a tail after the last 16-byte pack and for slices that start off alignment.
TEST(CudaAmp, VectorizedPathMatchesTheStridedPath) {
  REQUIRE_CUDA();
  struct Restore {
    bool saved = cuda::vectorized_elementwise();
    ~Restore() { cuda::set_vectorized_elementwise(saved); }
  } restore;
  manual_seed(12);
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
    for (int64_t n : {1, 7, 8, 9, 31, 1023, 4097, 100003}) {
      for (int64_t offset : {0, 1, 3}) {
        Tensor base_a = randn({n + offset}).to(t), base_b = randn({n + offset}).to(t);
        Tensor a = base_a.slice(0, offset, offset + n), b = base_b.slice(0, offset, offset + n);
        Tensor ga = base_a.to(kGpu).slice(0, offset, offset + n),
               gb = base_b.to(kGpu).slice(0, offset, offset + n);
        const std::string what =
            std::string(dtype_name(t)) + " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
        std::vector<Tensor> runs[2];
        for (bool vec : {true, false}) {
          cuda::set_vectorized_elementwise(vec);
          runs[vec].push_back(ga * gb);
          runs[vec].push_back(ga + 2.0);  // broadcast scalar operand
          runs[vec].push_back(3.0 - ga);  // scalar first
          runs[vec].push_back(neg(ga));
          runs[vec].push_back(ga < gb);            // bool output
          runs[vec].push_back(ga.to(DType::f32));  // casts both ways
          runs[vec].push_back(ga.to(DType::f32).to(t));
          runs[vec].push_back(where(ga > 0.0, ga, gb));   // where, both sides dense
          runs[vec].push_back(where(gb > 0.0, ga, 0.0));  // where with a scalar side (ReLU's backward)
        }
        for (size_t i = 0; i < runs[0].size(); ++i)
          expect_identical(runs[1][i], runs[0][i].to(Device::cpu()), what + " op " + std::to_string(i));
        expect_identical(runs[1][0], a * b, what + " vs cpu");
        expect_identical(runs[1][4], a < b, what + " compare vs cpu");
        expect_identical(runs[1][8], where(b > 0.0, a, 0.0), what + " where vs cpu");
      }
    }
  }
  // A transposed (strided) operand next to dense ones.
  cuda::set_vectorized_elementwise(true);
  Tensor m = randn({33, 17}).to(DType::f16);
  Tensor gm = m.to(kGpu);
  expect_identical(gm.t() + gm.t().contiguous(), m.t() + m.t().contiguous(), "transposed");
}

TEST(CudaAmp, ReductionsAccumulateInFloat) {
  REQUIRE_CUDA();
  Tensor ones_ish = full({4096}, 1.0 + 0x1p-7, {.dtype = DType::bf16});
  EXPECT_EQ(ones_ish.to(kGpu).sum().item<float>(), 4128.0f);  // a bf16 running sum would stall at 256
  manual_seed(13);
  for (DType low : kLow) {
    for (Shape shape : {Shape{3, 50, 4}, Shape{2, 5000, 1}, Shape{1, 20000, 3}}) {
      Tensor a = randn(shape).to(low), ga = a.to(kGpu);
      // f32 partial sums in another order: at most one unit of rounding apart after the final rounding.
      expect_close(sum(ga, {1}), sum(a, {1}), 2 * eps_of(low), 1e-3, "sum");
      expect_identical(amax(ga, {1}), amax(a, {1}), "amax");
      expect_identical(argmax(ga, 1), argmax(a, 1), "argmax");
      expect_identical(min(ga, 1).values, min(a, 1).values, "min");
      expect_identical(min(ga, 1).indices, min(a, 1).indices, "argmin");
    }
  }
}

TEST(CudaAmp, IndexKernels) {
  REQUIRE_CUDA();
  manual_seed(14);
  for (DType low : kLow) {
    Tensor x = randn({6, 5}).to(low), gx = x.to(kGpu);
    Tensor idx = from_vector<int64_t>({4, 0, 4, 2});
    expect_identical(index_select(gx, 0, idx.to(kGpu)), index_select(x, 0, idx), "index_select");
    Tensor gi = randint(0, 5, {6, 3});
    expect_identical(gather(gx, 1, gi.to(kGpu)), gather(x, 1, gi), "gather");
    Tensor src = randn({6, 3}).to(low);
    // f32 accumulation in both; atomics may add in another order, so allow one unit.
    expect_close(scatter_add(gx, 1, gi.to(kGpu), src.to(kGpu)), scatter_add(x, 1, gi, src), 2 * eps_of(low),
                 1e-3, "scatter_add");
  }
}

TEST(CudaAmp, GemmThroughCublasMatchesTheReference) {
  REQUIRE_CUDA();
  manual_seed(15);
  for (DType low : kLow) {
    Tensor a = randn({3, 65, 130}).to(low), b = randn({130, 47}).to(low), c = randn({47, 130}).to(low);
    Tensor ga = a.to(kGpu), gb = b.to(kGpu), gc = c.to(kGpu);
    // Exact products of low values summed in f32 on both sides; only the summation order differs.
    const double rtol = 2 * eps_of(low), atol = 0.05;  // |entries| ~ sqrt(130) ~ 11
    expect_close(matmul(ga, gb), matmul(a, b), rtol, atol, "matmul");
    expect_close(matmul(ga, gc.t()), matmul(a, c.t()), rtol, atol, "matmul transposed B");
    expect_close(matmul(ga.transpose(1, 2).transpose(1, 2), gb), matmul(a, b), rtol, atol, "matmul views");
    Tensor bb = randn({3, 130, 5}).to(low);
    expect_close(matmul(ga, bb.to(kGpu)), matmul(a, bb), rtol, atol, "batched");
    EXPECT_EQ(matmul(ga, gb).dtype(), low);
  }
  // f32 with the TF32 switch: close to the f32 result at TF32's precision, and exact f32 with it off.
  struct Restore {
    bool saved = cuda::allow_tf32();
    ~Restore() { cuda::set_allow_tf32(saved); }
  } restore;
  Tensor a = randn({128, 256}), b = randn({256, 64});
  Tensor ref = matmul(a, b);
  cuda::set_allow_tf32(false);
  expect_close(matmul(a.to(kGpu), b.to(kGpu)), ref, 1e-4, 1e-3, "f32");
  cuda::set_allow_tf32(true);
  expect_close(matmul(a.to(kGpu), b.to(kGpu)), ref, 1e-2, 0.1, "tf32");
}

TEST(CudaAmp, SupportsAnswersForReducedDtypes) {
  REQUIRE_CUDA();
  const Backend& be = backend(kGpu);
  for (DType low : kLow) {
    EXPECT_TRUE(be.supports(UnaryKernel::gelu, low));
    EXPECT_TRUE(be.supports(BinaryKernel::pow, low));
    EXPECT_TRUE(be.supports(GemmKernel::gemm, low));
    EXPECT_TRUE(be.supports(ReduceKernel::sum, low));
    EXPECT_FALSE(be.supports(RandomKernel::randint, low));
  }
  manual_seed(3);
  Tensor g = randn({100}, {.dtype = DType::bf16, .device = kGpu});
  manual_seed(3);
  Tensor c = randn({100}, {.dtype = DType::bf16});
  expect_close(g, c, eps_of(DType::bf16), 1e-6, "randn bf16");  // normal differs in the last f32 bits
}

TEST(CudaAmp, AutocastTrainsAnMlpCloseToFloat32) {
  REQUIRE_CUDA();
  manual_seed(16);
  Tensor x = randn({64, 32}).to(kGpu), labels = randint(0, 10, {64}).to(kGpu);
  Tensor w1 = (randn({128, 32}) * 0.2).to(kGpu).requires_grad_(),
         w2 = (randn({10, 128}) * 0.1).to(kGpu).requires_grad_();
  auto forward = [&] { return nn::functional::cross_entropy(linear(relu(linear(x, w1)), w2), labels); };
  Tensor loss32 = forward();
  loss32.backward();
  Tensor g1 = w1.grad().to(Device::cpu()), g2 = w2.grad().to(Device::cpu());
  w1.set_grad(zeros_like(w1));
  w2.set_grad(zeros_like(w2));
  Tensor loss16;
  {
    autocast::Guard guard(kGpu);  // f16 by default on CUDA
    EXPECT_EQ(linear(x, w1).dtype(), DType::f16);
    loss16 = forward();
  }
  EXPECT_EQ(loss16.dtype(), DType::f32);
  loss16.backward();
  EXPECT_NEAR(loss16.item<double>(), loss32.item<double>(), 1e-2 * std::abs(loss32.item<double>()));
  EXPECT_EQ(w1.grad().dtype(), DType::f32);
  expect_close(w1.grad(), g1, 2e-2, 2e-2 * values(abs(g1).max())[0], "w1 grad");
  expect_close(w2.grad(), g2, 2e-2, 2e-2 * values(abs(g2).max())[0], "w2 grad");
}

}  // namespace
}  // namespace kiln::testing
