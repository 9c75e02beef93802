// kiln/nn/io/tflite_lower_layers.cpp: lowering to TFLite (tflite_lowering.h): linear, convolution and
// pooling, their weights, biases and padding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/quantize_params.h"
#include "kiln/nn/io/tflite_lowering.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/half.h"

namespace kiln::nn::io::tflite_export {

bool Lowering::same_matches(int64_t in, int64_t out, int64_t k_eff, int64_t stride, int64_t pad) {
  const int64_t out_same = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out_same - 1) * stride + k_eff - in, 0);
  return out == out_same && total / 2 == pad;
}

int Lowering::windowed_input(const Node& n, int x, tfl::Padding& padding, Shape k_eff, Shape stride,
                             Shape pad, bool max_pool) {
  const Shape& in = g_.values[n.inputs[0]].shape;
  const Shape& out = g_.values[n.output].shape;
  if (pad[0] == 0 && pad[1] == 0) {
    padding = tfl::Padding::VALID;
    return x;
  }
  if (same_matches(in[2], out[2], k_eff[0], stride[0], pad[0]) &&
      same_matches(in[3], out[3], k_eff[1], stride[1], pad[1])) {
    // SAME pads conv with zeros, max pool with -inf and average pool excluding the padding: what kiln
    // does for conv, max pool and avg pool with count_include_pad = false.
    if (n.op != "avg_pool2d" || n.i("count_include_pad") == 0) {
      padding = tfl::Padding::SAME;
      return x;
    }
  }
  KILN_CHECK(!(n.op == "avg_pool2d" && n.i("count_include_pad") == 0), "export: ", describe(n),
             " excludes padding from its averages with a padding TFLite's SAME cannot reproduce");
  padding = tfl::Padding::VALID;
  Shape padded = {in[0], in[2] + 2 * pad[0], in[3] + 2 * pad[1], in[1]};
  std::vector<int32_t> pads{0,
                            0,
                            static_cast<int32_t>(pad[0]),
                            static_cast<int32_t>(pad[0]),
                            static_cast<int32_t>(pad[1]),
                            static_cast<int32_t>(pad[1]),
                            0,
                            0};
  int p = int32_const("pads", pads, {4, 2});
  const QuantParams* q = int8_ ? &q_[n.inputs[0]] : nullptr;
  int t = b_.tensor(name_of(n) + "_padded", padded, act_type(), nullptr, q, true);
  if (max_pool) {  // pad with the lowest value, so the padding never wins a max
    int lowest;
    if (int8_) {
      std::vector<int8_t> v{-128};
      auto data = bytes_of(v);
      lowest = b_.tensor("lowest", {}, tfl::TensorType::INT8, &data, q);
    } else {
      std::vector<float> v{std::numeric_limits<float>::lowest()};
      auto data = bytes_of(v);
      lowest = b_.tensor("lowest", {}, tfl::TensorType::FLOAT32, &data);
    }
    b_.op(BuiltinOperator::PADV2, op_version(1, 2), {x, p, lowest}, {t}, BuiltinOptions::PadV2Options,
          tfl::CreatePadV2Options(b_.fbb).Union());
  } else {
    b_.op(BuiltinOperator::PAD, op_version(1, 2), {x, p}, {t}, BuiltinOptions::PadOptions,
          tfl::CreatePadOptions(b_.fbb).Union());
  }
  return t;
}

int Lowering::weight_tensor(const Node& n, const Tensor& w, int axis, bool per_channel_hybrid,
                            QuantParams* wq) {
  const std::string name = name_of(n) + "_weight";
  if (int8_ || o_.quantization == TFLiteQuantization::dynamic_int8) {
    QuantParams q;
    auto data = bytes_of(quantize_symmetric(w, axis, int8_ || per_channel_hybrid, q));
    if (wq) *wq = q;
    return b_.tensor(name, w.shape(), tfl::TensorType::INT8, &data, &q);
  }
  return float_const(name, w);
}

int Lowering::bias_tensor(const Node& n, int bias_value, int x_value, const QuantParams& wq) {
  if (n.inputs.size() < 3 || bias_value < 0) return -1;
  const Tensor& b = g_.values[bias_value].constant;
  KILN_CHECK(b.defined(), "export: ", describe(n),
             " has a bias computed from the input; it must be a constant");
  if (int8_) {
    QuantParams q;
    auto data = bytes_of(quantize_bias(b, q_[x_value].scale[0], wq.scale, q));
    return b_.tensor(name_of(n) + "_bias", b.shape(), tfl::TensorType::INT32, &data, &q);
  }
  std::vector<float> x = b.contiguous().to_vector<float>();
  auto data = bytes_of(x);  // biases stay float32 (they are tiny; the kernels read them as float)
  return b_.tensor(name_of(n) + "_bias", b.shape(), tfl::TensorType::FLOAT32, &data);
}

