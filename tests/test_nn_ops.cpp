// tests/test_nn_ops.cpp: behaviour of the neural-network ops beyond the op table: dropout's random masks
// (identity cases, drop fraction, scaling, gradient, reproducibility), batch_norm's running statistics,
// conv2d against a naive loop, and every argument/shape error with its message.
#include <gtest/gtest.h>

#include <cmath>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace kiln::testing {
namespace {

// ---- dropout ----
TEST(Dropout, IdentityWhenEvaluatingOrPZero) {
  manual_seed(1);
  Tensor x = randn({4, 5});
  EXPECT_EQ(values(dropout(x, 0.5, false)), values(x));
  EXPECT_EQ(values(dropout(x, 0.0, true)), values(x));
  EXPECT_EQ(values(dropout2d(randn({2, 3, 2, 2}), 0.7, false)).size(), 24u);
}

TEST(Dropout, DropsAboutPAndScalesTheRest) {
  manual_seed(7);
  const double p = 0.3;
  Tensor x = ones({200, 500});
  auto y = values(dropout(x, p, true));
  int64_t zeros_seen = 0;
  for (double v : y) {
    if (v == 0.0) {
      ++zeros_seen;
    } else {
      EXPECT_NEAR(v, 1.0 / (1.0 - p), 1e-6);
    }
  }
  double frac = double(zeros_seen) / double(y.size());
  // 100,000 draws: the standard deviation of the fraction is about 0.0014.
  EXPECT_NEAR(frac, p, 0.01);
}

TEST(Dropout, GradientIsTheScaledMask) {
  manual_seed(3);
  const double p = 0.4;
  Tensor x = randn({30, 40}, {.dtype = DType::f64, .requires_grad = true});
  Tensor y = dropout(x, p, true);
  y.sum().backward();
  auto xv = values(x), yv = values(y), g = values(x.grad());
  for (size_t i = 0; i < xv.size(); ++i) {
    double mask = yv[i] == 0.0 ? 0.0 : 1.0 / (1.0 - p);
    EXPECT_DOUBLE_EQ(g[i], mask) << i;
    EXPECT_NEAR(yv[i], xv[i] * mask, 1e-12) << i;
  }
}

TEST(Dropout, SameSeedSameMask) {
  Tensor x = ones({64, 64});
  manual_seed(11);
  auto a = values(dropout(x, 0.5, true));
  manual_seed(11);
  auto b = values(dropout(x, 0.5, true));
  auto c = values(dropout(x, 0.5, true));  // the stream moved on
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Dropout2d, ZeroesWholeChannels) {
  manual_seed(5);
  Tensor x = ones({8, 16, 3, 3});
  Tensor y = dropout2d(x, 0.5, true);
  auto v = values(y);
  int dropped = 0;
  for (int64_t nc = 0; nc < 8 * 16; ++nc) {
    double first = v[nc * 9];
    for (int k = 1; k < 9; ++k) EXPECT_EQ(v[nc * 9 + k], first) << "channel " << nc;
    EXPECT_TRUE(first == 0.0 || first == 2.0);
    dropped += first == 0.0;
  }
  EXPECT_GT(dropped, 30);
  EXPECT_LT(dropped, 98);
}

TEST(Dropout, BadP) {
  Tensor x = ones({2, 3});
  EXPECT_CONTAINS(error_of([&] { dropout(x, 1.0, true); }), "dropout: p must lie in [0, 1), got 1");
  EXPECT_CONTAINS(error_of([&] { dropout(x, -0.1, true); }), "[2, 3]");
  EXPECT_CONTAINS(error_of([&] { dropout2d(ones({2, 3, 4, 4}), 1.5, true); }), "dropout2d: p must lie");
  EXPECT_CONTAINS(error_of([&] { dropout2d(x, 0.5, true); }), "dropout2d: input must be (N, C, H, W)");
}

// ---- conv2d against a direct loop ----
TEST(Conv2d, MatchesNaiveLoop) {
  manual_seed(2);
  const int64_t N = 2, C = 4, H = 7, W = 6, O = 6, G = 2, KH = 3, KW = 2;
  Tensor x = randn({N, C, H, W}, {.dtype = DType::f64});
  Tensor w = randn({O, C / G, KH, KW}, {.dtype = DType::f64});
  Tensor b = randn({O}, {.dtype = DType::f64});
  const int64_t sh = 2, sw = 1, ph = 1, pw = 2, dh = 1, dw = 2;
  Tensor y = conv2d(x, w, b, {sh, sw}, {ph, pw}, {dh, dw}, G);
  const int64_t HO = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1,
                WO = (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1;
  ASSERT_EQ(y.shape(), (Shape{N, O, HO, WO}));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < HO; ++i)
        for (int64_t j = 0; j < WO; ++j) {
          double s = b.at<double>({o});
          const int64_t g = o / (O / G);
          for (int64_t c = 0; c < C / G; ++c)
            for (int64_t ki = 0; ki < KH; ++ki)
              for (int64_t kj = 0; kj < KW; ++kj) {
                int64_t ih = i * sh - ph + ki * dh, iw = j * sw - pw + kj * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x.at<double>({n, g * (C / G) + c, ih, iw}) * w.at<double>({o, c, ki, kj});
              }
          EXPECT_NEAR(y.at<double>({n, o, i, j}), s, 1e-12);
        }
}

TEST(Conv1d, EqualsConv2dOnHeightOne) {
  manual_seed(4);
  Tensor x = randn({2, 3, 10}, {.dtype = DType::f64});
  Tensor w = randn({5, 3, 4}, {.dtype = DType::f64});
  auto a = values(conv1d(x, w, {}, 2, 1, 2));
  auto b = values(conv2d(x.unsqueeze(2), w.unsqueeze(2), {}, {1, 2}, {0, 1}, {1, 2}));
  EXPECT_EQ(a, b);
}

TEST(MaxPool2d, PicksWindowMaxima) {
  Tensor x = from_vector<double>({1, 5, 2, 0, 3, 4, 9, 8, 7, 6, -1, -2, 0, 0, 0, 1}, Shape{1, 1, 4, 4});
  EXPECT_EQ(values(max_pool2d(x, {2, 2})), (std::vector<double>{5, 9, 7, 1}));
  // Padding is -inf, never a maximum; ceil_mode adds the overhanging window.
  EXPECT_EQ(values(max_pool2d(x, {2, 2}, {2, 2}, {1, 1})), (std::vector<double>{1, 5, 0, 7, 9, 8, 0, 0, 1}));
  EXPECT_EQ(max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, true).shape(), (Shape{1, 1, 2, 2}));
}

