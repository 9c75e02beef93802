// tests/test_cuda.cpp: the CUDA backend's own checks (the op table's CudaMatchesCpu mode in test_ops.cpp
// covers every op): device discovery, host <-> device copies, the caching allocator and its statistics,
// the random stream against the CPU's, GEMM and reductions against the CPU, and errors that name the op.
// Without a device every test that needs one prints "skipped: no CUDA device".
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!cuda::is_available()) GTEST_SKIP() << "skipped: no CUDA device"

void expect_same(const Tensor& got, const Tensor& want, double tol = 0) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got), w = values(want);
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << "element " << i;
    } else {
      ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
          << "element " << i << ": " << g[i] << " vs " << w[i];
    }
  }
}

TEST(Cuda, DiscoveryIsConsistent) {
  EXPECT_EQ(cuda::is_available(), cuda::device_count() > 0);
  EXPECT_EQ(has_backend(DeviceType::cuda), cuda::is_available());
  EXPECT_GE(cuda::device_count(), 0);
}

// tools/gpu-check.sh runs this first with KILN_REQUIRE_CUDA=1: on the GPU machine a device kiln cannot use
// must fail loudly, with kiln's reason, rather than let every other CUDA test skip.
TEST(Cuda, RequiredDeviceIsAvailable) {
  if (std::getenv("KILN_REQUIRE_CUDA") == nullptr)
    GTEST_SKIP() << "set KILN_REQUIRE_CUDA=1 to require a device";
  ASSERT_TRUE(cuda::is_available()) << "no usable CUDA device: "
                                    << error_of([] { empty({1}, {.device = Device::cuda()}); });
  EXPECT_GT(cuda::device_count(), 0);
}

TEST(Cuda, WithoutADeviceTensorsFailAndSayWhy) {
  if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  std::string e = error_of([] { empty({2}, {.device = Device::cuda()}); });
#ifdef KILN_WITH_CUDA
  EXPECT_CONTAINS(e, "no CUDA device");
#else
  EXPECT_CONTAINS(e, "KILN_CUDA");
#endif
  EXPECT_EQ(cuda::memory_allocated(), 0);
  EXPECT_CONTAINS(error_of([] { cuda::pin_memory(ones({2})); }), "pin_memory");
  EXPECT_FALSE(cuda::is_pinned(ones({2})));
}

TEST(Cuda, PinnedHostMemoryCopiesAsynchronouslyAndStaysAlive) {
  REQUIRE_CUDA();
  Tensor x = arange(0, 1000).to(DType::f32);
  Tensor on_device;
  {
    Tensor pinned = cuda::pin_memory(x);
    EXPECT_TRUE(cuda::is_pinned(pinned));
    EXPECT_FALSE(cuda::is_pinned(x));
    expect_same(pinned, x);
    on_device = pinned.to(Device::cuda());
  }  // the pinned storage must outlive the transfer that reads it
  expect_same(on_device.to(Device::cpu()), x);
  EXPECT_CONTAINS(error_of([&] { cuda::pin_memory(on_device); }), "needs a CPU tensor");
}

TEST(Cuda, CopiesRoundTripEveryDtypeAndLayout) {
  REQUIRE_CUDA();
  Tensor x = arange(0, 24).reshape({2, 3, 4});
  for (DType t : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::boolean}) {
    Tensor h = x.to(t);
    expect_same(h.to(Device::cuda()).to(Device::cpu()), h);
    // Strided and broadcast sources in both directions, and a conversion on the device.
    Tensor perm = h.permute({2, 0, 1});
    expect_same(perm.to(Device::cuda()).to(Device::cpu()), perm.contiguous());
    expect_same(h.to(Device::cuda()).permute({2, 0, 1}).to(Device::cpu()), perm.contiguous());
    expect_same(h.to(Device::cuda()).to(DType::f64).to(Device::cpu()), h.to(DType::f64));
  }
  Tensor row = from_vector<float>({1, 2, 3}, Shape{1, 3});
  Tensor dst = zeros({4, 3}, {.device = Device::cuda()});
  dst.copy_(row.to(Device::cuda()));
  expect_same(dst.to(Device::cpu()), row.expand({4, 3}).contiguous());
  EXPECT_EQ(full({}, 2.5, {.device = Device::cuda()}).item<double>(), 2.5);
}

TEST(Cuda, AllocatorReusesFreedBlocksAndCountsThem) {
  REQUIRE_CUDA();
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_cached(), 0);
  const int64_t before = cuda::memory_allocated();
  void* first = nullptr;
  {
    Tensor a = empty({1 << 20}, {.device = Device::cuda()});  // 4 MiB
    first = a.data_ptr();
    EXPECT_EQ(cuda::memory_allocated(), before + (4 << 20));
    EXPECT_GE(cuda::max_memory_allocated(), before + (4 << 20));
  }
  EXPECT_EQ(cuda::memory_allocated(), before);
  EXPECT_EQ(cuda::memory_cached(), 4 << 20);
  EXPECT_EQ(memory_stats(Device::cuda()).cached_bytes, 4 << 20);
  {
    Tensor b = empty({1 << 20}, {.device = Device::cuda()});
    EXPECT_EQ(b.data_ptr(), first) << "the freed block was not reused";
    EXPECT_EQ(cuda::memory_cached(), 0);
  }
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_cached(), 0);
}

