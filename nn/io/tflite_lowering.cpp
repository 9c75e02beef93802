// kiln/nn/io/tflite_lowering.cpp: lowering to TFLite (tflite_lowering.h): the signature, tensors, constants,
// the dispatch and the int8 parameters of every value.
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

Lowering::Lowering(const Graph& g, const TFLiteOptions& o) : g_(g), o_(o), tensor_(g.values.size(), -1) {
  order_.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    order_[v] = g.values[v].shape.size() == 4 && !g.is_constant(static_cast<int>(v))
                    ? kNHWC
                    : identity_order(g.values[v].shape.size());
  int8_ = o.quantization == TFLiteQuantization::int8;
  if (int8_) choose_int8_params();
}

std::string Lowering::run() {
  const int in = g_.input;
  const Shape& in_shape = g_.values[in].shape;
  const bool nchw_io = o_.layout == Layout::nchw;
  // The signature's input.
  int file_input;
  const bool int8_io = int8_ && o_.int8_input_output;
  const tfl::TensorType io_type = int8_io ? tfl::TensorType::INT8 : tfl::TensorType::FLOAT32;
  const QuantParams* io_q = int8_io ? &q_[in] : nullptr;
  if (in_shape.size() == 4 && nchw_io) {
    file_input = b_.tensor(o_.input_name, in_shape, io_type, nullptr, io_q, true);
    int t = quantize_input(file_input, in, in_shape);
    tensor_[in] = activation(in, "input_nhwc");
    transpose(t, tensor_[in], {0, 2, 3, 1}, int8_);
  } else {
    file_input = b_.tensor(o_.input_name, physical_shape(in), io_type, nullptr, io_q, true);
    if (int8_ && !int8_io) {
      tensor_[in] = activation(in, "input_quantized");
      b_.op(BuiltinOperator::QUANTIZE, 1, {file_input}, {tensor_[in]}, BuiltinOptions::QuantizeOptions,
            tfl::CreateQuantizeOptions(b_.fbb).Union());
    } else {
      tensor_[in] = file_input;
    }
  }
  for (const Node& n : g_.nodes) lower(n);
  // The signature's output.
  const int out = g_.output;
  int t = tensor_[out];
  const Shape& out_shape = g_.values[out].shape;
  if (out_shape.size() == 4 && nchw_io) {
    int nchw = int8_ && !int8_io
                   ? b_.tensor("output_nchw", out_shape, tfl::TensorType::INT8, nullptr, &q_[out], true)
                   : b_.tensor(o_.output_name, out_shape, io_type, nullptr, io_q ? &q_[out] : nullptr, true);
    transpose(t, nchw, {0, 3, 1, 2}, int8_);
    t = nchw;
  }
  if (int8_ && !int8_io) {
    Shape s = out_shape.size() == 4 && nchw_io ? out_shape : physical_shape(out);
    int f = b_.tensor(o_.output_name, s, tfl::TensorType::FLOAT32, nullptr, nullptr, true);
    b_.op(BuiltinOperator::DEQUANTIZE, 2, {t}, {f}, BuiltinOptions::DequantizeOptions,
          tfl::CreateDequantizeOptions(b_.fbb).Union());
    t = f;
  }
  if (t == file_input) {  // an identity model: the output needs its own tensor
    int copy = b_.tensor(o_.output_name, physical_shape(out), io_type, nullptr, io_q, true);
    std::vector<int32_t> s(physical_shape(out).begin(), physical_shape(out).end());
    s[0] = -1;
    reshape_op(t, copy, s);
    t = copy;
  }
  return b_.finish(file_input, t, o_.input_name, o_.output_name, o_.signature_key);
}

Shape Lowering::physical_shape(int v) const {
  Shape s;
  for (int64_t a : order_[v]) s.push_back(g_.values[v].shape[a]);
  return s;
}

tfl::TensorType Lowering::act_type() const {
  return int8_ ? tfl::TensorType::INT8 : tfl::TensorType::FLOAT32;
}

int Lowering::activation(int v, const std::string& name) {
  return b_.tensor(name, physical_shape(v), act_type(), nullptr, int8_ ? &q_[v] : nullptr, true);
}

int Lowering::quantize_input(int file_input, int in, const Shape& shape) {
  if (!int8_ || o_.int8_input_output) return file_input;
  int q = b_.tensor("input_quantized", shape, tfl::TensorType::INT8, nullptr, &q_[in], true);
  b_.op(BuiltinOperator::QUANTIZE, 1, {file_input}, {q}, BuiltinOptions::QuantizeOptions,
        tfl::CreateQuantizeOptions(b_.fbb).Union());
  return q;
}

int Lowering::int32_const(const std::string& name, const std::vector<int32_t>& v, Shape shape) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  auto data = bytes_of(v);
  return b_.tensor(name, shape, tfl::TensorType::INT32, &data);
}

int Lowering::float_const(const std::string& name, const Tensor& t) {
  std::vector<float> x = t.contiguous().to_vector<float>();
  if (o_.quantization == TFLiteQuantization::float16 && t.numel() > 1) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = Half(x[i]).bits;
    auto data = bytes_of(h);
    int half = b_.tensor(name + "_f16", t.shape(), tfl::TensorType::FLOAT16, &data);
    int f = b_.tensor(name, t.shape(), tfl::TensorType::FLOAT32, nullptr);
    b_.op(BuiltinOperator::DEQUANTIZE, 3, {half}, {f}, BuiltinOptions::DequantizeOptions,
          tfl::CreateDequantizeOptions(b_.fbb).Union());
    return f;
  }
  auto data = bytes_of(x);
  return b_.tensor(name, t.shape(), tfl::TensorType::FLOAT32, &data);
}