// The 2x2/stride-2 kernel path and the general path agree with PyTorch on ties (the first maximum in
// row-major order is returned and gets the gradient) and NaN (the window's last NaN wins).
TEST(MaxPool2d, TiesAndNaNOnBothKernelPaths) {
  const double nan = std::nan("");
  // A fifth column makes ceil_mode add a partial window, which sends the whole call down the general path.
  Tensor x5 = from_vector<double>({2, 2, 1, nan, 7, 2, 0, 3, nan, 7, 5, 5, 0, 0, -1, 5, 5, 0, 0, -2},
                                  Shape{1, 1, 4, 5});
  for (bool general : {false, true}) {
    SCOPED_TRACE(general ? "general path" : "2x2 path");
    Tensor xi = (general ? x5 : contiguous(narrow(x5, 3, 0, 4))).detach().requires_grad_();
    Tensor y = max_pool2d(xi, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
    auto v = values(y);
    ASSERT_EQ(v.size(), general ? 6u : 4u);
    const size_t row = general ? 3 : 2;
    EXPECT_EQ(v[0], 2.0);
    EXPECT_TRUE(std::isnan(v[1]));
    EXPECT_EQ(v[row], 5.0);
    EXPECT_EQ(v[row + 1], 0.0);
    y.backward(ones_like(y));
    std::vector<double> want =
        general ? std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0}
                : std::vector<double>{1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0};
    EXPECT_EQ(values(xi.grad()), want);
  }
}

TEST(BatchNorm, RunningStatisticsFollowPyTorch) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 10}, Shape{4, 2});
  Tensor rm = zeros({2}, {.dtype = DType::f64}), rv = ones({2}, {.dtype = DType::f64});
  batch_norm(x, rm, rv, {}, {}, true, 0.25);
  // channel 0: 1, 3, 5, 7 (mean 4, unbiased var 20/3); channel 1: 2, 4, 6, 10 (mean 5.5, var 35/3)
  EXPECT_NEAR(rm.at<double>({0}), 0.25 * 4, 1e-12);
  EXPECT_NEAR(rm.at<double>({1}), 0.25 * 5.5, 1e-12);
  EXPECT_NEAR(rv.at<double>({0}), 0.75 + 0.25 * 20.0 / 3.0, 1e-12);
  EXPECT_NEAR(rv.at<double>({1}), 0.75 + 0.25 * 35.0 / 3.0, 1e-12);
  Tensor y = batch_norm(x, rm, rv, {}, {}, false);
  EXPECT_NEAR(y.at<double>({0, 0}), (1 - rm.at<double>({0})) / std::sqrt(rv.at<double>({0}) + 1e-5), 1e-12);
}

