// nn/io/onnx_writer.cpp: export_onnx. The cleaned-up graph maps onto ONNX operators almost one to one
// (ONNX is NCHW like kiln); fused activations are written as their own nodes, since ONNX has none.
#include <cstring>

#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export.h"
#include "kiln/nn/io/export_file.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/onnx_proto.h"
#include "kiln/nn/io/quantize_params.h"
#include "kiln/nn/io/trace_graph.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {
namespace {

class OnnxLowering {
 public:
  OnnxLowering(const Graph& g, const ONNXOptions& o) : g_(g), o_(o), names_(g.values.size()) {
    if (o.int8) {
      auto ranges = calibrate(g, o.calibration_data, o.calibration, o.percentile, 256);
      q_.resize(g.values.size());
      for (size_t v = 0; v < g.values.size(); ++v)
        if (ranges[v].seen) q_[v] = activation_params(ranges[v]);
    }
  }

  std::string run() {
    names_[g_.input] = o_.input_name;
    if (o_.int8) quantize_dequantize(g_.input);
    for (const Node& n : g_.nodes) {
      lower(n);
      if (o_.int8) quantize_dequantize(n.output);
    }
    // The output gets the requested name through an Identity when the last node wrote another name.
    std::string last = name(g_.output);
    if (last != o_.output_name) emit("Identity", {last}, {o_.output_name}, {});

    onnx::Message graph;
    for (const auto& n : nodes_) graph.message(1, n);
    graph.string(2, "kiln");
    for (const auto& t : initializers_) graph.message(5, t);
    std::vector<std::string> batch_param;
    if (o_.dynamic_batch) batch_param.push_back("batch");
    graph.message(11, onnx::value_info(o_.input_name, onnx::FLOAT, g_.values[g_.input].shape, batch_param));
    graph.message(12, onnx::value_info(o_.output_name, onnx::FLOAT, g_.values[g_.output].shape, batch_param));

    onnx::Message opset;
    opset.string(1, "").int64(2, o_.opset);  // domain "" (ai.onnx), version
    onnx::Message model;
    // The IR version that introduced the opset: 8 for 17-18, 9 for 19-20, 10 for 21.
    const int64_t ir_version = o_.opset <= 18 ? 8 : o_.opset <= 20 ? 9 : 10;
    model.int64(1, ir_version).string(2, "kiln").string(3, "0.1.0").message(7, graph).message(8, opset);
    return model.data();
  }

