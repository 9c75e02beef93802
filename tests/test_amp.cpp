// tests/test_amp.cpp: mixed precision on the CPU. kiln::Half / kiln::BFloat16 conversions against
// hand-computed bit patterns (rounding to nearest even, overflow, subnormals, NaN, signed zero) and
// exhaustive round trips; f16/bf16 tensors (element access, printing, to(dtype)); the CPU reference
// kernels for f16/bf16 (computed in f32, rounded once); PyTorch's type promotion for mixed-dtype binary
// ops; and the autocast scope (op lists, nesting, threads, the parameter cast cache, an MLP's loss and
// gradients against f32). Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include <kiln/kiln.h>

#include "support/fixture.h"
#include "support/helpers.h"

namespace kiln {
namespace {

using kiln::testing::error_of;
using kiln::testing::values;
namespace F = kiln::nn::functional;

uint16_t half_bits(float f) { return Half(f).bits; }
uint16_t bf16_bits(float f) { return BFloat16(f).bits; }

// ---- storage types ----

TEST(HalfType, RoundsToNearestEvenWithHandComputedBits) {
  EXPECT_EQ(half_bits(1.0f), 0x3C00);
  EXPECT_EQ(half_bits(-2.0f), 0xC000);
  EXPECT_EQ(half_bits(0.5f), 0x3800);
  EXPECT_EQ(half_bits(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(half_bits(65504.0f), 0x7BFF);                    // the largest finite half
  EXPECT_EQ(half_bits(65519.0f), 0x7BFF);                    // below the midpoint to 2^16
  EXPECT_EQ(half_bits(65520.0f), 0x7C00);                    // the midpoint ties to even: infinity
  EXPECT_EQ(half_bits(1e10f), 0x7C00);                       // overflow
  EXPECT_EQ(half_bits(-1e10f), 0xFC00);                      // to -inf
  EXPECT_EQ(half_bits(1.0f + 0x1p-11f), 0x3C00);             // tie between 1 and 1 + 2^-10: even (1)
  EXPECT_EQ(half_bits(1.0f + 3 * 0x1p-11f), 0x3C02);         // tie between 0x3C01 and 0x3C02: even
  EXPECT_EQ(half_bits(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);  // just above the tie
  EXPECT_EQ(half_bits(0x1p-14f), 0x0400);                    // the smallest normal
  EXPECT_EQ(half_bits(0x1p-24f), 0x0001);                    // the smallest subnormal
  EXPECT_EQ(half_bits(0x1p-25f), 0x0000);                    // half of it ties to even: zero
  EXPECT_EQ(half_bits(0x1.8p-25f), 0x0001);                  // above the tie
  EXPECT_EQ(half_bits(3 * 0x1p-25f), 0x0002);                // 1.5 units ties to 2
  EXPECT_EQ(half_bits(5 * 0x1p-25f), 0x0002);                // 2.5 units ties to 2
  EXPECT_EQ(half_bits(0x1p-14f - 0x1p-26f), 0x0400);         // rounds up out of the subnormals
  EXPECT_EQ(half_bits(-0.0f), 0x8000);
  EXPECT_EQ(half_bits(std::numeric_limits<float>::infinity()), 0x7C00);
  const uint16_t nan = half_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(static_cast<float>(Half(-std::numeric_limits<float>::quiet_NaN()))));
  // A signalling NaN whose payload sits only in the low bits must stay a NaN, not become infinity.
  float snan;
  const uint32_t snan_bits = 0x7F800001u;
  std::memcpy(&snan, &snan_bits, 4);
  EXPECT_TRUE(std::isnan(static_cast<float>(Half(snan))));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(snan))));
}

TEST(HalfType, ToFloatIsExact) {
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x3C00)), 1.0f);
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x7BFF)), 65504.0f);
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x0001)), 0x1p-24f);
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x03FF)), 1023 * 0x1p-24f);
  EXPECT_EQ(static_cast<float>(Half::from_bits(0xFC00)), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(static_cast<float>(Half::from_bits(0x8000))));
  EXPECT_TRUE(std::isnan(static_cast<float>(Half::from_bits(0x7E00))));
}