void Lowering::lower_linear(const Node& n) {
  const int x = n.inputs[0];
  KILN_CHECK(g_.values[x].shape.size() == 2, "export: ", describe(n), " takes a rank-",
             g_.values[x].shape.size(), " input; TFLite export supports linear layers on (N, features)");
  KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n), " has a weight computed from the input");
  Tensor w = g_.values[n.inputs[1]].constant;
  if (auto f = flattened_.find(x); f != flattened_.end()) {  // columns in (h, w, c) order, as stored
    auto [c, h, wd] = f->second;
    NoGradGuard no_grad;
    w = w.reshape({w.size(0), c, h, wd}).permute({0, 2, 3, 1}).contiguous().reshape({w.size(0), c * h * wd});
  }
  QuantParams wq;
  // TFLite's hybrid fully-connected kernel takes one weight scale per tensor.
  int wt = weight_tensor(n, w, 0, /*per_channel_hybrid=*/false, &wq);
  int bt = bias_tensor(n, n.inputs.size() > 2 ? n.inputs[2] : -1, x, wq);
  int out = out_tensor(n);
  const int version = int8_ ? 4 : o_.quantization == TFLiteQuantization::dynamic_int8 ? 3 : 1;
  auto opts = tfl::CreateFullyConnectedOptions(b_.fbb, fused(n.act));
  b_.op(BuiltinOperator::FULLY_CONNECTED, version, {tensor_[x], wt, bt}, {out},
        BuiltinOptions::FullyConnectedOptions, opts.Union());
}

void Lowering::lower_conv(const Node& n) {
  const int x = n.inputs[0];
  KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n), " has a weight computed from the input");
  const Tensor& w = g_.values[n.inputs[1]].constant;  // (O, I / groups, kh, kw)
  const int64_t groups = n.i("groups"), cin = g_.values[x].shape[1], cout = w.size(0);
  const Shape stride = n.ints("stride"), pad = n.ints("padding"), dil = n.ints("dilation");
  const bool depthwise = groups > 1 && groups == cin && cout % cin == 0;
  KILN_CHECK(groups == 1 || depthwise, "export: ", describe(n),
             " is a grouped convolution (groups = ", groups, ", ", cin,
             " input channels); TFLite has only groups = 1 and depthwise (groups = channels)");
  tfl::Padding padding;
  const Shape k_eff{dil[0] * (w.size(2) - 1) + 1, dil[1] * (w.size(3) - 1) + 1};
  int in = windowed_input(n, tensor_[x], padding, k_eff, stride, pad, false);
  NoGradGuard no_grad;
  QuantParams wq;
  const bool dilated = dil[0] != 1 || dil[1] != 1;
  if (!depthwise) {
    Tensor ohwi = w.permute({0, 2, 3, 1}).contiguous();
    int wt = weight_tensor(n, ohwi, 0, true, &wq);
    int bt = bias_tensor(n, n.inputs.size() > 2 ? n.inputs[2] : -1, x, wq);
    int out = out_tensor(n);
    const int version = int8_ ? 3 : o_.quantization == TFLiteQuantization::dynamic_int8 ? 5 : 1;
    auto opts =
        tfl::CreateConv2DOptions(b_.fbb, padding, static_cast<int>(stride[1]), static_cast<int>(stride[0]),
                                 fused(n.act), static_cast<int>(dil[1]), static_cast<int>(dil[0]));
    b_.op(BuiltinOperator::CONV_2D, version, {in, wt, bt}, {out}, BuiltinOptions::Conv2DOptions,
          opts.Union());
  } else {
    Tensor ihwo = w.permute({1, 2, 3, 0}).contiguous();  // (1, kh, kw, O)
    int wt = weight_tensor(n, ihwo, 3, true, &wq);
    int bt = bias_tensor(n, n.inputs.size() > 2 ? n.inputs[2] : -1, x, wq);
    int out = out_tensor(n);
    const int version = int8_ ? 3 : o_.quantization == TFLiteQuantization::dynamic_int8 ? 6 : dilated ? 2 : 1;
    auto opts = tfl::CreateDepthwiseConv2DOptions(
        b_.fbb, padding, static_cast<int>(stride[1]), static_cast<int>(stride[0]),
        static_cast<int>(cout / cin), fused(n.act), static_cast<int>(dil[1]), static_cast<int>(dil[0]));
    b_.op(BuiltinOperator::DEPTHWISE_CONV_2D, version, {in, wt, bt}, {out},
          BuiltinOptions::DepthwiseConv2DOptions, opts.Union());
  }
}

void Lowering::lower_pool(const Node& n) {
  const bool max_pool = n.op == "max_pool2d";
  const Shape k = n.ints("kernel"), s = n.ints("stride"), p = n.ints("padding");
  if (max_pool) {
    const Shape d = n.ints("dilation");
    KILN_CHECK(d[0] == 1 && d[1] == 1, "export: ", describe(n), " is dilated; TFLite pools are not");
  }
  tfl::Padding padding;
  int in = windowed_input(n, tensor_[n.inputs[0]], padding, k, s, p, max_pool);
  int out = out_tensor(n);
  auto opts = tfl::CreatePool2DOptions(b_.fbb, padding, static_cast<int>(s[1]), static_cast<int>(s[0]),
                                       static_cast<int>(k[1]), static_cast<int>(k[0]), fused(n.act));
  b_.op(max_pool ? BuiltinOperator::MAX_POOL_2D : BuiltinOperator::AVERAGE_POOL_2D, op_version(1, 2), {in},
        {out}, BuiltinOptions::Pool2DOptions, opts.Union());
}

}  // namespace kiln::nn::io::tflite_export
