// tests/test_cuda_conv.cpp: the CUDA convolution and max-pooling kernels against the CPU kernels on the
// same inputs: conv2d with its two backwards (through autograd) over strides, padding, dilation, groups
// (depthwise included), 1x1, bias or none, batch 1 and larger, odd sizes; conv_transpose2d; max_pool2d and
// its backward (padding, dilation, ceil_mode, NaN); and a Conv2d-BatchNorm-ReLU-MaxPool-Linear model's
// loss and parameter gradients. Every conv case runs twice on CUDA: through cuDNN (where kiln has it) and
// through the im2col fallback. f16/bf16 conv2d (both backwards) and max pooling are compared with the CPU's
// reduced-precision reference kernels, and the small model trains under autocast close to f32. Without a
// device every test prints "skipped: no CUDA device".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "kiln/kernels/cuda/cuda.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

#define REQUIRE_CUDA() \
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device"

// Routes the CUDA convolutions through the fallback for its scope (and restores the default after).
class FallbackOnly {
 public:
  explicit FallbackOnly(bool on) { cuda::detail::set_conv_fallback_only(on); }
  ~FallbackOnly() { cuda::detail::set_conv_fallback_only(false); }
};

// The two CUDA paths each case runs on.
struct Path {
  const char* name;
  bool fallback_only;
};
constexpr Path kPaths[] = {{"cudnn", false}, {"fallback", true}};

double tol_for(DType t) { return t == DType::f64 ? 1e-10 : 2e-4; }

// One unit in the last place at 1 for the reduced dtypes.
double eps_of(DType t) { return t == DType::f16 ? 0x1p-10 : 0x1p-7; }
constexpr DType kLow[] = {DType::f16, DType::bf16};

// got (any device) equals want (CPU) within tol relative to the tensor's scale; NaN where want has NaN.
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = values(got.to(Device::cpu())), w = values(want);
  double scale = 1;
  for (double v : w)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      ASSERT_TRUE(std::isnan(g[i])) << what << " element " << i << ": " << g[i] << " vs NaN";
    } else if (g[i] != w[i]) {  // (equal infinities pass here)
      ASSERT_LE(std::abs(g[i] - w[i]), tol * scale)
          << what << " element " << i << ": " << g[i] << " vs " << w[i];
    }
  }
}

struct ConvCase {
  const char* name;
  int64_t n, c_in, h, w, c_out, kh, kw;
  Int2 stride, padding, dilation;
  int64_t groups;
  bool bias;
};

const ConvCase kConvCases[] = {
    {"3x3_pad1", 2, 3, 9, 7, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
    {"stride_2x3_no_bias", 3, 4, 11, 10, 6, 3, 2, {2, 3}, {0, 1}, {1, 1}, 1, false},
    {"dilation", 2, 2, 12, 13, 3, 3, 3, {1, 2}, {2, 1}, {2, 3}, 1, true},
    {"groups_2", 2, 6, 8, 8, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2, true},
    {"depthwise", 2, 5, 9, 9, 5, 3, 3, {2, 2}, {1, 1}, {1, 1}, 5, false},
    {"depthwise_multiplier", 2, 4, 7, 8, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 4, true},
    {"pointwise", 4, 8, 6, 5, 3, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},
    {"pointwise_stride_2", 3, 5, 7, 6, 4, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1, false},
    {"batch_1_odd", 1, 3, 17, 23, 7, 5, 3, {1, 1}, {2, 1}, {1, 1}, 1, true},
    {"batch_16", 16, 8, 14, 14, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
    {"kernel_covers_input", 2, 3, 4, 5, 2, 4, 5, {1, 1}, {0, 0}, {1, 1}, 1, true},
};

// conv2d's output and the gradients of sum(y * gy) for x, weight and bias on `device`.
std::vector<Tensor> conv_with_grads(const ConvCase& c, Device device, DType t, uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn({c.n, c.c_in, c.h, c.w}, {.dtype = t}).to(device).requires_grad_();
  Tensor w = randn({c.c_out, c.c_in / c.groups, c.kh, c.kw}, {.dtype = t}).to(device).requires_grad_();
  Tensor b = c.bias ? randn({c.c_out}, {.dtype = t}).to(device).requires_grad_() : Tensor();
  Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
  Tensor gy = randn(y.shape(), {.dtype = t}).to(device);
  (y * gy).sum().backward();
  return {y, x.grad(), w.grad(), c.bias ? b.grad() : Tensor()};
}

TEST(CudaConv, Conv2dAndBothBackwardsMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64}) {
    for (const ConvCase& c : kConvCases) {
      std::vector<Tensor> want = conv_with_grads(c, Device::cpu(), t, 7);
      for (const Path& p : kPaths) {
        FallbackOnly mode(p.fallback_only);
        std::vector<Tensor> got = conv_with_grads(c, Device::cuda(), t, 7);
        const std::string what = std::string(c.name) + " " + p.name + " " + std::string(dtype_name(t));
        expect_close(got[0], want[0], tol_for(t), what + " output");
        expect_close(got[1], want[1], tol_for(t), what + " grad_x");
        expect_close(got[2], want[2], tol_for(t), what + " grad_weight");
        if (c.bias) expect_close(got[3], want[3], tol_for(t), what + " grad_bias");
      }
    }
  }
}