TEST(HalfType, EveryBitPatternRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const auto bits = static_cast<uint16_t>(b);
    const float h = Half::from_bits(bits), bf = BFloat16::from_bits(bits);
    if (std::isnan(h)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(Half(h)))) << b;
    } else {
      ASSERT_EQ(Half(h).bits, bits) << b;
    }
    if (std::isnan(bf)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(bf)))) << b;
    } else {
      ASSERT_EQ(BFloat16(bf).bits, bits) << b;
    }
  }
}

TEST(HalfType, MidpointsBetweenNeighboursTieToEven) {
  // For every pair of adjacent finite positive halfs, the midpoint (exact in float) goes to the even one.
  for (uint16_t b = 0; b < 0x7BFF; ++b) {
    const float lo = Half::from_bits(b), hi = Half::from_bits(static_cast<uint16_t>(b + 1));
    const float mid = lo + (hi - lo) / 2;
    ASSERT_EQ(Half(mid).bits, (b % 2 == 0) ? b : b + 1) << b;
    ASSERT_EQ(Half(std::nextafter(mid, hi)).bits, b + 1) << b;
    ASSERT_EQ(Half(std::nextafter(mid, lo)).bits, b) << b;
  }
}

TEST(BFloat16Type, RoundsToNearestEvenWithHandComputedBits) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(bf16_bits(-2.0f), 0xC000);
  EXPECT_EQ(bf16_bits(1.0f / 3.0f), 0x3EAB);         // 0x3EAAAAAB: the dropped half is above the tie
  EXPECT_EQ(bf16_bits(1.0f + 0x1p-8f), 0x3F80);      // tie: even
  EXPECT_EQ(bf16_bits(1.0f + 3 * 0x1p-8f), 0x3F82);  // tie: even
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to infinity
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(bf16_bits(0x1p-133f), 0x0001);  // bf16 keeps float's subnormals
  const uint16_t nan = bf16_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);
  EXPECT_EQ(static_cast<float>(BFloat16::from_bits(0x3EAB)), 0.333984375f);
}

// PyTorch's own conversions (tests/gen_amp_fixtures.py): f32 values at and beside the ties of both
// formats, overflow and subnormals, and f64 values (converted through f32, as torch does).
TEST(HalfType, MatchesTorchConversions) {
  auto cases = kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/torch_amp.txt");
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    Tensor in = c.tensor("in");
    if (c.name == "f32") in = in.to(DType::f32);
    std::vector<double> f16 = c.get("f16_bits").values, bf16 = c.get("bf16_bits").values;
    Tensor h = in.to(DType::f16), b = in.to(DType::bf16);
    const Half* hp = h.data<Half>();
    const BFloat16* bp = b.data<BFloat16>();
    ASSERT_EQ(static_cast<size_t>(h.numel()), f16.size());
    for (size_t i = 0; i < f16.size(); ++i) {
      ASSERT_EQ(hp[i].bits, static_cast<uint16_t>(f16[i])) << c.name << " f16 element " << i;
      ASSERT_EQ(bp[i].bits, static_cast<uint16_t>(bf16[i])) << c.name << " bf16 element " << i;
    }
  }
}

// ---- tensors ----

