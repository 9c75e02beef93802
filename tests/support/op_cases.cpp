// tests/support/op_cases.cpp: the op table (see op_cases.h). Value ranges keep inputs away from the
// points where an op is not differentiable (0 for abs/relu, ties for max, bounds for clamp), since finite
// differences are meaningless there; the awkward cases at those points live in the PyTorch fixtures.
#include "support/op_cases.h"

#include <functional>

namespace kiln::testing {
namespace {

using In = InputSpec;
using V = std::vector<Tensor>;

Tensor f64(const Tensor& t) { return cast(t, DType::f64); }

OpCase unary(const std::string& op, std::function<Tensor(const Tensor&)> f, double lo = -2, double hi = 2) {
  return {op, "", {In::range({3, 4}, lo, hi)}, [f](const V& x) { return f(x[0]); }};
}

// Inputs of a case that are fixed by the test rather than differentiated (running statistics).
In constant_range(Shape s, double lo, double hi) {
  In in = In::range(std::move(s), lo, hi);
  in.differentiable = false;
  return in;
}

// ---- fused kernels: row softmax layouts, softmax + cross-entropy, bias + activation ----
void add_fused_cases(std::vector<OpCase>& c) {
  c.push_back(
      {"softmax", "middle_dim", {In::range({2, 5, 3}, -3, 3)}, [](const V& x) { return softmax(x[0], 1); }});
  c.push_back({"log_softmax", "middle_dim", {In::range({2, 5, 3}, -3, 3)}, [](const V& x) {
                 return log_softmax(x[0], 1);
               }});
  c.push_back(
      {"softmax", "large_rows", {In::range({64, 1000}, -5, 5)}, [](const V& x) { return softmax(x[0], 1); }});
  c.push_back({"log_softmax", "large_rows", {In::range({64, 1000}, -5, 5)}, [](const V& x) {
                 return log_softmax(x[0], -1);
               }});
  c.push_back({"softmax_cross_entropy",
               "plain",
               {In::range({4, 5}, -3, 3), In::index({4}, {0, 4, 2, 2})},
               [](const V& x) { return softmax_cross_entropy(x[0], x[1]); }});
  c.push_back({"softmax_cross_entropy",
               "weight_ignore_smoothing",
               {In::range({5, 4}, -3, 3), In::index({5}, {1, 3, 3, 0, 3}), constant_range({4}, 0.2, 2)},
               [](const V& x) { return softmax_cross_entropy(x[0], x[1], x[2], /*ignore_index=*/0, 0.2); }});
  c.push_back({"softmax_cross_entropy",
               "spatial_smoothing",
               {In::range({2, 3, 2, 2}, -3, 3), In::index({2, 2, 2}, {0, 1, 2, -100, 2, 2, 1, 0})},
               [](const V& x) { return softmax_cross_entropy(x[0], x[1], {}, -100, 0.1); }});
  c.push_back(
      {"softmax_cross_entropy", "unbatched", {In::range({6}, -3, 3), In::index({}, {4})}, [](const V& x) {
         return softmax_cross_entropy(x[0], x[1]);
       }});
  // A weight that requires grad takes the composite path (its gradient included).
  c.push_back({"softmax_cross_entropy",
               "weight_grad",
               {In::range({3, 4}, -3, 3), In::index({3}, {1, 0, 3}), In::range({4}, 0.2, 2)},
               [](const V& x) { return softmax_cross_entropy(x[0], x[1], x[2], -100, 0.3); }});
  c.push_back({"softmax_cross_entropy",
               "large",
               {In::range({256, 1000}, -5, 5), In::index({256}, std::vector<double>(256, 7.0))},
               [](const V& x) { return softmax_cross_entropy(x[0], x[1], {}, -100, 0.1); }});
  const std::pair<const char*, Activation> acts[] = {{"none", Activation::none},
                                                     {"relu", Activation::relu},
                                                     {"gelu", Activation::gelu},
                                                     {"silu", Activation::silu},
                                                     {"sigmoid", Activation::sigmoid},
                                                     {"tanh", Activation::tanh},
                                                     {"leaky_relu", Activation::leaky_relu}};
  for (auto [name, act] : acts)
    c.push_back({"bias_act", name, {In::range({3, 4}, -2, 2), In::range({4}, -1, 1)}, [act](const V& x) {
                   return bias_act(x[0], x[1], act, 0.2);
                 }});
  c.push_back(
      {"bias_act", "batched_gelu", {In::range({2, 3, 4}, -2, 2), In::range({4}, -1, 1)}, [](const V& x) {
         return bias_act(x[0], x[1], Activation::gelu);
       }});
  c.push_back(
      {"bias_act", "large_silu", {In::range({128, 512}, -3, 3), In::range({512}, -1, 1)}, [](const V& x) {
         return bias_act(x[0], x[1], Activation::silu);
       }});
  c.push_back({"linear",
               "gelu",
               {In::range({3, 4}, -1, 1), In::range({5, 4}, -1, 1), In::range({5}, -1, 1)},
               [](const V& x) { return linear(x[0], x[1], x[2], Activation::gelu); }});
  c.push_back(
      {"linear", "no_bias_tanh", {In::range({3, 4}, -1, 1), In::range({5, 4}, -1, 1)}, [](const V& x) {
         return linear(x[0], x[1], {}, Activation::tanh);
       }});
}

// ---- neural-network ops (conv, pooling, normalization, pad, dropout, embedding) ----
void add_nn_cases(std::vector<OpCase>& c) {
  c.push_back({"conv2d",
               "pad1_bias",
               {In::range({2, 3, 5, 5}, -1, 1), In::range({4, 3, 3, 3}, -1, 1), In::range({4}, -1, 1)},
               [](const V& x) {
                 return conv2d(x[0], x[1], x[2], {1, 1}, {1, 1});
               }});
  c.push_back({"conv2d",
               "stride_dilation_groups",
               {In::range({2, 4, 7, 6}, -1, 1), In::range({6, 2, 3, 2}, -1, 1), In::range({6}, -1, 1)},
               [](const V& x) {
                 return conv2d(x[0], x[1], x[2], {2, 1}, {1, 0}, {2, 1}, 2);
               }});
  c.push_back({"conv2d",
               "pointwise_no_bias",
               {In::range({2, 3, 4, 4}, -1, 1), In::range({5, 3, 1, 1}, -1, 1)},
               [](const V& x) { return conv2d(x[0], x[1]); }});
  c.push_back({"conv2d",
               "large_cnn_layer",
               {In::range({16, 8, 12, 12}, -1, 1), In::range({16, 8, 3, 3}, -1, 1), In::range({16}, -1, 1)},
               [](const V& x) {
                 return conv2d(x[0], x[1], x[2], {1, 1}, {1, 1});
               }});
  // Forward plus both gradients at a size where the backward kernels take their parallel paths.
  c.push_back({"conv2d",
               "large_backward",
               {In::range({16, 8, 10, 10}, -1, 1), In::range({8, 8, 3, 3}, -1, 1)},
               [](const V& x) {
                 Tensor xi = x[0].detach().requires_grad_(), wi = x[1].detach().requires_grad_();
                 auto g = autograd::grad({sum(square(conv2d(xi, wi, {}, {1, 1}, {1, 1})))}, {xi, wi});
                 return cat({reshape(g[0], {-1}), reshape(g[1], {-1})});
               }});
  c.push_back({"conv1d",
               "stride2_pad1",
               {In::range({2, 3, 9}, -1, 1), In::range({4, 3, 3}, -1, 1), In::range({4}, -1, 1)},
               [](const V& x) { return conv1d(x[0], x[1], x[2], 2, 1); }});
  c.push_back({"conv1d",
               "dilation_groups",
               {In::range({2, 4, 8}, -1, 1), In::range({2, 2, 2}, -1, 1)},
               [](const V& x) { return conv1d(x[0], x[1], {}, 1, 0, 3, 2); }});
  c.push_back({"conv_transpose2d",
               "stride2_output_padding",
               {In::range({2, 4, 3, 3}, -1, 1), In::range({4, 3, 3, 3}, -1, 1), In::range({3}, -1, 1)},
               [](const V& x) {
                 return conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1});
               }});
  c.push_back({"conv_transpose2d",
               "groups_dilation",
               {In::range({1, 4, 3, 4}, -1, 1), In::range({4, 1, 2, 3}, -1, 1)},
               [](const V& x) {
                 return conv_transpose2d(x[0], x[1], {}, {1, 2}, {0, 1}, {0, 1}, 2, {2, 1});
               }});
  c.push_back({"max_pool2d", "k2", {In::range({2, 3, 6, 6}, -1, 1)}, [](const V& x) {
                 return max_pool2d(x[0], {2, 2});
               }});
  c.push_back({"max_pool2d", "k3_s2_pad1_ceil", {In::range({1, 2, 8, 7}, -1, 1)}, [](const V& x) {
                 return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true);
               }});
  c.push_back({"max_pool2d", "dilation2_overlap", {In::range({1, 2, 7, 7}, -1, 1)}, [](const V& x) {
                 return max_pool2d(x[0], {2, 3}, {1, 2}, {1, 1}, {2, 1});
               }});
  c.push_back({"max_pool2d", "large", {In::range({16, 16, 28, 28}, -1, 1)}, [](const V& x) {
                 return max_pool2d(x[0], {2, 2});
               }});
  c.push_back({"avg_pool2d", "k2", {In::range({2, 3, 4, 6}, -1, 1)}, [](const V& x) {
                 return avg_pool2d(x[0], {2, 2});
               }});
  c.push_back({"avg_pool2d", "pad_ceil_exclude_pad", {In::range({1, 2, 7, 6}, -1, 1)}, [](const V& x) {
                 return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true, false);
               }});
  c.push_back({"avg_pool2d", "pad_ceil_include_pad", {In::range({1, 2, 7, 6}, -1, 1)}, [](const V& x) {
                 return avg_pool2d(x[0], {3, 2}, {2, 2}, {1, 1}, true, true);
               }});
  c.push_back({"adaptive_avg_pool2d", "non_divisible", {In::range({2, 2, 7, 5}, -1, 1)}, [](const V& x) {
                 return adaptive_avg_pool2d(x[0], {3, 2});
               }});
  c.push_back({"pad", "two_dims_value", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) {
                 return pad(x[0], {1, 2, 0, 1}, 0.5);
               }});
  c.push_back({"dropout", "eval_identity", {In::range({3, 4}, -1, 1)}, [](const V& x) {
                 return dropout(x[0], 0.5, false) * 2.0;
               }});
  c.push_back({"dropout", "p0_identity", {In::range({3, 4}, -1, 1)}, [](const V& x) {
                 return dropout(x[0], 0.0, true) * 2.0;
               }});
  c.push_back({"dropout2d", "eval_identity", {In::range({2, 3, 2, 2}, -1, 1)}, [](const V& x) {
                 return dropout2d(x[0], 0.3, false) * 2.0;
               }});
  c.push_back({"batch_norm",
               "train_4d_affine",
               {In::range({4, 3, 2, 2}, -1, 1), In::range({3}, 0.5, 1.5), In::range({3}, -1, 1)},
               [](const V& x) {
                 Tensor rm = zeros({3}, {.dtype = x[0].dtype()}), rv = ones({3}, {.dtype = x[0].dtype()});
                 return batch_norm(x[0], rm, rv, x[1], x[2], true);
               }});
  c.push_back({"batch_norm", "train_2d_no_stats", {In::range({5, 3}, -1, 1)}, [](const V& x) {
                 return batch_norm(x[0], {}, {}, {}, {}, true, 0.1, 1e-3);
               }});
  c.push_back({"batch_norm",
               "eval_3d",
               {In::range({2, 3, 4}, -1, 1), constant_range({3}, -0.5, 0.5), constant_range({3}, 0.5, 2),
                In::range({3}, 0.5, 1.5), In::range({3}, -1, 1)},
               [](const V& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], false); }});
  c.push_back({"batch_norm",
               "train_3d_weight_only",
               {In::range({3, 2, 5}, -1, 2), In::range({2}, 0.5, 1.5)},
               [](const V& x) { return batch_norm(x[0], {}, {}, x[1], {}, true); }});
  c.push_back({"batch_norm",
               "train_large",
               {In::range({8, 6, 10, 9}, -2, 3), In::range({6}, 0.5, 1.5), In::range({6}, -1, 1)},
               [](const V& x) {
                 Tensor rm = zeros({6}, {.dtype = x[0].dtype()}), rv = ones({6}, {.dtype = x[0].dtype()});
                 return batch_norm(x[0], rm, rv, x[1], x[2], true);
               }});
  c.back().large = true;
  c.push_back({"layer_norm",
               "last2_affine",
               {In::range({2, 3, 4}, -1, 1), In::range({3, 4}, 0.5, 1.5), In::range({3, 4}, -1, 1)},
               [](const V& x) {
                 return layer_norm(x[0], {3, 4}, x[1], x[2]);
               }});
  c.push_back({"layer_norm", "last1_plain", {In::range({3, 5}, -1, 1)}, [](const V& x) {
                 return layer_norm(x[0], {5});
               }});
  c.push_back({"group_norm",
               "3_groups_affine",
               {In::range({2, 6, 3}, -1, 1), In::range({6}, 0.5, 1.5), In::range({6}, -1, 1)},
               [](const V& x) { return group_norm(x[0], 3, x[1], x[2]); }});
  c.push_back({"group_norm", "4d_2_groups_plain", {In::range({2, 4, 3, 2}, -1, 2)}, [](const V& x) {
                 return group_norm(x[0], 2);
               }});
  c.push_back({"layer_norm",
               "large_affine",
               {In::range({48, 5, 40}, -2, 3), In::range({40}, 0.5, 1.5), In::range({40}, -1, 1)},
               [](const V& x) { return layer_norm(x[0], {40}, x[1], x[2]); }});
  c.back().large = true;
  // padding_idx deliberately breaks the match with finite differences (its rows get no gradient), so
  // it is tested in test_nn_ops.cpp and the PyTorch fixtures instead.
  c.push_back({"embedding",
               "repeated",
               {In::range({5, 3}, -1, 1), In::index({2, 3}, {1, 4, 1, 0, 2, 4})},
               [](const V& x) { return embedding(x[0], x[1]); }});
  for (auto& k : c) {
    // Normalizing divides f32 rounding errors by small standard deviations.
    if (k.op == "batch_norm" || k.op == "layer_norm" || k.op == "group_norm") k.f32_atol = 1e-4;
    if (k.op == "conv2d" && k.variant == "large_backward") k.f32_atol = 1e-3;
  }
}

