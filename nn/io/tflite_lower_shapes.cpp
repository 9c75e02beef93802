// kiln/nn/io/tflite_lower_shapes.cpp: lowering to TFLite (tflite_lowering.h): ops that move axes: mean,
// reshape, permute, cat and pad.
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

void Lowering::lower_mean(const Node& n) {
  const int x = n.inputs[0];
  std::vector<int32_t> axes;
  for (int64_t d : n.ints("dims")) axes.push_back(axis_of(x, d));
  std::sort(axes.begin(), axes.end());
  const bool keep = n.i("keepdim") != 0;
  // Without keepdim, the remaining axes keep the input's physical order only if the result is not an
  // image tensor; a rank-4 result keeps all four axes, so keepdim is set and order is preserved.
  KILN_CHECK(keep || g_.values[x].shape.size() != 4 || order_[x] == identity_order(4) ||
                 is_prefix_preserving(x, n.ints("dims")),
             "export: ", describe(n), " drops image axes in an order TFLite cannot express");
  int a = int32_const("axes", axes);
  int out = out_tensor(n);
  b_.op(BuiltinOperator::MEAN, op_version(1, 2), {tensor_[x], a}, {out}, BuiltinOptions::ReducerOptions,
        tfl::CreateReducerOptions(b_.fbb, keep).Union());
}

bool Lowering::is_prefix_preserving(int x, const Shape& dims) const {
  std::vector<int64_t> kept_phys;
  for (int64_t a : order_[x])
    if (std::find(dims.begin(), dims.end(), a) == dims.end()) kept_phys.push_back(a);
  return std::is_sorted(kept_phys.begin(), kept_phys.end());
}

std::vector<int32_t> Lowering::physical_perm(int from, const Shape& kiln_perm, const Shape& to_order) const {
  std::vector<int32_t> p;
  for (int64_t a : to_order) p.push_back(axis_of(from, kiln_perm[a]));
  return p;
}

bool Lowering::is_identity(const std::vector<int32_t>& p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int32_t>(i)) return false;
  return true;
}

void Lowering::lower_reshape(const Node& n) {
  const int x = n.inputs[0];
  const Shape& in = g_.values[x].shape;
  const Shape& out_shape = g_.values[n.output].shape;
  int src = tensor_[x];
  std::vector<int32_t> new_shape;
  for (int64_t a : order_[n.output]) new_shape.push_back(static_cast<int32_t>(out_shape[a]));
  if (keeps_batch(g_, n)) new_shape[0] = -1;
  // A flatten of an NHWC image feeding only linear layers: flatten in stored (h, w, c) order and permute
  // those layers' weight columns (lower_linear) instead of transposing the activations.
  auto consumers = g_.consumers(n.output);
  const bool flatten_to_linear =
      in.size() == 4 && order_[x] == kNHWC && out_shape.size() == 2 && out_shape[0] == in[0] &&
      g_.output != n.output && !consumers.empty() &&
      std::all_of(consumers.begin(), consumers.end(), [&](int c) {
        const Node& m = g_.nodes[c];
        return m.op == "linear" && m.inputs[0] == n.output && g_.is_constant(m.inputs[1]);
      });
  if (flatten_to_linear) {
    flattened_[n.output] = {in[1], in[2], in[3]};
  } else if (order_[x] != identity_order(in.size())) {
    // Back to kiln's order first.
    Shape kiln_order = identity_order(in.size());
    Shape s = in;
    int t = b_.tensor(name_of(n) + "_nchw", s, act_type(), nullptr, int8_ ? &q_[x] : nullptr, true);
    transpose(src, t, physical_perm(x, identity_order(in.size()), kiln_order), int8_);
    src = t;
  }
  if (order_[n.output] != identity_order(out_shape.size())) {
    // A rank-4 result: reshape in kiln's order, then store it NHWC.
    std::vector<int32_t> kiln_shape(out_shape.begin(), out_shape.end());
    if (keeps_batch(g_, n)) kiln_shape[0] = -1;
    int t = b_.tensor(name_of(n) + "_nchw_out", out_shape, act_type(), nullptr,
                      int8_ ? &q_[n.output] : nullptr, true);
    reshape_op(src, t, kiln_shape);
    int out = out_tensor(n);
    transpose(t, out, {0, 2, 3, 1}, int8_);
    return;
  }
  int out = out_tensor(n);
  reshape_op(src, out, new_shape);
}

void Lowering::lower_permute(const Node& n) {
  const int x = n.inputs[0];
  const Shape dims = n.ints("dims");
  auto p = physical_perm(x, dims, order_[n.output]);
  int out = out_tensor(n);
  transpose(tensor_[x], out, p, int8_);
}

void Lowering::lower_cat(const Node& n) {
  std::vector<int> ins;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const int v = n.inputs[i];
    int t = operand(v, n.output, name_of(n) + "_operand");
    // TFLite's int8 concatenation needs one scale and zero point on every operand and the output.
    if (int8_ && !g_.is_constant(v) &&
        (q_[v].scale != q_[n.output].scale || q_[v].zero_point != q_[n.output].zero_point)) {
      int r = b_.tensor(name_of(n) + "_requantized", physical_shape(v), tfl::TensorType::INT8, nullptr,
                        &q_[n.output], true);
      b_.op(BuiltinOperator::QUANTIZE, 2, {t}, {r}, BuiltinOptions::QuantizeOptions,
            tfl::CreateQuantizeOptions(b_.fbb).Union());
      t = r;
    }
    ins.push_back(t);
  }
  int out = out_tensor(n);
  auto opts = tfl::CreateConcatenationOptions(b_.fbb, axis_of(n.output, n.i("dim")), fused(n.act));
  b_.op(BuiltinOperator::CONCATENATION, op_version(1, 2), ins, {out}, BuiltinOptions::ConcatenationOptions,
        opts.Union());
}

void Lowering::lower_pad(const Node& n) {
  const int x = n.inputs[0];
  const Shape pads = n.ints("pads");
  const int64_t rank = static_cast<int64_t>(g_.values[x].shape.size());
  std::vector<int32_t> phys(rank * 2, 0);
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int a = axis_of(x, rank - 1 - static_cast<int64_t>(i));
    phys[2 * a] = static_cast<int32_t>(pads[2 * i]), phys[2 * a + 1] = static_cast<int32_t>(pads[2 * i + 1]);
  }
  int p = int32_const("pads", phys, {rank, 2});
  int out = out_tensor(n);
  const double value = n.f("value");
  if (value == 0.0) {
    b_.op(BuiltinOperator::PAD, op_version(1, 2), {tensor_[x], p}, {out}, BuiltinOptions::PadOptions,
          tfl::CreatePadOptions(b_.fbb).Union());
    return;
  }
  int c;
  if (int8_) {
    std::vector<int8_t> v = quantize_with(full({1}, value), q_[x]);
    auto data = bytes_of(v);
    c = b_.tensor("pad_value", {}, tfl::TensorType::INT8, &data, &q_[x]);
  } else {
    std::vector<float> v{static_cast<float>(value)};
    auto data = bytes_of(v);
    c = b_.tensor("pad_value", {}, tfl::TensorType::FLOAT32, &data);
  }
  b_.op(BuiltinOperator::PADV2, op_version(1, 2), {tensor_[x], p, c}, {out}, BuiltinOptions::PadV2Options,
        tfl::CreatePadV2Options(b_.fbb).Union());
}

}  // namespace kiln::nn::io::tflite_export