TEST(Cuda, RandomDrawsTheCpuStream) {
  REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64}) {
    manual_seed(7);
    Tensor c = rand({1001}, {.dtype = t});
    Tensor cn = randn({1001}, {.dtype = t});
    manual_seed(7);
    Tensor g = rand({1001}, {.dtype = t, .device = Device::cuda()});
    Tensor gn = randn({1001}, {.dtype = t, .device = Device::cuda()});
    expect_same(g.to(Device::cpu()), c);  // bit-identical
    expect_same(gn.to(Device::cpu()), cn, 1e-6);
  }
  manual_seed(11);
  Tensor ci = randint(-5, 17, {999});
  Tensor cb = bernoulli({999}, 0.3);
  manual_seed(11);
  expect_same(randint(-5, 17, {999}, {.dtype = DType::i64, .device = Device::cuda()}).to(Device::cpu()), ci);
  expect_same(bernoulli({999}, 0.3, {.device = Device::cuda()}).to(Device::cpu()), cb);
}

TEST(Cuda, GemmMatchesCpuBatchedAndTransposed) {
  REQUIRE_CUDA();
  manual_seed(3);
  Tensor a = randn({3, 17, 33}), b = randn({3, 33, 9});
  Tensor want = matmul(a, b);
  expect_same(matmul(a.to(Device::cuda()), b.to(Device::cuda())).to(Device::cpu()), want, 1e-5);
  Tensor bt = b.transpose(1, 2).contiguous();
  expect_same(matmul(a.to(Device::cuda()), bt.to(Device::cuda()).transpose(1, 2)).to(Device::cpu()), want,
              1e-5);
  cuda::set_allow_tf32(true);
  expect_same(matmul(a.to(Device::cuda()), b.to(Device::cuda())).to(Device::cpu()), want, 2e-2);
  cuda::set_allow_tf32(false);
  Tensor a64 = a.to(DType::f64), b64 = b.to(DType::f64);
  expect_same(matmul(a64.to(Device::cuda()), b64.to(Device::cuda())).to(Device::cpu()), matmul(a64, b64),
              1e-12);
}

TEST(Cuda, ReductionsMatchCpuIncludingTiesAndNaN) {
  REQUIRE_CUDA();
  manual_seed(5);
  Tensor big = rand({3, 5000});
  expect_same(sum(big.to(Device::cuda()), {1}).to(Device::cpu()), sum(big, {1}), 1e-5);
  expect_same(sum(big.to(Device::cuda())).to(Device::cpu()), sum(big), 1e-5);
  // Long reduced axes with few outputs take the block-per-output kernel: every element counts, sums too
  // (its threads once skipped their first element), with an inner axis (I = 3) and R not a multiple of 256.
  Tensor mid = randn({2, 1500, 3});
  Tensor mid_dev = mid.to(Device::cuda());
  expect_same(sum(mid_dev, {1}).to(Device::cpu()), sum(mid, {1}), 1e-5);
  expect_same(argmin(mid_dev, 1).to(Device::cpu()), argmin(mid, 1));
  expect_same(max(mid_dev, 1).values.to(Device::cpu()), max(mid, 1).values);
  expect_same(sum(ones({1027}, {.device = Device::cuda()})).to(Device::cpu()), full({}, 1027.0));
  Tensor ties = from_vector<float>({1, 3, 3, 0, 2, 2, 2, 1}, Shape{2, 4});
  expect_same(argmax(ties.to(Device::cuda()), 1).to(Device::cpu()), argmax(ties, 1));
  Tensor long_ties = zeros({2, 3000});
  expect_same(argmax(long_ties.to(Device::cuda()), 1).to(Device::cpu()), argmax(long_ties, 1));
  Tensor nan = from_vector<float>({1, NAN, 5, NAN}, Shape{1, 4});
  auto [v, i] = max(nan.to(Device::cuda()), 1);
  EXPECT_TRUE(std::isnan(v.item<float>()));
  EXPECT_EQ(i.item<int64_t>(), 1);
}

TEST(Cuda, ScatterAddAccumulatesDuplicateIndices) {
  REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::i64}) {
    Tensor x = zeros({2, 3}, {.dtype = t});
    Tensor index = from_vector<int64_t>({0, 0, 2, 0, 1, 1, 1, 1}, Shape{2, 4});
    Tensor src = ones({2, 4}, {.dtype = t});
    Tensor want = scatter_add(x, 1, index, src);
    expect_same(scatter_add(x.to(Device::cuda()), 1, index.to(Device::cuda()), src.to(Device::cuda()))
                    .to(Device::cpu()),
                want);
  }
}

TEST(Cuda, ErrorsNameTheOpAndTheCudaStatus) {
  REQUIRE_CUDA();
  std::string e = error_of([] { empty({int64_t(1) << 50}, {.device = Device::cuda()}); });
  EXPECT_CONTAINS(e, "CUDA allocator");
  EXPECT_CONTAINS(e, "cudaMalloc");
  EXPECT_CONTAINS(e, "cudaErrorMemoryAllocation");
  e = error_of([] { empty({2}, {.device = Device::cuda(cuda::device_count())}); });
  EXPECT_CONTAINS(e, "requested, but there");
  // The failed allocation left the device usable.
  EXPECT_EQ(ones({3}, {.device = Device::cuda()}).sum().item<float>(), 3.0f);
}

}  // namespace
}  // namespace kiln::testing