TEST(ReducedTensor, ConvertsBothWaysOnTheCpu) {
  Tensor x = from_vector<float>({1.0f, -2.5f, 1.0f / 3.0f, 70000.0f, 0x1p-25f});
  Tensor h = x.to(DType::f16), b = x.to(DType::bf16);
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(h.data<Half>()[2].bits, 0x3555);
  EXPECT_EQ(b.data<BFloat16>()[2].bits, 0x3EAB);
  std::vector<float> hv = h.to_vector<float>();
  EXPECT_EQ(hv[0], 1.0f);
  EXPECT_EQ(hv[1], -2.5f);
  EXPECT_TRUE(std::isinf(hv[3]));
  EXPECT_EQ(hv[4], 0.0f);
  EXPECT_EQ(b.to(DType::f32).to_vector<float>()[3], 70144.0f);  // 70000 in bf16's 8-bit mantissa
  // f16 <-> bf16 goes through f32; f64, integers and bool convert like f32 would.
  EXPECT_EQ(h.to(DType::bf16).data<BFloat16>()[0].bits, 0x3F80);
  EXPECT_EQ(h.to(DType::f64).to_vector<double>()[2], static_cast<double>(Half::from_bits(0x3555)));
  EXPECT_EQ(from_vector<int64_t>({3, -7}).to(DType::f16).to_vector<float>(), (std::vector<float>{3, -7}));
  EXPECT_EQ(h.to(DType::i64).to_vector<int64_t>()[1], -2);
  EXPECT_EQ(h.to(DType::boolean).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 1, 0}));
  EXPECT_FLOAT_EQ(h.select(0, 1).item<float>(), -2.5f);
  EXPECT_EQ(b.select(0, 0).item<BFloat16>().bits, 0x3F80);
  // A strided (transposed) view converts element by element.
  Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3}).to(DType::bf16).t();
  EXPECT_EQ(values(m.contiguous()), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(ReducedTensor, FillPrintsAndAccess) {
  Tensor h = full({2, 2}, 0.1, {.dtype = DType::f16});
  EXPECT_EQ(h.data<Half>()[3].bits, half_bits(0.1f));
  EXPECT_CONTAINS(h.str(), "dtype=f16");
  EXPECT_CONTAINS(h.str(), "0.1000");
  EXPECT_CONTAINS(zeros({1}, {.dtype = DType::bf16}).str(), "dtype=bf16");
  EXPECT_EQ(h.at<Half>({1, 0}).bits, half_bits(0.1f));
  EXPECT_CONTAINS(error_of([&] { h.data<float>(); }), "the tensor's dtype is f16");
  Tensor v = from_vector(std::vector<BFloat16>{BFloat16(1.5f), BFloat16(-3.0f)});
  EXPECT_EQ(v.dtype(), DType::bf16);
  EXPECT_EQ(values(v), (std::vector<double>{1.5, -3.0}));
}

// ---- CPU reference kernels ----

Tensor rounded(const Tensor& f32, DType low) { return f32.to(low).to(DType::f32); }

TEST(ReducedKernels, ElementwiseComputeInFloatAndRoundOnce) {
  manual_seed(1);
  for (DType low : {DType::f16, DType::bf16}) {
    Tensor a = randn({5, 7}).to(low), b = randn({7}).to(low) + 2.0;
    Tensor af = a.to(DType::f32), bf = b.to(DType::f32);
    EXPECT_EQ(values(exp(a)), values(rounded(exp(af), low)));
    EXPECT_EQ(values(tanh(a)), values(rounded(tanh(af), low)));
    EXPECT_EQ(values(gelu(a)), values(rounded(gelu(af), low)));
    EXPECT_EQ(values(a + b), values(rounded(af + bf, low)));  // broadcast (stride 0) operand
    EXPECT_EQ(values(a * b), values(rounded(af * bf, low)));
    EXPECT_EQ(values(a / b), values(rounded(af / bf, low)));
    EXPECT_EQ(values(pow(b, a)), values(rounded(pow(bf, af), low)));
    EXPECT_EQ(values(a.t() - 1.0), values(rounded(af.t() - 1.0, low)));  // strided input
    EXPECT_EQ(values(a > b), values(af > bf));
    EXPECT_EQ(values(where(a > 0.0, a, b)), values(rounded(where(af > 0.0, af, bf), low)));
    EXPECT_EQ((a + b).dtype(), low);
    EXPECT_EQ((a > b).dtype(), DType::boolean);
  }
}

TEST(ReducedKernels, ReductionsAccumulateInFloat) {
  // 4096 copies of 1 + 2^-7: a sum rounded to bf16 after every step would stall at 256; f32 accumulation
  // gives 4128, which rounds to 4128 in bf16 (8 significant bits: 4128 = 129 * 32).
  Tensor x = full({4096}, 1.0 + 0x1p-7, {.dtype = DType::bf16});
  EXPECT_EQ(x.sum().item<float>(), 4128.0f);
  EXPECT_EQ(x.sum().dtype(), DType::bf16);
  manual_seed(2);
  for (DType low : {DType::f16, DType::bf16}) {
    Tensor a = randn({3, 50, 4}).to(low), af = a.to(DType::f32);
    EXPECT_EQ(values(sum(a, {1})), values(rounded(sum(af, {1}), low)));
    EXPECT_EQ(values(amax(a, {1})), values(amax(af, {1})));
    EXPECT_EQ(values(argmax(a, 1)), values(argmax(af, 1)));
    ValuesIndices mn = min(a, 2);
    EXPECT_EQ(values(mn.values), values(min(af, 2).values));
    EXPECT_EQ(values(mn.indices), values(min(af, 2).indices));
    EXPECT_EQ(values(mean(a, {0, 2})), values(rounded(mean(af, {0, 2}), low)));
  }
}

TEST(ReducedKernels, GemmRoundsTheFloatProductOnce) {
  manual_seed(3);
  for (DType low : {DType::f16, DType::bf16}) {
    Tensor a = randn({2, 9, 13}).to(low), b = randn({13, 6}).to(low), c = randn({6, 13}).to(low);
    Tensor af = a.to(DType::f32), bf = b.to(DType::f32), cf = c.to(DType::f32);
    EXPECT_EQ(values(matmul(a, b)), values(rounded(matmul(af, bf), low)));
    EXPECT_EQ(values(matmul(a, c.t())), values(rounded(matmul(af, cf.t()), low)));  // transposed B
    EXPECT_EQ(values(matmul(a.transpose(1, 2).transpose(1, 2).slice(1, 1, 8), b)),  // row offset
              values(rounded(matmul(af.slice(1, 1, 8), bf), low)));
    Tensor batched = randn({2, 13, 3}).to(low);
    EXPECT_EQ(values(matmul(a, batched)), values(rounded(matmul(af, batched.to(DType::f32)), low)));
    EXPECT_EQ(matmul(a, b).dtype(), low);
  }
  // Zero-sized inner dimension: a zero matrix, not garbage.
  Tensor e = matmul(zeros({3, 0}, {.dtype = DType::bf16}), zeros({0, 2}, {.dtype = DType::bf16}));
  EXPECT_EQ(values(e), std::vector<double>(6, 0.0));
}

TEST(ReducedKernels, IndexAndScatterKernels) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{3, 2}).to(DType::f16);
  Tensor idx = from_vector<int64_t>({2, 0});
  EXPECT_EQ(values(index_select(x, 0, idx)), (std::vector<double>{5, 6, 1, 2}));
  Tensor g = gather(x, 1, from_vector<int64_t>({1, 0, 0}, Shape{3, 1}));
  EXPECT_EQ(values(g), (std::vector<double>{2, 3, 5}));
  Tensor s = scatter_add(zeros({2}, {.dtype = DType::bf16}), 0, from_vector<int64_t>({0, 0, 1}),
                         from_vector<float>({256, 1, 1}).to(DType::bf16));
  // f32 accumulation: 256 + 1 = 257 rounds once to 256 (bf16), and 1 stays 1.
  EXPECT_EQ(values(s), (std::vector<double>{256, 1}));
}