TEST(CudaConv, ReducedConv2dAndBothBackwardsMatchTheCpuReference) {
  REQUIRE_CUDA();
  // The CPU reference computes in f32 from the rounded inputs and rounds once; CUDA also computes in float
  // but rounds intermediates (the fallback's patch gradients, the bias added to a rounded output), so a
  // few units in the last place of the tensor's scale. A wrong kernel misses by O(1).
  for (DType t : kLow) {
    const double tol = 8 * eps_of(t);
    for (const ConvCase& c : kConvCases) {
      std::vector<Tensor> want = conv_with_grads(c, Device::cpu(), t, 7);
      for (const Path& p : kPaths) {
        FallbackOnly mode(p.fallback_only);
        std::vector<Tensor> got = conv_with_grads(c, Device::cuda(), t, 7);
        const std::string what = std::string(c.name) + " " + p.name + " " + std::string(dtype_name(t));
        ASSERT_EQ(got[0].dtype(), t) << what;
        expect_close(got[0], want[0], tol, what + " output");
        expect_close(got[1], want[1], tol, what + " grad_x");
        expect_close(got[2], want[2], tol, what + " grad_weight");
        if (c.bias) expect_close(got[3], want[3], tol, what + " grad_bias");
      }
    }
  }
}

TEST(CudaConv, TheFallbackChunksLargeBatches) {
  REQUIRE_CUDA();
  // 40 samples of a 64-channel 5x5 layer at 64x64: a 1 GB patch matrix, so the fallback runs in chunks
  // (its budget is 256 MB); the filter gradient sums the chunks.
  const ConvCase c{"chunked", 40, 64, 64, 64, 4, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, true};
  std::vector<Tensor> want = conv_with_grads(c, Device::cpu(), DType::f32, 3);
  FallbackOnly mode(true);
  std::vector<Tensor> got = conv_with_grads(c, Device::cuda(), DType::f32, 3);
  for (size_t i = 0; i < 4; ++i) expect_close(got[i], want[i], 5e-4, "chunked " + std::to_string(i));
}

