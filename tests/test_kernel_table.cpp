// tests/test_kernel_table.cpp: the kernel table's mechanics (tensor/backend.h): registration refuses a
// table with an empty slot and names the backend and the slot, the typed support queries answer the
// shared dtype rules, the one "not supported" error names the op, the device and the dtype at the
// caller's line, and the activations written once (kernels/shared/activation_math.h) give the same bits
// through the unary kernels and the fused bias + activation kernel.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kiln/kernels/shared/optim_math.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no kiln::Error)";
}

TEST(KernelTable, RegistrationRefusesAnEmptySlotAndNamesIt) {
  const Backend& cpu = backend(Device::cpu());
  Backend broken = cpu;
  broken.gemm = nullptr;
  const std::string what = error_of([&] { register_backend(DeviceType::cpu, &broken); });
  EXPECT_NE(what.find("cpu kernel table has no 'gemm' kernel"), std::string::npos) << what;
  Backend no_query = cpu;
  no_query.supports_conv = nullptr;
  const std::string what2 = error_of([&] { register_backend(DeviceType::cpu, &no_query); });
  EXPECT_NE(what2.find("'supports_conv'"), std::string::npos) << what2;
  // The refused table was not installed: the registered one is still the complete CPU table.
  EXPECT_EQ(&backend(Device::cpu()), &cpu);
  EXPECT_NE(backend(Device::cpu()).gemm, nullptr);
  // A complete table registers (here the same one again).
  EXPECT_NO_THROW(register_backend(DeviceType::cpu, &cpu));
}

TEST(KernelTable, EverySlotOfTheCpuTableIsFilled) {
  const Backend& cpu = backend(Device::cpu());
  EXPECT_STREQ(cpu.name, "cpu");
#define KILN_X(slot) EXPECT_NE(cpu.slot, nullptr) << #slot;
  KILN_KERNEL_SLOTS(KILN_X)
#undef KILN_X
#define KILN_X(Kind, family) EXPECT_NE(cpu.supports_##family, nullptr) << #family;
  KILN_KERNEL_FAMILIES(KILN_X)
#undef KILN_X
}

TEST(KernelTable, TypedSupportQueriesFollowTheDtypeRules) {
  const Backend& cpu = backend(Device::cpu());
  // Unary: integer forms for the sign-like kernels, floating for the functions, bool for logical_not;
  // f16/bf16 take what f32 takes.
  EXPECT_TRUE(cpu.supports(UnaryKernel::abs, DType::i32));
  EXPECT_FALSE(cpu.supports(UnaryKernel::exp, DType::i64));
  EXPECT_TRUE(cpu.supports(UnaryKernel::gelu, DType::bf16));
  EXPECT_TRUE(cpu.supports(UnaryKernel::logical_not, DType::boolean));
  EXPECT_FALSE(cpu.supports(UnaryKernel::logical_not, DType::f32));
  // Binary: pow floating only, logical ops bool only, comparisons also bool.
  EXPECT_FALSE(cpu.supports(BinaryKernel::pow, DType::i64));
  EXPECT_TRUE(cpu.supports(BinaryKernel::add, DType::u8));
  EXPECT_TRUE(cpu.supports(BinaryKernel::eq, DType::boolean));
  EXPECT_FALSE(cpu.supports(BinaryKernel::add, DType::boolean));
  // Families with one rule.
  EXPECT_FALSE(cpu.supports(GemmKernel::gemm, DType::i64));
  EXPECT_TRUE(cpu.supports(ConvKernel::max_pool2d, DType::f16));
  EXPECT_FALSE(cpu.supports(FusedKernel::bias_act, DType::f16));
  EXPECT_TRUE(cpu.supports(FusedKernel::softmax, DType::f64));
  EXPECT_TRUE(cpu.supports(BatchNormKernel::backward, DType::f32));
  EXPECT_FALSE(cpu.supports(BatchNormKernel::forward, DType::bf16));
  EXPECT_TRUE(cpu.supports(RandomKernel::randint, DType::u8));
  EXPECT_FALSE(cpu.supports(RandomKernel::randint, DType::boolean));
  EXPECT_FALSE(cpu.supports(RandomKernel::normal, DType::i32));
  EXPECT_TRUE(cpu.supports(ReduceKernel::argmax, DType::boolean));
  EXPECT_TRUE(cpu.supports(OptimKernel::adam, DType::f64));
  EXPECT_FALSE(cpu.supports(OptimKernel::sgd, DType::f16));
}

TEST(KernelTable, TheNotSupportedErrorNamesOpDeviceDtypeAndCaller) {
  const std::string direct =
      error_of([] { check_supported(UnaryKernel::logical_not, DType::f32, Device::cpu(), "logical_not"); });
  EXPECT_NE(direct.find("logical_not: not supported on cpu for f32"), std::string::npos) << direct;
  EXPECT_NE(direct.find("test_kernel_table.cpp"), std::string::npos) << direct;  // the caller's file
  // Through ops: a random draw, a matmul and an elementwise kernel report the same way.
  const std::string draw = error_of([] { randint(0, 2, {3}, {.dtype = DType::boolean}); });
  EXPECT_NE(draw.find("randint: not supported on cpu for bool"), std::string::npos) << draw;
  const Tensor i = arange(int64_t{4}).reshape({2, 2});
  const std::string mm = error_of([&] { matmul(i, i); });
  EXPECT_NE(mm.find("matmul: not supported on cpu for i64"), std::string::npos) << mm;
  const Tensor b = full({2}, 1.0, {.dtype = DType::boolean});
  const std::string add = error_of([&] {
    Tensor c = b.clone();
    c.add_(b);
  });
  EXPECT_NE(add.find("not supported on cpu for bool"), std::string::npos) << add;
}

// The activations' formulas live once; the unfused kernel and the fused one must agree to the bit where
// both use the scalar form (gelu, leaky_relu), in f32 and f64.
TEST(KernelTable, UnfusedAndFusedActivationsAgreeBitwise) {
  for (DType t : {DType::f32, DType::f64}) {
    Tensor x = randn({7, 33}, {.dtype = t}) * 4.0;
    Tensor zero = zeros({33}, {.dtype = t});
    Tensor g_unfused = gelu(x), g_fused = bias_act(x, zero, Activation::gelu);
    Tensor l_unfused = leaky_relu(x, 0.2), l_fused = bias_act(x, zero, Activation::leaky_relu, 0.2);
    const auto bytes = [](const Tensor& a) { return static_cast<size_t>(a.numel()) * dtype_size(a.dtype()); };
    EXPECT_EQ(std::memcmp(g_unfused.data_ptr(), g_fused.data_ptr(), bytes(x)), 0) << dtype_name(t);
    EXPECT_EQ(std::memcmp(l_unfused.data_ptr(), l_fused.data_ptr(), bytes(x)), 0) << dtype_name(t);
  }
}

}  // namespace
}  // namespace kiln::testing
