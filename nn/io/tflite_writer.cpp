// nn/io/tflite_writer.cpp: export_tflite. The traced, cleaned-up graph is lowered op by op onto TFLite's
// builtin operators with the FlatBuffers builder over kiln's schema (tflite_schema.fbs).
//
// Layout: kiln computes NCHW, TFLite NHWC. Every rank-4 value computed from the input is stored NHWC (its
// "physical" axis order is {0, 2, 3, 1} in kiln axes); ops that name axes (cat, mean, softmax, permute,
// reshape) translate them through that order, constants that broadcast against such values are
// permuted when written, and convolution weights are written OHWI (depthwise 1HWO). A flatten of an
// NHWC value feeding linear layers is done without a transpose by permuting the linear weights' columns
// instead. The signature's input, and a rank-4 output, are in the layout the options ask.
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export.h"
#include "kiln/nn/io/export_file.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/quantize_params.h"
#include "kiln/nn/io/trace_graph.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/half.h"
#include "tflite_schema_generated.h"

namespace kiln::nn::io {
namespace {
namespace fb = flatbuffers;
namespace tfl = kiln::tflite;
using tfl::BuiltinOperator;
using tfl::BuiltinOptions;

const Shape kNHWC{0, 2, 3, 1};  // physical position i holds kiln axis kNHWC[i]

Shape identity_order(size_t rank) {
  Shape s(rank);
  std::iota(s.begin(), s.end(), 0);
  return s;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

tfl::ActivationFunctionType fused(const std::string& act) {
  if (act.empty()) return tfl::ActivationFunctionType::NONE;
  if (act == "relu") return tfl::ActivationFunctionType::RELU;
  if (act == "relu6") return tfl::ActivationFunctionType::RELU6;
  if (act == "relu_n1_to_1") return tfl::ActivationFunctionType::RELU_N1_TO_1;
  KILN_CHECK(false, "export: unknown fused activation ", act);
  return tfl::ActivationFunctionType::NONE;
}

// The file being built: buffers, tensors, operators and their codes.
class ModelBuilder {
 public:
  fb::FlatBufferBuilder fbb{1 << 16};

  ModelBuilder() { buffers_.push_back(tfl::CreateBuffer(fbb)); }  // buffer 0: the empty sentinel

  int tensor(const std::string& name, const Shape& shape, tfl::TensorType type,
             const std::vector<uint8_t>* data, const QuantParams* q = nullptr, bool dynamic_batch = false) {
    uint32_t buffer = 0;
    if (data) {
      fbb.ForceVectorAlignment(data->size(), sizeof(uint8_t), 16);
      auto vec = fbb.CreateVector(*data);
      buffers_.push_back(tfl::CreateBuffer(fbb, vec));
      buffer = static_cast<uint32_t>(buffers_.size() - 1);
    }
    std::vector<int32_t> dims(shape.begin(), shape.end());
    fb::Offset<fb::Vector<int32_t>> signature = 0;
    if (dynamic_batch && !dims.empty()) {
      std::vector<int32_t> sig = dims;
      sig[0] = -1;
      signature = fbb.CreateVector(sig);
    }
    fb::Offset<tfl::QuantizationParameters> quant = 0;
    if (q)
      quant =
          tfl::CreateQuantizationParametersDirect(fbb, nullptr, nullptr, &q->scale, &q->zero_point, q->axis);
    auto shape_vec = fbb.CreateVector(dims);
    auto name_str = fbb.CreateString(name);
    tfl::TensorBuilder tb(fbb);
    tb.add_shape(shape_vec);
    tb.add_type(type);
    tb.add_buffer(buffer);
    tb.add_name(name_str);
    if (q) tb.add_quantization(quant);
    if (dynamic_batch) tb.add_shape_signature(signature);
    tensors_.push_back(tb.Finish());
    return static_cast<int>(tensors_.size()) - 1;
  }

  void op(BuiltinOperator code, int version, const std::vector<int>& inputs, const std::vector<int>& outputs,
          BuiltinOptions options_type = BuiltinOptions::NONE, fb::Offset<void> options = 0) {
    uint32_t index = opcode(code, version);
    ops_.push_back(tfl::CreateOperatorDirect(fbb, index, &inputs, &outputs, options_type, options));
  }

  std::string finish(int input, int output, const std::string& input_name, const std::string& output_name,
                     const std::string& signature_key) {
    std::vector<fb::Offset<tfl::OperatorCode>> codes;
    for (auto [code, version] : opcodes_) {
      const int8_t deprecated = static_cast<int8_t>(std::min(static_cast<int>(code), 127));
      codes.push_back(tfl::CreateOperatorCode(fbb, deprecated, 0, version, code));
    }
    std::vector<int> ins{input}, outs{output};
    auto subgraph = tfl::CreateSubGraphDirect(fbb, &tensors_, &ins, &outs, &ops_, "main");
    std::vector<fb::Offset<tfl::TensorMap>> sig_in{
        tfl::CreateTensorMapDirect(fbb, input_name.c_str(), input)};
    std::vector<fb::Offset<tfl::TensorMap>> sig_out{
        tfl::CreateTensorMapDirect(fbb, output_name.c_str(), output)};
    std::vector<fb::Offset<tfl::SignatureDef>> sigs{
        tfl::CreateSignatureDefDirect(fbb, &sig_in, &sig_out, signature_key.c_str(), 0)};
    std::vector<fb::Offset<tfl::SubGraph>> subgraphs{subgraph};
    auto model = tfl::CreateModelDirect(fbb, 3, &codes, &subgraphs, "kiln", &buffers_, nullptr, &sigs);
    tfl::FinishModelBuffer(fbb, model);
    return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }

 private:
  uint32_t opcode(BuiltinOperator code, int version) {
    for (size_t i = 0; i < opcodes_.size(); ++i)
      if (opcodes_[i].first == code) {
        opcodes_[i].second = std::max(opcodes_[i].second, version);
        return static_cast<uint32_t>(i);
      }
    opcodes_.emplace_back(code, version);
    return static_cast<uint32_t>(opcodes_.size() - 1);
  }
  std::vector<fb::Offset<tfl::Buffer>> buffers_;
  std::vector<fb::Offset<tfl::Tensor>> tensors_;
  std::vector<fb::Offset<tfl::Operator>> ops_;
  std::vector<std::pair<BuiltinOperator, int>> opcodes_;
};

class Lowering {
 public:
  Lowering(const Graph& g, const TFLiteOptions& o) : g_(g), o_(o), tensor_(g.values.size(), -1) {
    order_.resize(g.values.size());
    for (size_t v = 0; v < g.values.size(); ++v)
      order_[v] = g.values[v].shape.size() == 4 && !g.is_constant(static_cast<int>(v))
                      ? kNHWC
                      : identity_order(g.values[v].shape.size());
    int8_ = o.quantization == TFLiteQuantization::int8;
    if (int8_) choose_int8_params();
  }

  std::string run() {
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
      int nchw =
          int8_ && !int8_io
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

 private:
  // ---- tensors ----
  Shape physical_shape(int v) const {
    Shape s;
    for (int64_t a : order_[v]) s.push_back(g_.values[v].shape[a]);
    return s;
  }
  tfl::TensorType act_type() const { return int8_ ? tfl::TensorType::INT8 : tfl::TensorType::FLOAT32; }
  int activation(int v, const std::string& name) {
    return b_.tensor(name, physical_shape(v), act_type(), nullptr, int8_ ? &q_[v] : nullptr, true);
  }
  int quantize_input(int file_input, int in, const Shape& shape) {
    if (!int8_ || o_.int8_input_output) return file_input;
    int q = b_.tensor("input_quantized", shape, tfl::TensorType::INT8, nullptr, &q_[in], true);
    b_.op(BuiltinOperator::QUANTIZE, 1, {file_input}, {q}, BuiltinOptions::QuantizeOptions,
          tfl::CreateQuantizeOptions(b_.fbb).Union());
    return q;
  }
  int int32_const(const std::string& name, const std::vector<int32_t>& v, Shape shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
    auto data = bytes_of(v);
    return b_.tensor(name, shape, tfl::TensorType::INT32, &data);
  }
  // A float constant as the ops read it: float32, or float16 + DEQUANTIZE in float16 mode.
  int float_const(const std::string& name, const Tensor& t) {
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
  // A constant operand of an elementwise op whose output is value `out`: broadcast to its rank, put in its
  // physical order, and in int8 mode quantized per tensor over its own range.
  int elementwise_const(int c, int out, const std::string& name) {
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
  // The tensor of operand v for an elementwise op producing `out`.
  int operand(int v, int out, const std::string& name) {
    if (g_.is_constant(v)) return elementwise_const(v, out, name);
    KILN_CHECK(tensor_[v] >= 0, "export: internal: value ", v, " has no tensor");
    const size_t rank = g_.values[out].shape.size();
    KILN_CHECK(g_.values[v].shape.size() == rank || order_[out] == identity_order(rank), "export: ", name,
               ": broadcasting a computed rank-", g_.values[v].shape.size(),
               " value against a rank-4 image tensor has no TFLite form; reshape it to rank 4 first");
    return tensor_[v];
  }
  std::string name_of(const Node& n) const { return n.where + "/" + n.op; }

  // ---- ops ----
  void transpose(int from, int to, const std::vector<int32_t>& perm, bool int8) {
    int p = int32_const("perm", perm);
    b_.op(BuiltinOperator::TRANSPOSE, int8 ? 2 : 1, {from, p}, {to}, BuiltinOptions::TransposeOptions,
          tfl::CreateTransposeOptions(b_.fbb).Union());
  }
  void reshape_op(int from, int to, const std::vector<int32_t>& new_shape) {
    int s = int32_const("shape", new_shape);
    b_.op(BuiltinOperator::RESHAPE, 1, {from, s}, {to}, BuiltinOptions::ReshapeOptions,
          tfl::CreateReshapeOptionsDirect(b_.fbb, &new_shape).Union());
  }
  // Output tensor of node n in physical order.
  int out_tensor(const Node& n) {
    tensor_[n.output] = activation(n.output, name_of(n));
    return tensor_[n.output];
  }
  int axis_of(int v, int64_t kiln_axis) const {
    const Shape& ord = order_[v];
    return static_cast<int>(std::find(ord.begin(), ord.end(), kiln_axis) - ord.begin());
  }
  int op_version(int float_version, int int8_version) const { return int8_ ? int8_version : float_version; }

  // Whether TFLite's SAME padding places the windows of a symmetric kiln padding `pad` exactly (SAME puts
  // the odd pixel of its total padding at the end, so e.g. stride 2 with padding 1 on an even input is not
  // SAME).
  static bool same_matches(int64_t in, int64_t out, int64_t k_eff, int64_t stride, int64_t pad) {
    const int64_t out_same = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out_same - 1) * stride + k_eff - in, 0);
    return out == out_same && total / 2 == pad;
  }

  // The padding mode for a windowed op, inserting a PAD / PADV2 before it when neither SAME nor VALID
  // matches. Returns the (possibly padded) input tensor.
  int windowed_input(const Node& n, int x, tfl::Padding& padding, Shape k_eff, Shape stride, Shape pad,
                     bool max_pool) {
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

  void lower(const Node& n) {
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

  // Weights of a linear or convolution in int8 (per-channel along `axis`) or the float forms.
  int weight_tensor(const Node& n, const Tensor& w, int axis, bool per_channel_hybrid, QuantParams* wq) {
    const std::string name = name_of(n) + "_weight";
    if (int8_ || o_.quantization == TFLiteQuantization::dynamic_int8) {
      QuantParams q;
      auto data = bytes_of(quantize_symmetric(w, axis, int8_ || per_channel_hybrid, q));
      if (wq) *wq = q;
      return b_.tensor(name, w.shape(), tfl::TensorType::INT8, &data, &q);
    }
    return float_const(name, w);
  }
  int bias_tensor(const Node& n, int bias_value, int x_value, const QuantParams& wq) {
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

  void lower_linear(const Node& n) {
    const int x = n.inputs[0];
    KILN_CHECK(g_.values[x].shape.size() == 2, "export: ", describe(n), " takes a rank-",
               g_.values[x].shape.size(), " input; TFLite export supports linear layers on (N, features)");
    KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n), " has a weight computed from the input");
    Tensor w = g_.values[n.inputs[1]].constant;
    if (auto f = flattened_.find(x); f != flattened_.end()) {  // columns in (h, w, c) order, as stored
      auto [c, h, wd] = f->second;
      NoGradGuard no_grad;
      w = w.reshape({w.size(0), c, h, wd})
              .permute({0, 2, 3, 1})
              .contiguous()
              .reshape({w.size(0), c * h * wd});
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

  void lower_conv(const Node& n) {
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
      const int version = int8_                                                 ? 3
                          : o_.quantization == TFLiteQuantization::dynamic_int8 ? 6
                          : dilated                                             ? 2
                                                                                : 1;
      auto opts = tfl::CreateDepthwiseConv2DOptions(
          b_.fbb, padding, static_cast<int>(stride[1]), static_cast<int>(stride[0]),
          static_cast<int>(cout / cin), fused(n.act), static_cast<int>(dil[1]), static_cast<int>(dil[0]));
      b_.op(BuiltinOperator::DEPTHWISE_CONV_2D, version, {in, wt, bt}, {out},
            BuiltinOptions::DepthwiseConv2DOptions, opts.Union());
    }
  }

  void lower_pool(const Node& n) {
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

  void lower_mean(const Node& n) {
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
  // Reducing NHWC over the spatial axes leaves (N, C): the same order as kiln's (N, C).
  bool is_prefix_preserving(int x, const Shape& dims) const {
    std::vector<int64_t> kept_phys;
    for (int64_t a : order_[x])
      if (std::find(dims.begin(), dims.end(), a) == dims.end()) kept_phys.push_back(a);
    return std::is_sorted(kept_phys.begin(), kept_phys.end());
  }

  // Physical permutation taking value `from`'s stored order to kiln axes `kiln_perm` of it, stored in
  // `to_order`: out physical i = kiln output axis to_order[i] = kiln input axis kiln_perm[to_order[i]].
  std::vector<int32_t> physical_perm(int from, const Shape& kiln_perm, const Shape& to_order) const {
    std::vector<int32_t> p;
    for (int64_t a : to_order) p.push_back(axis_of(from, kiln_perm[a]));
    return p;
  }
  static bool is_identity(const std::vector<int32_t>& p) {
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] != static_cast<int32_t>(i)) return false;
    return true;
  }

  void lower_reshape(const Node& n) {
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

  void lower_permute(const Node& n) {
    const int x = n.inputs[0];
    const Shape dims = n.ints("dims");
    auto p = physical_perm(x, dims, order_[n.output]);
    int out = out_tensor(n);
    transpose(tensor_[x], out, p, int8_);
  }

  void lower_cat(const Node& n) {
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

  void lower_pad(const Node& n) {
    const int x = n.inputs[0];
    const Shape pads = n.ints("pads");
    const int64_t rank = static_cast<int64_t>(g_.values[x].shape.size());
    std::vector<int32_t> phys(rank * 2, 0);
    for (size_t i = 0; i < pads.size() / 2; ++i) {
      const int a = axis_of(x, rank - 1 - static_cast<int64_t>(i));
      phys[2 * a] = static_cast<int32_t>(pads[2 * i]),
               phys[2 * a + 1] = static_cast<int32_t>(pads[2 * i + 1]);
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

  void lower_binary(const Node& n) {
    std::string op = n.op;
    int a = operand(n.inputs[0], n.output, name_of(n) + "_a");
    int b;
    // int8 has no DIV kernel: dividing by a constant is multiplying by its reciprocal.
    if (int8_ && op == "div") {
      KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n),
                 " divides by a computed value; TFLite has no int8 division");
      NoGradGuard no_grad;
      Graph& g = const_cast<Graph&>(g_);
      int r = g.add_constant(reciprocal(g_.values[n.inputs[1]].constant).contiguous());
      tensor_.push_back(-1), order_.push_back(identity_order(g.values[r].shape.size()));
      b = operand(r, n.output, name_of(n) + "_b");
      op = "mul";
    } else {
      b = operand(n.inputs[1], n.output, name_of(n) + "_b");
    }
    int out = out_tensor(n);
    const auto act = fused(n.act);
    if (op == "add")
      b_.op(BuiltinOperator::ADD, op_version(1, 2), {a, b}, {out}, BuiltinOptions::AddOptions,
            tfl::CreateAddOptions(b_.fbb, act).Union());
    else if (op == "sub")
      b_.op(BuiltinOperator::SUB, op_version(1, 2), {a, b}, {out}, BuiltinOptions::SubOptions,
            tfl::CreateSubOptions(b_.fbb, act).Union());
    else if (op == "mul")
      b_.op(BuiltinOperator::MUL, op_version(1, 2), {a, b}, {out}, BuiltinOptions::MulOptions,
            tfl::CreateMulOptions(b_.fbb, act).Union());
    else if (op == "div")
      b_.op(BuiltinOperator::DIV, 1, {a, b}, {out}, BuiltinOptions::DivOptions,
            tfl::CreateDivOptions(b_.fbb, act).Union());
    else
      b_.op(op == "maximum" ? BuiltinOperator::MAXIMUM : BuiltinOperator::MINIMUM, op_version(1, 2), {a, b},
            {out}, BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
  }

  void lower_unary(const Node& n) {
    int x = tensor_[n.inputs[0]];
    int out = out_tensor(n);
    if (n.op == "relu") return b_.op(BuiltinOperator::RELU, op_version(1, 2), {x}, {out});
    if (n.op == "relu6") return b_.op(BuiltinOperator::RELU6, op_version(1, 2), {x}, {out});
    if (n.op == "sigmoid") return b_.op(BuiltinOperator::LOGISTIC, op_version(1, 2), {x}, {out});
    if (n.op == "tanh") return b_.op(BuiltinOperator::TANH, op_version(1, 2), {x}, {out});
    b_.op(BuiltinOperator::LEAKY_RELU, 1, {x}, {out}, BuiltinOptions::LeakyReluOptions,
          tfl::CreateLeakyReluOptions(b_.fbb, static_cast<float>(n.f("negative_slope"))).Union());
  }

  void lower_clamp(const Node& n) {
    int x = tensor_[n.inputs[0]];
    auto scalar = [&](double v) {
      if (int8_) {
        auto data = bytes_of(quantize_with(full({1}, v), q_[n.output]));
        return b_.tensor("clamp_bound", {}, tfl::TensorType::INT8, &data, &q_[n.output]);
      }
      std::vector<float> f{static_cast<float>(v)};
      auto data = bytes_of(f);
      return b_.tensor("clamp_bound", {}, tfl::TensorType::FLOAT32, &data);
    };
    if (n.has("min") && n.has("max")) {
      int mid = b_.tensor(name_of(n) + "_lo", physical_shape(n.output), act_type(), nullptr,
                          int8_ ? &q_[n.output] : nullptr, true);
      b_.op(BuiltinOperator::MAXIMUM, op_version(1, 2), {x, scalar(n.f("min"))}, {mid},
            BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
      int out = out_tensor(n);
      b_.op(BuiltinOperator::MINIMUM, op_version(1, 2), {mid, scalar(n.f("max"))}, {out},
            BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
      return;
    }
    const bool lo = n.has("min");
    int out = out_tensor(n);
    b_.op(lo ? BuiltinOperator::MAXIMUM : BuiltinOperator::MINIMUM, op_version(1, 2),
          {x, scalar(lo ? n.f("min") : n.f("max"))}, {out}, BuiltinOptions::MaximumMinimumOptions,
          tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
  }

  void lower_softmax(const Node& n) {
    const int x = n.inputs[0];
    const int axis = axis_of(x, n.i("dim"));
    KILN_CHECK(axis == static_cast<int>(g_.values[x].shape.size()) - 1, "export: ", describe(n),
               " normalizes over dim ", n.i("dim"), "; TFLite's softmax runs over the last stored axis only",
               (g_.values[x].shape.size() == 4 ? " (for an image tensor: the channels, dim 1)" : ""));
    int out = out_tensor(n);
    if (n.op == "softmax")
      b_.op(BuiltinOperator::SOFTMAX, op_version(1, 2), {tensor_[x]}, {out}, BuiltinOptions::SoftmaxOptions,
            tfl::CreateSoftmaxOptions(b_.fbb, 1.0f).Union());
    else
      b_.op(BuiltinOperator::LOG_SOFTMAX, op_version(1, 2), {tensor_[x]}, {out},
            BuiltinOptions::LogSoftmaxOptions, tfl::CreateLogSoftmaxOptions(b_.fbb).Union());
  }

  // ---- int8 parameters of every computed value ----
  void choose_int8_params() {
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

  const Graph& g_;
  const TFLiteOptions& o_;
  ModelBuilder b_;
  std::vector<int> tensor_;   // TFLite tensor of each computed value, -1 before it is written
  std::vector<Shape> order_;  // each value's stored axis order (kiln axes)
  std::vector<QuantParams> q_;
  std::map<int, std::array<int64_t, 3>> flattened_;  // flatten outputs kept in (h, w, c) order: (C, H, W)
  bool int8_ = false;
};

}  // namespace

void export_tflite(Module& model, const Tensor& example_input, const std::string& path,
                   const TFLiteOptions& options) {
  Graph g = trace_module(model, example_input);
  cleanup(g);
  std::string bytes = Lowering(g, options).run();
  write_file_atomically(path, bytes);
}

}  // namespace kiln::nn::io