TEST(CudaConv, TransposedConvolutionMatchesTheCpu) {
  REQUIRE_CUDA();
  struct Case {
    int64_t c_in, c_out, k;
    Int2 stride, padding, output_padding;
    int64_t groups;
    Int2 dilation;
  };
  // The last case's output_padding (1) is not below its stride (1): its input is larger than the forward
  // formula gives, which cuDNN cannot describe, so it runs on the fallback on both paths.
  const Case cases[] = {{4, 6, 3, {2, 2}, {1, 1}, {1, 1}, 1, {1, 1}},
                        {6, 4, 3, {2, 1}, {0, 1}, {1, 0}, 2, {1, 1}},
                        {3, 2, 2, {1, 1}, {0, 0}, {1, 1}, 1, {2, 2}}};
  for (const Case& c : cases) {
    auto run = [&](Device device) {
      manual_seed(11);
      Tensor x = randn({2, c.c_in, 5, 6}, {.dtype = DType::f64}).to(device).requires_grad_();
      Tensor w =
          randn({c.c_in, c.c_out / c.groups, c.k, c.k}, {.dtype = DType::f64}).to(device).requires_grad_();
      Tensor b = randn({c.c_out}, {.dtype = DType::f64}).to(device).requires_grad_();
      Tensor y = conv_transpose2d(x, w, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
      Tensor gy = randn(y.shape(), {.dtype = DType::f64}).to(device);
      (y * gy).sum().backward();
      return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
    };
    std::vector<Tensor> want = run(Device::cpu());
    for (const Path& p : kPaths) {
      FallbackOnly mode(p.fallback_only);
      std::vector<Tensor> got = run(Device::cuda());
      for (size_t i = 0; i < 4; ++i)
        expect_close(got[i], want[i], 1e-10, std::string(p.name) + " " + std::to_string(i));
    }
  }
}

TEST(CudaConv, SecondOrderGradientsMatchTheCpu) {
  REQUIRE_CUDA();
  // d/dw of |dL/dx|^2 runs the forward, backward-data and backward-filter kernels on recorded graphs.
  for (const Path& p : kPaths) {
    FallbackOnly mode(p.fallback_only);
    auto run = [](Device device) {
      manual_seed(5);
      Tensor x = randn({2, 3, 6, 6}, {.dtype = DType::f64}).to(device).requires_grad_();
      Tensor w = randn({4, 3, 3, 3}, {.dtype = DType::f64}).to(device).requires_grad_();
      Tensor y = conv2d(x, w, {}, {2, 2}, {1, 1});
      Tensor gx = autograd::grad({(y * y).sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
      (gx * gx).sum().backward();
      return std::vector<Tensor>{gx, w.grad()};
    };
    std::vector<Tensor> want = run(Device::cpu()), got = run(Device::cuda());
    for (size_t i = 0; i < 2; ++i)
      expect_close(got[i], want[i], 1e-10, std::string(p.name) + " " + std::to_string(i));
  }
}

struct PoolCase {
  const char* name;
  int64_t n, c, h, w;
  Int2 kernel, stride, padding, dilation;
  bool ceil_mode;
};

const PoolCase kPoolCases[] = {
    {"2x2", 2, 3, 8, 10, {2, 2}, {0, 0}, {0, 0}, {1, 1}, false},
    {"3x3_stride_2_pad_1", 2, 3, 9, 11, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false},
    {"ceil_mode", 1, 2, 9, 10, {3, 2}, {2, 3}, {1, 0}, {1, 1}, true},
    {"dilation", 2, 2, 11, 12, {3, 2}, {1, 2}, {1, 1}, {2, 3}, false},
    {"overlapping_ceil", 3, 4, 7, 7, {3, 3}, {2, 2}, {0, 0}, {1, 1}, true},
    // Dilation makes the only row window miss the input (both taps in the padding / past the end): the
    // kernels write -infinity with index 0, and the backward routes that gradient to position 0.
    {"empty_window", 1, 2, 1, 3, {2, 1}, {3, 2}, {1, 0}, {2, 1}, false},
    // Stride past the kernel (inputs no window reads get a zero gradient), with ceil_mode.
    {"stride_gt_kernel", 2, 3, 10, 13, {2, 1}, {3, 4}, {1, 0}, {1, 1}, true},
    // Several blocks of threads with a partial last block in both kernels (3315 inputs, 945 outputs).
    {"multi_block_tail", 3, 5, 13, 17, {3, 2}, {2, 2}, {1, 1}, {1, 2}, true},
};

std::vector<Tensor> pool_with_grad(const PoolCase& c, const Tensor& input, Device device) {
  Tensor x = input.to(device).requires_grad_();
  Tensor y = max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
  manual_seed(9);
  Tensor gy = randn(y.shape(), {.dtype = input.dtype()}).to(device);
  (y * gy).sum().backward();
  return {y, x.grad()};
}

TEST(CudaPool, MaxPoolAndItsBackwardMatchTheCpu) {
  REQUIRE_CUDA();
  // f16/bf16 too: both compare in float (exact) and the backward sums in float in the same order and
  // rounds once, so the CPU reference's results are matched exactly.
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    for (const PoolCase& c : kPoolCases) {
      manual_seed(2);
      Tensor x = randn({c.n, c.c, c.h, c.w}, {.dtype = t});
      std::vector<Tensor> want = pool_with_grad(c, x, Device::cpu());
      std::vector<Tensor> got = pool_with_grad(c, x, Device::cuda());
      // Exact: the same maxima, and each grad_x element sums the same terms in the same order.
      const std::string what = std::string(c.name) + " " + std::string(dtype_name(t));
      ASSERT_EQ(got[0].dtype(), t) << what;
      expect_close(got[0], want[0], 0, what + " output");
      expect_close(got[1], want[1], 0, what + " grad_x");
    }
  }
}

TEST(CudaPool, TiesAndNaNPickTheCpusIndex) {
  REQUIRE_CUDA();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Plane 0: ties (the first maximum wins). Plane 1: NaNs (the last NaN of a window wins). 4x4, 2x2 windows
  // with stride 1, so windows overlap and grad_x sums several gradients. The values are exact in f16 and
  // bf16, so the reduced types must pick the same elements (compared through the gradient's routing).
  std::vector<double> v = {1, 3,   3, 0, 3, 2,   1, 3, 0, 3, 3, 1, 2,   2, 2, 2,  //
                           1, nan, 0, 5, 4, nan, 2, 1, 0, 7, 7, 1, nan, 1, 2, nan};
  for (DType t : {DType::f64, DType::f16, DType::bf16}) {
    const std::string name(dtype_name(t));
    Tensor x = from_vector(v, Shape{1, 2, 4, 4}).to(t);
    const PoolCase c{"ties_nan", 1, 2, 4, 4, {2, 2}, {1, 1}, {0, 0}, {1, 1}, false};
    std::vector<Tensor> want = pool_with_grad(c, x, Device::cpu());
    std::vector<Tensor> got = pool_with_grad(c, x, Device::cuda());
    expect_close(got[0], want[0], 0, name + " output");
    expect_close(got[1], want[1], 0, name + " grad_x");
    // With padding, the -infinity border is never chosen: a window of one -inf value keeps its index.
    Tensor neg = full({1, 1, 2, 2}, -std::numeric_limits<double>::infinity(), {.dtype = t});
    const PoolCase p{"pad_neg_inf", 1, 1, 2, 2, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false};
    std::vector<Tensor> w2 = pool_with_grad(p, neg, Device::cpu()),
                        g2 = pool_with_grad(p, neg, Device::cuda());
    expect_close(g2[0], w2[0], 0, name + " -inf output");
    expect_close(g2[1], w2[1], 0, name + " -inf grad_x");
  }
}

TEST(CudaConv, SmallCnnLossAndGradientsMatchTheCpu) {
  REQUIRE_CUDA();
  for (const Path& p : kPaths) {
    FallbackOnly mode(p.fallback_only);
    manual_seed(21);
    nn::Sequential model{nn::Conv2d(3, 8, 3, nn::Conv2dOptions{.padding = 1}),
                         nn::BatchNorm2d(8),
                         nn::ReLU(),
                         nn::MaxPool2d(2),
                         nn::Flatten(),
                         nn::Linear(8 * 5 * 4, 5)};
    model.to(DType::f64);
    Tensor x = randn({6, 3, 10, 9}, {.dtype = DType::f64});
    Tensor target = randint(0, 5, {6});
    auto step = [&](Device device) {
      model.to(device);
      model.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model.forward(x.to(device)), target.to(device));
      loss.backward();
      std::vector<std::pair<std::string, Tensor>> out = {{"loss", loss.detach()}};
      for (auto& [name, param] : model.named_parameters()) out.emplace_back(name, param.grad());
      return out;
    };
    auto want = step(Device::cpu());
    auto got = step(Device::cuda());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      expect_close(got[i].second, want[i].second, 1e-9, std::string(p.name) + " " + want[i].first);
  }
}

TEST(CudaConv, SmallCnnTrainsUnderAutocastCloseToFloat32) {
  REQUIRE_CUDA();
  // The same Conv2d-BatchNorm-ReLU-MaxPool-Linear model trained for a few SGD steps in f32 and under
  // autocast (conv2d and linear in the low dtype, batch norm and the loss in f32): the losses track each
  // other and both fall. Runs on both convolution paths.
  auto make_model = [] {
    manual_seed(21);
    nn::Sequential model{nn::Conv2d(3, 8, 3, nn::Conv2dOptions{.padding = 1}),
                         nn::BatchNorm2d(8),
                         nn::ReLU(),
                         nn::MaxPool2d(2),
                         nn::Flatten(),
                         nn::Linear(8 * 5 * 4, 5)};
    model.to(Device::cuda());
    return model;
  };
  manual_seed(22);
  Tensor x = randn({16, 3, 10, 9}).to(Device::cuda()), target = randint(0, 5, {16}).to(Device::cuda());
  auto train = [&](std::optional<DType> low) {
    nn::Sequential model = make_model();
    optim::SGD opt(model.parameters(), {.lr = 0.1});
    std::vector<double> losses;
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      Tensor loss;
      {
        autocast::Guard guard(Device::cuda(), low.value_or(DType::f16), /*enabled=*/low.has_value());
        Tensor logits = model.forward(x);
        if (low) {
          EXPECT_EQ(logits.dtype(), *low);  // linear ran in the low dtype
        }
        loss = nn::functional::cross_entropy(logits, target);
      }
      EXPECT_EQ(loss.dtype(), DType::f32);
      loss.backward();
      for (const Tensor& param : model.parameters()) EXPECT_EQ(param.grad().dtype(), DType::f32);
      opt.step();
      losses.push_back(loss.item<double>());
    }
    return losses;
  };
  for (const Path& p : kPaths) {
    FallbackOnly mode(p.fallback_only);
    const std::vector<double> ref = train(std::nullopt);
    EXPECT_LT(ref.back(), ref.front()) << p.name;
    for (DType low : kLow) {
      const std::vector<double> got = train(low);
      const std::string what = std::string(p.name) + " " + std::string(dtype_name(low));
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], ref[i], std::max(1e-2, 4 * eps_of(low)) * std::abs(ref[i]) + 1e-3)
            << what << " step " << i;
      EXPECT_LT(got.back(), got.front()) << what;
    }
  }
}