TEST(ReducedKernels, SupportsAnswersForReducedDtypes) {
  const Backend& cpu = backend(Device::cpu());
  for (DType low : {DType::f16, DType::bf16}) {
    EXPECT_TRUE(cpu.supports(UnaryKernel::exp, low));
    EXPECT_TRUE(cpu.supports(BinaryKernel::pow, low));
    EXPECT_TRUE(cpu.supports(GemmKernel::gemm, low));
    EXPECT_TRUE(cpu.supports(ReduceKernel::sum, low));
    EXPECT_TRUE(cpu.supports(ConvKernel::conv2d, low));
    EXPECT_TRUE(cpu.supports(RandomKernel::normal, low));
    EXPECT_FALSE(cpu.supports(RandomKernel::randint, low));
    EXPECT_FALSE(cpu.supports(BinaryKernel::logical_and, low));
  }
  // Random draws are the f32 draw rounded: the same stream as f32.
  manual_seed(9);
  Tensor r16 = randn({8}, {.dtype = DType::bf16});
  manual_seed(9);
  Tensor r32 = randn({8});
  EXPECT_EQ(values(r16), values(rounded(r32, DType::bf16)));
  EXPECT_CONTAINS(error_of([] { randint(0, 5, {3}, {.dtype = DType::f16}); }), "f16");
}