std::vector<OpCase> build() {
  std::vector<OpCase> c;
  // ---- elementwise unary ----
  c.push_back(unary("neg", [](const Tensor& x) { return neg(x); }));
  c.push_back(unary("abs", [](const Tensor& x) { return abs(x); }));
  c.push_back(unary("exp", [](const Tensor& x) { return exp(x); }));
  c.push_back(unary(
      "log", [](const Tensor& x) { return log(x); }, 0.1, 3));
  c.push_back(unary(
      "log1p", [](const Tensor& x) { return log1p(x); }, -0.5, 3));
  c.push_back(unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, 0.1, 3));
  c.push_back(unary(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.1, 3));
  c.push_back(unary("square", [](const Tensor& x) { return square(x); }));
  c.push_back(unary("sin", [](const Tensor& x) { return sin(x); }));
  c.push_back(unary("cos", [](const Tensor& x) { return cos(x); }));
  c.push_back(unary("tanh", [](const Tensor& x) { return tanh(x); }));
  c.push_back(unary(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, -6, 6));
  c.push_back(unary("relu", [](const Tensor& x) { return relu(x); }));
  c.push_back(unary("leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); }));
  c.push_back(unary(
      "gelu", [](const Tensor& x) { return gelu(x); }, -3, 3));
  c.push_back(unary(
      "silu", [](const Tensor& x) { return silu(x); }, -4, 4));
  c.push_back(unary(
      "softplus", [](const Tensor& x) { return softplus(x); }, -5, 5));
  c.push_back(unary("erf", [](const Tensor& x) { return erf(x); }));
  c.push_back(unary(
      "reciprocal", [](const Tensor& x) { return reciprocal(x); }, 0.5, 2));
  OpCase sgn = unary("sign", [](const Tensor& x) { return sign(x); });
  sgn.gradcheck = sgn.gradgradcheck = false;
  c.push_back(sgn);
  c.push_back({"exp", "strided", {In::range({4, 3}, -1, 1)}, [](const V& x) { return exp(x[0].t()); }});
  c.push_back({"tanh", "large", {In::range({64, 600}, -3, 3)}, [](const V& x) { return tanh(x[0]); }});

  // ---- elementwise binary, broadcasting ----
  c.push_back({"add", "broadcast", {In::range({3, 1, 4}, -1, 1), In::range({2, 4}, -1, 1)}, [](const V& x) {
                 return add(x[0], x[1]);
               }});
  c.push_back({"add", "alpha", {In::range({3, 4}, -1, 1), In::range({4}, -1, 1)}, [](const V& x) {
                 return add(x[0], x[1], -2.5);
               }});
  c.push_back({"add", "large_bias", {In::range({128, 300}, -1, 1), In::range({300}, -1, 1)}, [](const V& x) {
                 return x[0] + x[1];
               }});
  c.push_back(
      {"sub", "broadcast", {In::range({2, 3, 1}, -1, 1), In::range({1, 3, 5}, -1, 1)}, [](const V& x) {
         return sub(x[0], x[1]);
       }});
  c.push_back({"mul", "broadcast", {In::range({4, 1}, -1, 1), In::range({1, 5}, -1, 1)}, [](const V& x) {
                 return mul(x[0], x[1]);
               }});
  c.push_back({"mul", "scalar", {In::range({3, 4}, -1, 1)}, [](const V& x) { return 3.0 * x[0] - 1.0; }});
  c.push_back({"div", "broadcast", {In::range({2, 3}, -1, 1), In::range({3}, 0.5, 2)}, [](const V& x) {
                 return div(x[0], x[1]);
               }});
  c.push_back({"div", "scalar_numerator", {In::range({3}, 0.5, 2)}, [](const V& x) { return 2.0 / x[0]; }});
  c.push_back({"pow", "tensor", {In::range({2, 3}, 0.5, 2), In::range({3}, -1, 2)}, [](const V& x) {
                 return pow(x[0], x[1]);
               }});
  c.push_back({"pow", "scalar", {In::range({2, 3}, 0.5, 2)}, [](const V& x) { return pow(x[0], 2.5); }});
  c.push_back({"maximum", "broadcast", {In::range({3, 4}, -1, 1), In::range({4}, -1, 1)}, [](const V& x) {
                 return maximum(x[0], x[1]);
               }});
  c.push_back({"minimum", "broadcast", {In::range({3, 4}, -1, 1), In::range({4}, -1, 1)}, [](const V& x) {
                 return minimum(x[0], x[1]);
               }});

  // ---- comparisons and selection ----
  auto compare = [&](const std::string& op, std::function<Tensor(const Tensor&, const Tensor&)> f) {
    OpCase k{op,
             "",
             {In::fixed({2, 3}, {1, 2, 3, 4, 5, 6}, false), In::fixed({3}, {2, 2, 5}, false)},
             [f](const V& x) { return f64(f(x[0], x[1])); }};
    k.gradcheck = k.gradgradcheck = false;
    c.push_back(k);
  };
  compare("eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); });
  compare("ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); });
  compare("lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); });
  compare("le", [](const Tensor& a, const Tensor& b) { return le(a, b); });
  compare("gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); });
  compare("ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); });
  c.push_back({"where",
               "broadcast",
               {In::fixed({3, 1}, {-1, 2, 0.5}, false), In::range({1, 4}, -1, 1), In::range({3, 4}, -1, 1)},
               [](const V& x) { return where(x[0] > 0.0, x[1], x[2]); }});
  c.push_back(
      {"clamp", "both", {In::range({4, 5}, -1, 1)}, [](const V& x) { return clamp(x[0], -0.5, 0.5); }});
  c.push_back(
      {"clamp", "min_only", {In::range({4, 5}, -1, 1)}, [](const V& x) { return clamp(x[0], 0.1, {}); }});

  // ---- reductions ----
  c.push_back({"sum", "all", {In::range({3, 4}, -1, 1)}, [](const V& x) { return sum(x[0]); }});
  c.push_back({"sum", "dims02_keepdim", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) {
                 return sum(x[0], {0, 2}, true);
               }});
  c.push_back({"sum", "dim1", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) { return sum(x[0], {1}); }});
  c.push_back({"sum", "strided_negative_dim", {In::range({4, 3}, -1, 1)}, [](const V& x) {
                 return sum(x[0].t(), {-1});
               }});
  c.push_back(
      {"sum", "large_rows", {In::range({3, 20000}, -1, 1)}, [](const V& x) { return sum(x[0], {1}); }});
  c.push_back(
      {"sum", "large_cols", {In::range({700, 300}, -1, 1)}, [](const V& x) { return sum(x[0], {0}); }});
  c.push_back({"mean", "dims", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) { return mean(x[0], {1, 2}); }});
  c.push_back({"mean", "all", {In::range({5}, -1, 1)}, [](const V& x) { return mean(x[0]); }});
  c.push_back({"amax", "dim1", {In::range({3, 5}, -1, 1)}, [](const V& x) { return amax(x[0], {1}); }});
  c.push_back(
      {"amax", "all_keepdim", {In::range({3, 5}, -1, 1)}, [](const V& x) { return amax(x[0], {}, true); }});
  c.push_back({"amin", "dim0", {In::range({3, 5}, -1, 1)}, [](const V& x) { return amin(x[0], {0}); }});
  c.push_back({"max_dim", "", {In::range({3, 5}, -1, 1)}, [](const V& x) { return max(x[0], 1).values; }});
  c.push_back({"max_dim", "keepdim", {In::range({3, 5, 2}, -1, 1)}, [](const V& x) {
                 return max(x[0], 1, true).values;
               }});
  c.push_back({"min_dim", "", {In::range({3, 5}, -1, 1)}, [](const V& x) { return min(x[0], 0).values; }});
  OpCase am{"argmax", "", {In::range({3, 5}, -1, 1)}, [](const V& x) { return f64(argmax(x[0], 1)); }};
  am.gradcheck = am.gradgradcheck = false;
  c.push_back(am);
  OpCase an{
      "argmin", "keepdim", {In::range({3, 5}, -1, 1)}, [](const V& x) { return f64(argmin(x[0], 0, true)); }};
  an.gradcheck = an.gradgradcheck = false;
  c.push_back(an);
  c.push_back(
      {"logsumexp", "dim1", {In::range({3, 5}, -3, 3)}, [](const V& x) { return logsumexp(x[0], {1}); }});
  c.push_back({"var", "dim1_keepdim", {In::range({3, 5}, -1, 1)}, [](const V& x) {
                 return var(x[0], {1}, 1, true);
               }});
  c.push_back(
      {"var", "all_population", {In::range({3, 5}, -1, 1)}, [](const V& x) { return var(x[0], {}, 0); }});
  c.push_back({"std", "dims01", {In::range({3, 4, 2}, -1, 1)}, [](const V& x) { return std(x[0], {0, 1}); }});
  c.push_back({"norm", "p2_dim1", {In::range({3, 5}, -1, 1)}, [](const V& x) { return norm(x[0], 2, {1}); }});
  c.push_back({"norm", "p3_all", {In::range({3, 5}, 0.2, 1)}, [](const V& x) { return norm(x[0], 3); }});

  // ---- linear algebra ----
  c.push_back({"matmul", "2d", {In::range({3, 4}, -1, 1), In::range({4, 5}, -1, 1)}, [](const V& x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({"matmul", "vec_mat", {In::range({4}, -1, 1), In::range({4, 5}, -1, 1)}, [](const V& x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({"matmul", "mat_vec", {In::range({3, 4}, -1, 1), In::range({4}, -1, 1)}, [](const V& x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({"matmul", "dot", {In::range({4}, -1, 1), In::range({4}, -1, 1)}, [](const V& x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({"matmul",
               "batch_broadcast",
               {In::range({2, 1, 3, 4}, -1, 1), In::range({5, 4, 2}, -1, 1)},
               [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul",
               "batch_times_matrix",
               {In::range({2, 3, 4}, -1, 1), In::range({4, 5}, -1, 1)},
               [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back(
      {"matmul", "transposed_operands", {In::range({4, 3}, -1, 1), In::range({5, 4}, -1, 1)}, [](const V& x) {
         return matmul(x[0].t(), x[1].t());
       }});
  c.push_back({"matmul",
               "large_mlp_shape",
               {In::range({128, 784}, -1, 1), In::range({784, 96}, -1, 1)},
               [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul",
               "large_transposed",
               {In::range({300, 128}, -1, 1), In::range({300, 200}, -1, 1)},
               [](const V& x) { return matmul(x[0].t(), x[1]); }});
  c.push_back(
      {"matmul", "mlp_shape", {In::range({32, 78}, -1, 1), In::range({78, 51}, -1, 1)}, [](const V& x) {
         return matmul(x[0], x[1]);
       }});
  c.push_back({"linear",
               "bias",
               {In::range({3, 4}, -1, 1), In::range({5, 4}, -1, 1), In::range({5}, -1, 1)},
               [](const V& x) { return linear(x[0], x[1], x[2]); }});
  c.push_back(
      {"linear", "batched_no_bias", {In::range({2, 3, 4}, -1, 1), In::range({5, 4}, -1, 1)}, [](const V& x) {
         return linear(x[0], x[1]);
       }});

  // ---- movement ----
  c.push_back({"reshape", "infer", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) {
                 return reshape(x[0], {6, -1});
               }});
  c.push_back(
      {"reshape", "copy", {In::range({3, 4}, -1, 1)}, [](const V& x) { return reshape(x[0].t(), {12}); }});
  c.push_back({"reshape", "view_flatten", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) {
                 return flatten(view(x[0], {6, 4}) * 2.0, 0);
               }});
  c.push_back({"view", "", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) { return view(x[0], {4, -1}); }});
  c.push_back({"permute", "", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) {
                 return permute(x[0], {2, 0, 1});
               }});
  c.push_back(
      {"transpose", "", {In::range({2, 3, 4}, -1, 1)}, [](const V& x) { return transpose(x[0], 0, -1); }});
  c.push_back({"squeeze", "", {In::range({2, 1, 3, 1}, -1, 1)}, [](const V& x) { return squeeze(x[0]); }});
  c.push_back({"squeeze", "dim", {In::range({2, 1, 3}, -1, 1)}, [](const V& x) { return squeeze(x[0], 1); }});
  c.push_back({"unsqueeze", "", {In::range({2, 3}, -1, 1)}, [](const V& x) { return unsqueeze(x[0], -1); }});
  c.push_back({"expand", "", {In::range({3, 1}, -1, 1)}, [](const V& x) { return expand(x[0], {2, 3, 4}); }});
  c.push_back({"narrow", "", {In::range({5, 3}, -1, 1)}, [](const V& x) { return narrow(x[0], 0, 1, 3); }});
  c.push_back(
      {"slice", "step", {In::range({3, 7}, -1, 1)}, [](const V& x) { return slice(x[0], 1, 1, 7, 2); }});
  c.push_back({"select", "", {In::range({3, 4}, -1, 1)}, [](const V& x) { return select(x[0], 1, -1); }});
  c.push_back(
      {"contiguous", "", {In::range({3, 4}, -1, 1)}, [](const V& x) { return contiguous(x[0].t()); }});
  c.push_back({"clone", "", {In::range({3, 4}, -1, 1)}, [](const V& x) { return clone(x[0]) * 2.0; }});
  c.push_back({"cast", "through_f32", {In::fixed({4}, {0.5, -1.25, 2.0, 3.75})}, [](const V& x) {
                 return cast(cast(x[0], DType::f32), DType::f64);
               }});
  c.push_back({"cat", "dim0", {In::range({2, 3}, -1, 1), In::range({1, 3}, -1, 1)}, [](const V& x) {
                 return cat({x[0], x[1]}, 0);
               }});
  c.push_back({"cat", "dim1", {In::range({2, 1}, -1, 1), In::range({2, 3}, -1, 1)}, [](const V& x) {
                 return cat({x[0], x[1]}, 1);
               }});
  c.push_back({"stack", "dim1", {In::range({2, 3}, -1, 1), In::range({2, 3}, -1, 1)}, [](const V& x) {
                 return stack({x[0], x[1]}, 1);
               }});
  c.push_back({"split", "sizes", {In::range({5, 2}, -1, 1)}, [](const V& x) {
                 auto parts = split(x[0], Shape{2, 3}, 0);
                 return cat({parts[0], parts[1] * 2.0}, 0);
               }});
  c.push_back({"split", "even", {In::range({2, 5}, -1, 1)}, [](const V& x) {
                 auto parts = split(x[0], 2, 1);
                 return cat({parts[0] * 3.0, parts[1], parts[2] * -1.0}, 1);
               }});
  c.push_back({"index_select",
               "repeated",
               {In::range({4, 3}, -1, 1), In::index({5}, {3, 0, 3, 1, 3})},
               [](const V& x) { return index_select(x[0], 0, x[1]); }});
  c.push_back({"index_select", "dim1", {In::range({2, 4, 3}, -1, 1), In::index({2}, {2, 0})}, [](const V& x) {
                 return index_select(x[0], 1, x[1]);
               }});
  c.push_back(
      {"gather", "dim1", {In::range({3, 4}, -1, 1), In::index({3, 2}, {0, 3, 1, 1, 2, 0})}, [](const V& x) {
         return gather(x[0], 1, x[1]);
       }});
  c.push_back(
      {"scatter_add",
       "dim0",
       {In::range({3, 2}, -1, 1), In::index({4, 2}, {0, 2, 1, 0, 2, 2, 0, 1}), In::range({4, 2}, -1, 1)},
       [](const V& x) { return scatter_add(x[0], 0, x[1], x[2]); }});
  OpCase oh{
      "one_hot", "", {In::index({2, 2}, {0, 3, 2, 3})}, [](const V& x) { return f64(one_hot(x[0], 4)); }};
  oh.gradcheck = oh.gradgradcheck = false;
  c.push_back(oh);

  // ---- normalization ----
  c.push_back({"softmax", "dim1", {In::range({3, 5}, -3, 3)}, [](const V& x) { return softmax(x[0], 1); }});
  c.push_back(
      {"softmax", "dim0_large", {In::range({4, 3}, -40, 40)}, [](const V& x) { return softmax(x[0], 0); }});
  c.push_back({"log_softmax", "last", {In::range({2, 3, 4}, -3, 3)}, [](const V& x) {
                 return log_softmax(x[0], -1);
               }});
  add_nn_cases(c);
  add_fused_cases(c);
  // The cast case needs a wide finite-difference step (exact, as the function is linear): f32 rounding
  // would swamp a small one.
  for (auto& k : c)
    if (k.op == "cast") k.grad_eps = 1e-2;
  for (auto& k : c)
    if (k.variant.starts_with("large")) k.large = true;
  // f32 sums of K = 784 products of terms in [-1, 1] carry absolute errors up to ~K * 2^-24.
  for (auto& k : c)
    if (k.op == "matmul" && k.large) k.f32_atol = 1e-4;
  return c;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = build();
  return cases;
}

std::vector<Tensor> make_inputs(const OpCase& c, DType float_dtype, bool requires_grad) {
  manual_seed(std::hash<std::string>{}(c.name()) & 0xffffffff);
  std::vector<Tensor> out;
  for (const InputSpec& in : c.inputs) {
    Tensor t;
    if (in.values) {
      t = from_vector(*in.values, in.shape, in.dtype);
    } else {
      t = rand(in.shape, {.dtype = DType::f64}) * (in.high - in.low) + in.low;
    }
    if (in.dtype == DType::f64) t = cast(t, float_dtype);
    if (requires_grad && in.differentiable && is_floating(t.dtype())) t.requires_grad_();
    out.push_back(t);
  }
  return out;
}

}  // namespace kiln::testing