// ---- errors ----
TEST(NnOpErrors, Conv) {
  Tensor x = ones({2, 4, 5, 5}), w = ones({6, 2, 3, 3});
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(ones({4, 5, 5}), w);
                  }),
                  "conv2d: input must be (N, C_in, H, W), got [4, 5, 5]");
  EXPECT_CONTAINS(error_of([&] { conv2d(x, ones({6, 2, 3})); }), "conv2d: weight must be");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 1}, 3);
                  }),
                  "must both be divisible by groups (3)");
  EXPECT_CONTAINS(error_of([&] { conv2d(x, w); }), "conv2d: weight [6, 2, 3, 3] expects 2 input channels");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 7, 3}));
                  }),
                  "conv2d: kernel 7x3 (dilation (1, 1)) is larger than the padded input 5x5");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 3, 3}), {}, {1, 1}, {-1, 0});
                  }),
                  "conv2d: padding must be non-negative, got (-1, 0) (input [2, 4, 5, 5])");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 3, 3}), {}, {0, 1});
                  }),
                  "conv2d: stride must be positive");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 3, 3}), {}, {1, 1}, {0, 0}, {0, 1});
                  }),
                  "conv2d: dilation must be positive");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 3, 3}), ones({5}));
                  }),
                  "conv2d: bias [5] must be (6)");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(x, ones({6, 4, 3, 3}, {.dtype = DType::f64}));
                  }),
                  "conv2d: dtype mismatch");
  EXPECT_CONTAINS(error_of([&] {
                    conv2d(ones({1, 1, 3, 3}, {.dtype = DType::i64}), ones({1, 1, 1, 1}));
                  }),
                  "conv2d: needs a floating tensor");
  EXPECT_CONTAINS(error_of([&] {
                    conv1d(ones({2, 3}), ones({1, 3, 1}));
                  }),
                  "conv1d: input must be (N, C_in, L)");
  EXPECT_CONTAINS(error_of([&] { conv1d(ones({2, 3, 4}), ones({1, 3})); }), "conv1d: weight must be");
  EXPECT_CONTAINS(error_of([&] {
                    conv1d(ones({2, 3, 4}), ones({2, 3, 5}));
                  }),
                  "conv1d: kernel 5 (dilation 1) is larger than the padded input length 4; input [2, 3, 4]");
  EXPECT_CONTAINS(error_of([&] {
                    conv1d(ones({2, 3, 4}), ones({2, 2, 2}));
                  }),
                  "conv1d: input [2, 3, 4] and weight [2, 2, 2] do not match with groups = 1");
  EXPECT_CONTAINS(error_of([&] {
                    conv1d(ones({2, 3, 4}), ones({2, 3, 2}), {}, 0);
                  }),
                  "conv1d: stride (0), dilation (1) and groups (1) must be positive");
  EXPECT_CONTAINS(error_of([&] {
                    conv_transpose2d(x, ones({4, 3, 3, 3}), {}, {2, 2}, {0, 0}, {2, 0});
                  }),
                  "conv_transpose2d: output_padding (2, 0) must be smaller than either stride (2, 2)");
  EXPECT_CONTAINS(error_of([&] {
                    conv_transpose2d(x, ones({3, 3, 3, 3}));
                  }),
                  "conv_transpose2d: weight [3, 3, 3, 3] expects 3 input channels");
  EXPECT_CONTAINS(error_of([&] {
                    conv_transpose2d(x, ones({4, 3, 3, 3}), {}, {1, 1}, {0, 0}, {0, 0}, 3);
                  }),
                  "conv_transpose2d: input channels (4) must be divisible by groups (3)");
  EXPECT_CONTAINS(error_of([&] {
                    conv_transpose2d(ones({1, 1, 1, 1}), ones({1, 1, 1, 1}), {}, {1, 1}, {1, 1});
                  }),
                  "gives an empty output");
}