TEST(ReducedKernels, ConvolutionComputesInFloat) {
  manual_seed(4);
  Tensor x = randn({1, 2, 5, 5}).to(DType::bf16), w = randn({3, 2, 3, 3}).to(DType::bf16);
  Tensor y = conv2d(x, w);
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(values(y), values(rounded(conv2d(x.to(DType::f32), w.to(DType::f32)), DType::bf16)));
}

// ---- type promotion ----

TEST(Promotion, FollowsPyTorch) {
  EXPECT_EQ(promote_types(DType::f16, DType::bf16), DType::f32);
  EXPECT_EQ(promote_types(DType::f16, DType::f32), DType::f32);
  EXPECT_EQ(promote_types(DType::bf16, DType::f64), DType::f64);
  EXPECT_EQ(promote_types(DType::i64, DType::f16), DType::f16);
  EXPECT_EQ(promote_types(DType::i32, DType::i64), DType::i64);
  EXPECT_EQ(promote_types(DType::u8, DType::i32), DType::i32);
  EXPECT_EQ(promote_types(DType::boolean, DType::u8), DType::u8);
  EXPECT_EQ(promote_types(DType::boolean, DType::f32), DType::f32);
  Tensor h = ones({3}, {.dtype = DType::f16});
  EXPECT_EQ(result_type(h, scalar_tensor(2.0)), DType::f16);  // a 0-d f32 does not widen f16
  EXPECT_EQ(result_type(h, ones({3})), DType::f32);
  EXPECT_EQ(result_type(ones({3}, {.dtype = DType::i64}), scalar_tensor(2.0)), DType::f32);  // category
  EXPECT_EQ(result_type(scalar_tensor(1.0, {.dtype = DType::f64}), h), DType::f16);
}

TEST(Promotion, MixedBinaryOpsPromoteAndGradientsKeepEachDtype) {
  Tensor a = from_vector<float>({1.5f, -2.0f}).to(DType::bf16).requires_grad_();
  Tensor b = from_vector<float>({0.25f, 4.0f}).requires_grad_();
  Tensor y = a * b;
  EXPECT_EQ(y.dtype(), DType::f32);
  EXPECT_EQ(values(y), (std::vector<double>{0.375, -8.0}));
  y.sum().backward();
  EXPECT_EQ(a.grad().dtype(), DType::bf16);
  EXPECT_EQ(b.grad().dtype(), DType::f32);
  EXPECT_EQ(values(a.grad()), (std::vector<double>{0.25, 4.0}));
  EXPECT_EQ(values(b.grad()), (std::vector<double>{1.5, -2.0}));
  // Integers with floats, comparisons and where across dtypes.
  Tensor i = from_vector<int64_t>({1, 2});
  EXPECT_EQ((i + b.detach()).dtype(), DType::f32);
  EXPECT_EQ(values(i + b.detach()), (std::vector<double>{1.25, 6.0}));
  EXPECT_EQ(values(lt(i, b.detach())), (std::vector<double>{0, 1}));
  Tensor w = where(from_vector<bool>({true, false}), a.detach(), b.detach());
  EXPECT_EQ(w.dtype(), DType::f32);
  EXPECT_EQ(values(w), (std::vector<double>{1.5, 4.0}));
}

// ---- autocast ----