 private:
  std::string name(int v) {
    if (names_[v].empty()) {
      KILN_CHECK(g_.is_constant(v), "export: internal: value ", v, " used before it is computed");
      names_[v] = "const_" + std::to_string(v);
      const Tensor& t = g_.values[v].constant;
      add_float_initializer(names_[v], t);
    }
    return names_[v];
  }
  void add_float_initializer(const std::string& n, const Tensor& t) {
    std::vector<float> x = t.contiguous().to_vector<float>();
    initializers_.push_back(onnx::tensor(
        n, onnx::FLOAT, t.shape(), std::string_view(reinterpret_cast<const char*>(x.data()), x.size() * 4)));
  }
  std::string int64_initializer(const std::vector<int64_t>& v) {
    std::string n = "shape_" + std::to_string(initializers_.size());
    initializers_.push_back(
        onnx::tensor(n, onnx::INT64, {static_cast<int64_t>(v.size())},
                     std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * 8)));
    return n;
  }
  std::string float_scalar(float v) {
    std::string n = "scalar_" + std::to_string(initializers_.size());
    initializers_.push_back(
        onnx::tensor(n, onnx::FLOAT, {}, std::string_view(reinterpret_cast<const char*>(&v), 4)));
    return n;
  }
  void emit(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
            const std::vector<onnx::Message>& attrs) {
    nodes_.push_back(onnx::node(op, in, out, op + "_" + std::to_string(nodes_.size()), attrs));
  }
  // The output name of node n; with a fused activation, the op writes a temporary and the activation n's
  // value.
  std::string result(const Node& n) {
    names_[n.output] = "v" + std::to_string(n.output);
    return n.act.empty() ? names_[n.output] : names_[n.output] + "_pre";
  }
  void finish_act(const Node& n) {
    if (n.act.empty()) return;
    const std::string pre = names_[n.output] + "_pre", out = names_[n.output];
    if (n.act == "relu") return emit("Relu", {pre}, {out}, {});
    const float lo = n.act == "relu6" ? 0.0f : -1.0f, hi = n.act == "relu6" ? 6.0f : 1.0f;
    emit("Clip", {pre, float_scalar(lo), float_scalar(hi)}, {out}, {});
  }
  // QuantizeLinear + DequantizeLinear after value v: its consumers read the dequantized name.
  void quantize_dequantize(int v) {
    const QuantParams& q = q_[v];
    const std::string base = names_[v], scale = float_scalar(q.scale[0]);
    const int8_t zp_value = static_cast<int8_t>(q.zero_point[0]);
    std::string zp = "zp_" + std::to_string(initializers_.size());
    initializers_.push_back(
        onnx::tensor(zp, onnx::INT8, {}, std::string_view(reinterpret_cast<const char*>(&zp_value), 1)));
    emit("QuantizeLinear", {base, scale, zp}, {base + "_q"}, {});
    emit("DequantizeLinear", {base + "_q", scale, zp}, {base + "_dq"}, {});
    names_[v] = base + "_dq";
  }
  // An int8 weight (per-channel along axis 0) behind a DequantizeLinear; returns the float name. Sets the
  // weight scales for the bias.
  std::string int8_weight(int v, std::vector<float>& scales) {
    QuantParams q;
    const Tensor& w = g_.values[v].constant;
    std::vector<int8_t> data = quantize_symmetric(w, 0, true, q);
    scales = q.scale;
    const std::string n = "w" + std::to_string(v);
    initializers_.push_back(
        onnx::tensor(n + "_int8", onnx::INT8, w.shape(),
                     std::string_view(reinterpret_cast<const char*>(data.data()), data.size())));
    add_scales(n + "_scale", q.scale);
    std::vector<int8_t> zeros(q.scale.size(), 0);
    initializers_.push_back(
        onnx::tensor(n + "_zp", onnx::INT8, {static_cast<int64_t>(zeros.size())},
                     std::string_view(reinterpret_cast<const char*>(zeros.data()), zeros.size())));
    emit("DequantizeLinear", {n + "_int8", n + "_scale", n + "_zp"}, {n}, {onnx::attr_int("axis", 0)});
    return n;
  }
  // An int32 bias with scale input_scale * weight_scale[c], behind a DequantizeLinear.
  std::string int32_bias(int v, float input_scale, const std::vector<float>& weight_scales) {
    QuantParams q;
    std::vector<int32_t> data = quantize_bias(g_.values[v].constant, input_scale, weight_scales, q);
    const std::string n = "b" + std::to_string(v);
    initializers_.push_back(
        onnx::tensor(n + "_int32", onnx::INT32, {static_cast<int64_t>(data.size())},
                     std::string_view(reinterpret_cast<const char*>(data.data()), data.size() * 4)));
    add_scales(n + "_scale", q.scale);
    std::vector<int32_t> zeros(data.size(), 0);
    initializers_.push_back(
        onnx::tensor(n + "_zp", onnx::INT32, {static_cast<int64_t>(zeros.size())},
                     std::string_view(reinterpret_cast<const char*>(zeros.data()), zeros.size() * 4)));
    emit("DequantizeLinear", {n + "_int32", n + "_scale", n + "_zp"}, {n}, {onnx::attr_int("axis", 0)});
    return n;
  }
  void add_scales(const std::string& n, const std::vector<float>& s) {
    initializers_.push_back(
        onnx::tensor(n, onnx::FLOAT, {static_cast<int64_t>(s.size())},
                     std::string_view(reinterpret_cast<const char*>(s.data()), s.size() * 4)));
  }
  // In int8 mode, the weight and bias operands of a conv or 2-D linear become their QDQ forms.
  void quantize_parameters(const Node& n, std::vector<std::string>& in) {
    std::vector<float> scales;
    in[1] = int8_weight(n.inputs[1], scales);
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
      KILN_CHECK(g_.is_constant(n.inputs[2]), "export: ", describe(n), " has a bias computed from the input");
      in[2] = int32_bias(n.inputs[2], q_[n.inputs[0]].scale[0], scales);
    }
  }

  static std::vector<int64_t> pads4(const Shape& p) { return {p[0], p[1], p[0], p[1]}; }

  void lower(const Node& n) {
    const std::string& op = n.op;
    // int8: the weights and bias of a convolution or 2-D linear are written in their QDQ forms instead.
    const bool qdq_params =
        o_.int8 && (op == "conv2d" || (op == "linear" && g_.values[n.inputs[0]].shape.size() == 2)) &&
        g_.is_constant(n.inputs[1]);
    std::vector<std::string> in;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0) in.push_back(qdq_params && k > 0 ? std::string() : name(n.inputs[k]));
    if (qdq_params) quantize_parameters(n, in);
    if (op == "linear") {
      const Shape& xs = g_.values[n.inputs[0]].shape;
      if (xs.size() == 2) {
        emit("Gemm", in, {result(n)}, {onnx::attr_int("transB", 1)});
      } else {  // (N, ..., D): MatMul with the transposed weight, then the bias
        KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n),
                   " has a weight computed from the input");
        std::string wt = "const_" + std::to_string(n.inputs[1]) + "_t";
        add_float_initializer(wt, g_.values[n.inputs[1]].constant.t().contiguous());
        const std::string out = result(n);
        if (in.size() > 2) {
          emit("MatMul", {in[0], wt}, {out + "_mm"}, {});
          emit("Add", {out + "_mm", in[2]}, {out}, {});
        } else {
          emit("MatMul", {in[0], wt}, {out}, {});
        }
      }
    } else if (op == "conv2d") {
      const Shape& w = g_.values[n.inputs[1]].shape;
      emit("Conv", in, {result(n)},
           {onnx::attr_ints("kernel_shape", {w[2], w[3]}), onnx::attr_ints("strides", n.ints("stride")),
            onnx::attr_ints("pads", pads4(n.ints("padding"))),
            onnx::attr_ints("dilations", n.ints("dilation")), onnx::attr_int("group", n.i("groups"))});
    } else if (op == "max_pool2d") {
      emit("MaxPool", in, {result(n)},
           {onnx::attr_ints("kernel_shape", n.ints("kernel")), onnx::attr_ints("strides", n.ints("stride")),
            onnx::attr_ints("pads", pads4(n.ints("padding"))),
            onnx::attr_ints("dilations", n.ints("dilation"))});
    } else if (op == "avg_pool2d") {
      emit("AveragePool", in, {result(n)},
           {onnx::attr_ints("kernel_shape", n.ints("kernel")), onnx::attr_ints("strides", n.ints("stride")),
            onnx::attr_ints("pads", pads4(n.ints("padding"))),
            onnx::attr_int("count_include_pad", n.i("count_include_pad"))});
    } else if (op == "mean") {
      if (o_.opset >= 18)  // axes became an input in opset 18
        emit("ReduceMean", {in[0], int64_initializer(n.ints("dims"))}, {result(n)},
             {onnx::attr_int("keepdims", n.i("keepdim"))});
      else
        emit("ReduceMean", in, {result(n)},
             {onnx::attr_ints("axes", n.ints("dims")), onnx::attr_int("keepdims", n.i("keepdim"))});
    } else if (op == "reshape") {
      std::vector<int64_t> s = g_.values[n.output].shape;
      if (keeps_batch(g_, n)) s[0] = 0;  // 0: copy the input's (dynamic) batch
      emit("Reshape", {in[0], int64_initializer(s)}, {result(n)}, {});
    } else if (op == "permute") {
      emit("Transpose", in, {result(n)}, {onnx::attr_ints("perm", n.ints("dims"))});
    } else if (op == "cat") {
      emit("Concat", in, {result(n)}, {onnx::attr_int("axis", n.i("dim"))});
    } else if (op == "pad") {
      const Shape p = n.ints("pads");
      const int64_t rank = static_cast<int64_t>(g_.values[n.inputs[0]].shape.size());
      std::vector<int64_t> onnx_pads(2 * rank, 0);
      for (size_t i = 0; i < p.size() / 2; ++i) {
        const int64_t a = rank - 1 - static_cast<int64_t>(i);
        onnx_pads[a] = p[2 * i], onnx_pads[rank + a] = p[2 * i + 1];
      }
      emit("Pad", {in[0], int64_initializer(onnx_pads), float_scalar(static_cast<float>(n.f("value")))},
           {result(n)}, {});
    } else if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "maximum" ||
               op == "minimum") {
      const char* t = op == "add"       ? "Add"
                      : op == "sub"     ? "Sub"
                      : op == "mul"     ? "Mul"
                      : op == "div"     ? "Div"
                      : op == "maximum" ? "Max"
                                        : "Min";
      emit(t, in, {result(n)}, {});
    } else if (op == "relu") {
      emit("Relu", in, {result(n)}, {});
    } else if (op == "relu6") {
      emit("Clip", {in[0], float_scalar(0.0f), float_scalar(6.0f)}, {result(n)}, {});
    } else if (op == "clamp") {
      std::string lo = n.has("min") ? float_scalar(static_cast<float>(n.f("min"))) : "";
      std::string hi = n.has("max") ? float_scalar(static_cast<float>(n.f("max"))) : "";
      emit("Clip", {in[0], lo, hi}, {result(n)}, {});
    } else if (op == "sigmoid") {
      emit("Sigmoid", in, {result(n)}, {});
    } else if (op == "tanh") {
      emit("Tanh", in, {result(n)}, {});
    } else if (op == "leaky_relu") {
      emit("LeakyRelu", in, {result(n)},
           {onnx::attr_float("alpha", static_cast<float>(n.f("negative_slope")))});
    } else if (op == "softmax" || op == "log_softmax") {
      emit(op == "softmax" ? "Softmax" : "LogSoftmax", in, {result(n)}, {onnx::attr_int("axis", n.i("dim"))});
    } else {
      KILN_CHECK(false, "export: ", describe(n), " has no ONNX form");
    }
    finish_act(n);
  }

  const Graph& g_;
  const ONNXOptions& o_;
  std::vector<std::string> names_;
  std::vector<onnx::Message> nodes_, initializers_;
  std::vector<QuantParams> q_;  // int8: each computed value's parameters
};

}  // namespace

void export_onnx(Module& model, const Tensor& example_input, const std::string& path,
                 const ONNXOptions& options) {
  KILN_CHECK(options.opset >= 17 && options.opset <= 21, "export_onnx: opset must lie in [17, 21], got ",
             options.opset);
  KILN_CHECK(!options.int8 || options.calibration_data.defined(),
             "export_onnx: int8 (QDQ) needs calibration_data");
  Graph g = trace_module(model, example_input);
  cleanup(g, {.fuse_activations = false});
  write_file_atomically(path, OnnxLowering(g, options).run());
}

}  // namespace kiln::nn::io