TEST(NnOpErrors, Pool) {
  Tensor x = ones({1, 2, 4, 4});
  EXPECT_CONTAINS(error_of([&] {
                    max_pool2d(ones({2, 4, 4}), {2, 2});
                  }),
                  "max_pool2d: input must be (N, C, H, W), got [2, 4, 4]");
  EXPECT_CONTAINS(error_of([&] { max_pool2d(x, {0, 2}); }), "max_pool2d: kernel must be positive");
  EXPECT_CONTAINS(error_of([&] {
                    max_pool2d(x, {2, 2}, {2, 2}, {2, 0});
                  }),
                  "max_pool2d: padding (2, 0) must be at most half the kernel (2, 2) (input [1, 2, 4, 4])");
  EXPECT_CONTAINS(error_of([&] {
                    max_pool2d(x, {5, 5});
                  }),
                  "max_pool2d: kernel (5, 5) (dilation (1, 1)) is larger");
  EXPECT_CONTAINS(error_of([&] {
                    avg_pool2d(x, {2, 2}, {2, 2}, {-1, 0});
                  }),
                  "avg_pool2d: padding must be non-negative");
  EXPECT_CONTAINS(error_of([&] { avg_pool2d(x, {2, 2}, {-1, 1}); }), "avg_pool2d: stride must be positive");
  EXPECT_CONTAINS(error_of([&] {
                    adaptive_avg_pool2d(ones({4, 4}), {2, 2});
                  }),
                  "adaptive_avg_pool2d: input must be (N, C, H, W), got [4, 4]");
  EXPECT_CONTAINS(error_of([&] {
                    adaptive_avg_pool2d(x, {0, 2});
                  }),
                  "adaptive_avg_pool2d: output_size must be positive");
}

TEST(NnOpErrors, NormPadEmbedding) {
  EXPECT_CONTAINS(error_of([&] {
                    batch_norm(ones({1, 3}), {}, {}, {}, {}, true);
                  }),
                  "batch_norm: training needs more than one value per channel, got input [1, 3]");
  EXPECT_CONTAINS(error_of([&] {
                    batch_norm(ones({4, 3}), ones({2}), {}, {}, {}, true);
                  }),
                  "batch_norm: running_mean [2] must be (3) for input [4, 3]");
  EXPECT_CONTAINS(error_of([&] {
                    batch_norm(ones({4, 3}), {}, {}, {}, {}, false);
                  }),
                  "batch_norm: evaluation mode (training = false) needs running_mean and running_var");
  EXPECT_CONTAINS(error_of([&] { batch_norm(ones({4}), {}, {}, {}, {}, true); }),
                  "batch_norm: input must be");
  EXPECT_CONTAINS(error_of([&] {
                    layer_norm(ones({2, 3, 4}), {3});
                  }),
                  "layer_norm: normalized_shape [3] must match the last dims of input [2, 3, 4]");
  EXPECT_CONTAINS(error_of([&] {
                    layer_norm(ones({2, 4}), {4}, ones({3}));
                  }),
                  "layer_norm: weight [3] must have normalized_shape [4]");
  EXPECT_CONTAINS(error_of([&] {
                    group_norm(ones({2, 6, 3}), 4);
                  }),
                  "group_norm: channels (6) must be divisible by num_groups (4)");
  EXPECT_CONTAINS(error_of([&] {
                    group_norm(ones({2, 6, 3}), 3, ones({5}));
                  }),
                  "group_norm: weight [5] must be (6)");
  EXPECT_CONTAINS(error_of([&] {
                    pad(ones({2, 3}), {1});
                  }),
                  "pad: pads [1] must hold one (before, after) pair");
  EXPECT_CONTAINS(error_of([&] {
                    pad(ones({2, 3}), {1, 1, 1, 1, 1, 1});
                  }),
                  "at most 2 pairs for input [2, 3]");
  EXPECT_CONTAINS(error_of([&] { pad(ones({2, 3}), {1, -1}); }), "pad: padding sizes must be non-negative");
  Tensor w = ones({5, 3});
  EXPECT_CONTAINS(error_of([&] {
                    embedding(w, from_vector<int64_t>({0, 5, 2}));
                  }),
                  "embedding: index 5 is out of range for num_embeddings 5");
  EXPECT_CONTAINS(error_of([&] { embedding(w, from_vector<int64_t>({-1})); }),
                  "embedding: index -1 is out of range");
  EXPECT_CONTAINS(error_of([&] { embedding(w, from_vector<int64_t>({1}), 7); }),
                  "embedding: padding_idx 7 must lie in [0, 5) or be -1");
  EXPECT_CONTAINS(error_of([&] { embedding(w, ones({2})); }), "embedding: indices must be i64");
  EXPECT_CONTAINS(error_of([&] { embedding(ones({5}), from_vector<int64_t>({1})); }),
                  "embedding: weight must be (num_embeddings, D), got [5]");
}

TEST(Embedding, PaddingRowGetsNoGradient) {
  Tensor w = randn({4, 2}, {.dtype = DType::f64, .requires_grad = true});
  Tensor idx = from_vector<int64_t>({0, 2, 2, 3, 0}, Shape{5});
  embedding(w, idx, 2).sum().backward();
  EXPECT_EQ(values(w.grad()), (std::vector<double>{2, 2, 0, 0, 0, 0, 1, 1}));
}

}  // namespace
}  // namespace kiln::testing