TEST(Autocast, DefaultsNestingAndThreads) {
  EXPECT_FALSE(autocast::is_enabled(DeviceType::cpu));
  {
    autocast::Guard guard(Device::cpu());
    EXPECT_TRUE(autocast::is_enabled(DeviceType::cpu));
    EXPECT_FALSE(autocast::is_enabled(DeviceType::cuda));
    EXPECT_EQ(autocast::dtype(DeviceType::cpu), DType::bf16);
    {
      autocast::Guard inner(Device::cpu(), DType::f16);
      EXPECT_EQ(autocast::dtype(DeviceType::cpu), DType::f16);
      {
        autocast::Guard off(Device::cpu(), std::nullopt, /*enabled=*/false);
        EXPECT_FALSE(autocast::is_enabled(DeviceType::cpu));
        EXPECT_EQ(matmul(ones({2, 2}), ones({2, 2})).dtype(), DType::f32);
      }
      EXPECT_TRUE(autocast::is_enabled(DeviceType::cpu));
      EXPECT_EQ(matmul(ones({2, 2}), ones({2, 2})).dtype(), DType::f16);
    }
    EXPECT_EQ(autocast::dtype(DeviceType::cpu), DType::bf16);
    bool other_thread_enabled = true;
    std::thread([&] { other_thread_enabled = autocast::is_enabled(DeviceType::cpu); }).join();
    EXPECT_FALSE(other_thread_enabled);
  }
  EXPECT_FALSE(autocast::is_enabled(DeviceType::cpu));
  EXPECT_EQ(autocast::default_dtype(DeviceType::cuda), DType::f16);
  {
    autocast::Guard cuda_scope(Device::cuda());  // a CUDA scope leaves CPU ops alone
    EXPECT_EQ(autocast::dtype(DeviceType::cuda), DType::f16);
    EXPECT_EQ(matmul(ones({2, 2}), ones({2, 2})).dtype(), DType::f32);
  }
}

TEST(Autocast, RejectsANonReducedDtype) {
  EXPECT_CONTAINS(error_of([] { autocast::Guard g(Device::cpu(), DType::f32); }),
                  "autocast::Guard: the low dtype must be f16 or bf16, got f32");
  EXPECT_FALSE(autocast::is_enabled(DeviceType::cpu));
}

TEST(Autocast, OpListsChooseTheirPrecision) {
  manual_seed(5);
  Tensor x = randn({4, 6}), w = randn({3, 6}), bias = randn({3});
  autocast::Guard guard(Device::cpu(), DType::bf16);
  Tensor y = linear(x, w, bias);
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(matmul(x, w.t()).dtype(), DType::bf16);
  EXPECT_EQ(conv2d(randn({1, 2, 4, 4}), randn({2, 2, 3, 3})).dtype(), DType::bf16);
  EXPECT_EQ(conv1d(randn({1, 2, 5}), randn({2, 2, 3})).dtype(), DType::bf16);
  EXPECT_EQ(softmax(y, 1).dtype(), DType::f32);
  EXPECT_EQ(log_softmax(y, 1).dtype(), DType::f32);
  EXPECT_EQ(sum(y).dtype(), DType::f32);
  EXPECT_EQ(mean(y).dtype(), DType::f32);
  EXPECT_EQ(exp(y).dtype(), DType::f32);
  EXPECT_EQ(log(abs(y) + 1.0).dtype(), DType::f32);
  EXPECT_EQ(layer_norm(y, {3}).dtype(), DType::f32);
  EXPECT_EQ(F::mse_loss(y, zeros({4, 3})).dtype(), DType::f32);
  EXPECT_EQ(relu(y).dtype(), DType::bf16);             // not listed: runs in its input's dtype
  EXPECT_EQ((y + randn({4, 3})).dtype(), DType::f32);  // promotion to the wider operand
  // f64 stays f64 (not eligible for the low dtype).
  EXPECT_EQ(matmul(ones({2, 2}, {.dtype = DType::f64}), ones({2, 2}, {.dtype = DType::f64})).dtype(),
            DType::f64);
}

