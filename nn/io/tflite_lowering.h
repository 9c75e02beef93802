// kiln/nn/io/tflite_lowering.h: the traced, cleaned-up graph lowered op by op onto TFLite's builtin
// operators (internal to nn/io's TFLite export). The members are defined by topic: tflite_lowering.cpp (the
// signature, tensors, constants, dispatch and int8 parameters), tflite_lower_layers.cpp (linear,
// convolution, pooling and their padding), tflite_lower_shapes.cpp (mean, reshape, permute, cat, pad) and
// tflite_lower_elementwise.cpp (binary and unary ops, clamp, softmax).
//
// Layout: kiln computes NCHW, TFLite NHWC. Every rank-4 value computed from the input is stored NHWC (its
// "physical" axis order is {0, 2, 3, 1} in kiln axes); ops that name axes (cat, mean, softmax, permute,
// reshape) translate them through that order, constants that broadcast against such values are
// permuted when written, and convolution weights are written OHWI (depthwise 1HWO). A flatten of an
// NHWC value feeding linear layers is done without a transpose by permuting the linear weights' columns
// instead. The signature's input, and a rank-4 output, are in the layout the options ask.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "kiln/nn/io/export.h"
#include "kiln/nn/io/quantize_params.h"
#include "kiln/nn/io/tflite_builder.h"
#include "kiln/nn/io/trace_graph.h"

namespace kiln::nn::io::tflite_export {

class Lowering {
 public:
  Lowering(const Graph& g, const TFLiteOptions& o);
  std::string run();

 private:
  // ---- tensors ----
  Shape physical_shape(int v) const;
  tfl::TensorType act_type() const;
  int activation(int v, const std::string& name);
  int quantize_input(int file_input, int in, const Shape& shape);
  int int32_const(const std::string& name, const std::vector<int32_t>& v, Shape shape = {});
  // A float constant as the ops read it: float32, or float16 + DEQUANTIZE in float16 mode.
  int float_const(const std::string& name, const Tensor& t);
  // A constant operand of an elementwise op whose output is value `out`: broadcast to its rank, put in its
  // physical order, and in int8 mode quantized per tensor over its own range.
  int elementwise_const(int c, int out, const std::string& name);
  // The tensor of operand v for an elementwise op producing `out`.
  int operand(int v, int out, const std::string& name);
  std::string name_of(const Node& n) const;

  // ---- ops ----
  void transpose(int from, int to, const std::vector<int32_t>& perm, bool int8);
  void reshape_op(int from, int to, const std::vector<int32_t>& new_shape);
  // Output tensor of node n in physical order.
  int out_tensor(const Node& n);
  int axis_of(int v, int64_t kiln_axis) const;
  int op_version(int float_version, int int8_version) const;

  // Whether TFLite's SAME padding places the windows of a symmetric kiln padding `pad` exactly (SAME puts
  // the odd pixel of its total padding at the end, so e.g. stride 2 with padding 1 on an even input is not
  // SAME).
  static bool same_matches(int64_t in, int64_t out, int64_t k_eff, int64_t stride, int64_t pad);

  // The padding mode for a windowed op, inserting a PAD / PADV2 before it when neither SAME nor VALID
  // matches. Returns the (possibly padded) input tensor.
  int windowed_input(const Node& n, int x, tfl::Padding& padding, Shape k_eff, Shape stride, Shape pad,
                     bool max_pool);
  void lower(const Node& n);

  // Weights of a linear or convolution in int8 (per-channel along `axis`) or the float forms.
  int weight_tensor(const Node& n, const Tensor& w, int axis, bool per_channel_hybrid, QuantParams* wq);
  int bias_tensor(const Node& n, int bias_value, int x_value, const QuantParams& wq);
  void lower_linear(const Node& n);
  void lower_conv(const Node& n);
  void lower_pool(const Node& n);
  void lower_mean(const Node& n);
  // Reducing NHWC over the spatial axes leaves (N, C): the same order as kiln's (N, C).
  bool is_prefix_preserving(int x, const Shape& dims) const;

  // Physical permutation taking value `from`'s stored order to kiln axes `kiln_perm` of it, stored in
  // `to_order`: out physical i = kiln output axis to_order[i] = kiln input axis kiln_perm[to_order[i]].
  std::vector<int32_t> physical_perm(int from, const Shape& kiln_perm, const Shape& to_order) const;
  static bool is_identity(const std::vector<int32_t>& p);
  void lower_reshape(const Node& n);
  void lower_permute(const Node& n);
  void lower_cat(const Node& n);
  void lower_pad(const Node& n);
  void lower_binary(const Node& n);
  void lower_unary(const Node& n);
  void lower_clamp(const Node& n);
  void lower_softmax(const Node& n);

  // ---- int8 parameters of every computed value ----
  void choose_int8_params();
  const Graph& g_;
  const TFLiteOptions& o_;
  ModelBuilder b_;
  std::vector<int> tensor_;   // TFLite tensor of each computed value, -1 before it is written
  std::vector<Shape> order_;  // each value's stored axis order (kiln axes)
  std::vector<QuantParams> q_;
  std::map<int, std::array<int64_t, 3>> flattened_;  // flatten outputs kept in (h, w, c) order: (C, H, W)
  bool int8_ = false;
};

}  // namespace kiln::nn::io::tflite_export