TEST(CudaConv, SupportsFloatingDtypesAndNamesTheOpOtherwise) {
  REQUIRE_CUDA();
  const Backend& b = backend(Device::cuda());
  EXPECT_TRUE(b.supports(ConvKernel::conv2d, DType::f32));
  EXPECT_TRUE(b.supports(ConvKernel::conv2d, DType::f64));
  EXPECT_TRUE(b.supports(ConvKernel::conv2d, DType::f16));
  EXPECT_TRUE(b.supports(ConvKernel::conv2d, DType::bf16));
  EXPECT_FALSE(b.supports(ConvKernel::conv2d, DType::i64));
  EXPECT_CONTAINS(error_of([] {
                    conv2d(ones({1, 1, 3, 3}, {.dtype = DType::i64, .device = Device::cuda()}),
                           ones({1, 1, 1, 1}, {.dtype = DType::i64, .device = Device::cuda()}));
                  }),
                  "conv2d");
  // The fallback's own dtype check (reached only by a direct kernel call: the ops check supports()).
  FallbackOnly mode(true);
  Conv2dArgs a;
  a.n = 1, a.c_in = 1, a.h = 2, a.w = 2, a.c_out = 1, a.kh = 1, a.kw = 1, a.h_out = 2, a.w_out = 2;
  Tensor xi = zeros({1, 1, 2, 2}, {.dtype = DType::i32, .device = Device::cuda()});
  Tensor wi = zeros({1, 1, 1, 1}, {.dtype = DType::i32, .device = Device::cuda()});
  std::string e = error_of([&] {
    b.conv2d(a, xi, wi, Tensor(), zeros({1, 1, 2, 2}, {.dtype = DType::i32, .device = Device::cuda()}));
  });
  EXPECT_CONTAINS(e, "conv2d on CUDA: the im2col fallback");
  EXPECT_CONTAINS(e, "i32");
}

// Runs everywhere: the test switch itself.
TEST(CudaConv, FallbackSwitchRoundTrips) {
  EXPECT_FALSE(cuda::detail::conv_fallback_only());
  {
    FallbackOnly mode(true);
#ifdef KILN_WITH_CUDA
    EXPECT_TRUE(cuda::detail::conv_fallback_only());
#else
    EXPECT_FALSE(cuda::detail::conv_fallback_only());  // nothing to route without CUDA
    EXPECT_FALSE(cuda::detail::has_cudnn());
#endif
  }
  EXPECT_FALSE(cuda::detail::conv_fallback_only());
}

}  // namespace
}  // namespace kiln::testing