TEST(Autocast, CachesParameterCastsPerScope) {
  Tensor w = randn({4, 4}).requires_grad_();
  Tensor x = randn({2, 4});
  {
    autocast::Guard guard(Device::cpu());
    Tensor h = linear(linear(x, w), w);  // the weight is used twice
    EXPECT_EQ(autocast::cache_size(), 1u);
    EXPECT_EQ(autocast::lower(w).impl(), autocast::lower(w).impl());
    EXPECT_EQ(autocast::lower(x).impl() == autocast::lower(x).impl(), false);  // activations are not cached
    h.sum().backward();
  }
  EXPECT_EQ(autocast::cache_size(), 0u);  // cleared when the outermost scope ends
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  // An in-place update of the parameter invalidates its cached cast.
  autocast::Guard guard(Device::cpu());
  Tensor before = autocast::lower(w);
  {
    NoGradGuard no_grad;
    w.add_(1.0);
  }
  Tensor after = autocast::lower(w);
  EXPECT_NE(before.impl(), after.impl());
  EXPECT_EQ(values(after), values(rounded(w.detach(), DType::bf16)));
}

// A two-layer MLP's loss and gradients under CPU bf16 autocast, against the same model in f32.
TEST(Autocast, MlpTrainsCloseToFloat32) {
  manual_seed(6);
  Tensor x = randn({32, 20});
  Tensor labels = randint(0, 5, {32});
  Tensor w1 = (randn({64, 20}) * 0.2).requires_grad_(), b1 = (randn({64}) * 0.1).requires_grad_();
  Tensor w2 = (randn({5, 64}) * 0.2).requires_grad_(), b2 = (randn({5}) * 0.1).requires_grad_();
  auto forward = [&] { return F::cross_entropy(linear(relu(linear(x, w1, b1)), w2, b2), labels); };

  Tensor loss32 = forward();
  loss32.backward();
  std::vector<std::vector<double>> grads32;
  for (Tensor* p : {&w1, &b1, &w2, &b2}) {
    grads32.push_back(values(p->grad()));
    p->set_grad(zeros_like(*p));
  }

  Tensor loss16, hidden;
  {
    autocast::Guard guard(Device::cpu(), DType::bf16);
    hidden = linear(x, w1, b1);
    loss16 = F::cross_entropy(linear(relu(hidden), w2, b2), labels);
  }
  EXPECT_EQ(hidden.dtype(), DType::bf16);
  EXPECT_EQ(loss16.dtype(), DType::f32);
  loss16.backward();
  EXPECT_NEAR(loss16.item<double>(), loss32.item<double>(), 2e-2 * std::abs(loss32.item<double>()));
  EXPECT_NE(loss16.item<double>(), loss32.item<double>());  // the bf16 path really ran
  int i = 0;
  for (Tensor* p : {&w1, &b1, &w2, &b2}) {
    ASSERT_EQ(p->grad().dtype(), DType::f32);
    std::vector<double> g = values(p->grad());
    double scale = 0, err = 0;
    for (size_t k = 0; k < g.size(); ++k) {
      scale = std::max(scale, std::abs(grads32[i][k]));
      err = std::max(err, std::abs(g[k] - grads32[i][k]));
    }
    EXPECT_LE(err, 3e-2 * scale) << "parameter " << i;
    ++i;
  }
}

TEST(Autocast, ModulesUnderAutocast) {
  manual_seed(7);
  nn::Sequential model{nn::Linear(8, 16), nn::ReLU(), nn::Linear(16, 4)};
  Tensor x = randn({5, 8});
  Tensor y;
  {
    autocast::Guard guard(Device::cpu());
    y = model(x);
    EXPECT_EQ(y.dtype(), DType::bf16);
    F::mse_loss(y, zeros({5, 4})).backward();
  }
  for (const Tensor& p : model.parameters()) {
    EXPECT_EQ(p.dtype(), DType::f32);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().dtype(), DType::f32);
  }
}

}  // namespace
}  // namespace kiln