int Lowering::elementwise_const(int c, int out, const std::string& name) {
  Tensor t = g_.values[c].constant;
  const size_t rank = g_.values[out].shape.size();
  if (t.dim() > 0 && static_cast<size_t>(t.dim()) < rank) {
    Shape s(rank - t.dim(), 1);
    s.insert(s.end(), t.shape().begin(), t.shape().end());
    t = t.reshape(s);
  }
  if (t.dim() == static_cast<int64_t>(rank) && order_[out] != identity_order(rank))
    t = t.permute(order_[out]).contiguous();
  if (int8_) {
    std::vector<float> x = t.contiguous().to_vector<float>();
    Range r{*std::min_element(x.begin(), x.end()), *std::max_element(x.begin(), x.end()), true};
    QuantParams q = activation_params(r);
    auto data = bytes_of(quantize_with(t, q));
    return b_.tensor(name, t.shape(), tfl::TensorType::INT8, &data, &q);
  }
  return float_const(name, t);
}

int Lowering::operand(int v, int out, const std::string& name) {
  if (g_.is_constant(v)) return elementwise_const(v, out, name);
  KILN_CHECK(tensor_[v] >= 0, "export: internal: value ", v, " has no tensor");
  const size_t rank = g_.values[out].shape.size();
  KILN_CHECK(g_.values[v].shape.size() == rank || order_[out] == identity_order(rank), "export: ", name,
             ": broadcasting a computed rank-", g_.values[v].shape.size(),
             " value against a rank-4 image tensor has no TFLite form; reshape it to rank 4 first");
  return tensor_[v];
}

std::string Lowering::name_of(const Node& n) const { return n.where + "/" + n.op; }

void Lowering::transpose(int from, int to, const std::vector<int32_t>& perm, bool int8) {
  int p = int32_const("perm", perm);
  b_.op(BuiltinOperator::TRANSPOSE, int8 ? 2 : 1, {from, p}, {to}, BuiltinOptions::TransposeOptions,
        tfl::CreateTransposeOptions(b_.fbb).Union());
}

void Lowering::reshape_op(int from, int to, const std::vector<int32_t>& new_shape) {
  int s = int32_const("shape", new_shape);
  b_.op(BuiltinOperator::RESHAPE, 1, {from, s}, {to}, BuiltinOptions::ReshapeOptions,
        tfl::CreateReshapeOptionsDirect(b_.fbb, &new_shape).Union());
}

int Lowering::out_tensor(const Node& n) {
  tensor_[n.output] = activation(n.output, name_of(n));
  return tensor_[n.output];
}

int Lowering::axis_of(int v, int64_t kiln_axis) const {
  const Shape& ord = order_[v];
  return static_cast<int>(std::find(ord.begin(), ord.end(), kiln_axis) - ord.begin());
}

int Lowering::op_version(int float_version, int int8_version) const {
  return int8_ ? int8_version : float_version;
}

void Lowering::lower(const Node& n) {
  const std::string& op = n.op;
  if (op == "linear") return lower_linear(n);
  if (op == "conv2d") return lower_conv(n);
  if (op == "max_pool2d" || op == "avg_pool2d") return lower_pool(n);
  if (op == "mean") return lower_mean(n);
  if (op == "reshape") return lower_reshape(n);
  if (op == "permute") return lower_permute(n);
  if (op == "cat") return lower_cat(n);
  if (op == "pad") return lower_pad(n);
  if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "maximum" || op == "minimum")
    return lower_binary(n);
  if (op == "relu" || op == "relu6" || op == "sigmoid" || op == "tanh" || op == "leaky_relu")
    return lower_unary(n);
  if (op == "clamp") return lower_clamp(n);
  if (op == "softmax" || op == "log_softmax") return lower_softmax(n);
  KILN_CHECK(false, "export: ", describe(n), " has no TFLite form");
}

void Lowering::choose_int8_params() {
  KILN_CHECK(o_.calibration_data.defined(), "export: TFLiteQuantization::int8 needs calibration_data");
  auto ranges = calibrate(g_, o_.calibration_data, o_.calibration, o_.percentile, o_.calibration_batch);
  q_.resize(g_.values.size());
  q_[g_.input] = activation_params(ranges[g_.input]);
  for (const Node& n : g_.nodes) {
    const int out = n.output;
    const std::string& op = n.op;
    if (op == "softmax" || op == "sigmoid") {
      q_[out] = {{1.0f / 256.0f}, {-128}, 0};
    } else if (op == "tanh") {
      q_[out] = {{1.0f / 128.0f}, {0}, 0};
    } else if (op == "log_softmax") {
      q_[out] = {{16.0f / 256.0f}, {127}, 0};
    } else if ((op == "max_pool2d" || op == "reshape" || op == "permute" || op == "pad") && n.act.empty() &&
               !g_.is_constant(n.inputs[0])) {
      q_[out] = q_[n.inputs[0]];  // these move values without requantizing: same scale and zero point
    } else if (op == "avg_pool2d" && n.act.empty()) {
      q_[out] = q_[n.inputs[0]];
    } else {
      q_[out] = activation_params(ranges[out]);
    }
  }
}

}  // namespace kiln::nn::io::tflite_export
