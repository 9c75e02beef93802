// nn/io/export_eval.cpp: the cleanup forms' reference semantics, in kiln ops.
#include "kiln/nn/io/export_eval.h"

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {
namespace {

Tensor activate(const Tensor& y, const std::string& act) {
  if (act.empty()) return y;
  if (act == "relu") return relu(y);
  if (act == "relu6") return clamp(y, 0.0, 6.0);
  if (act == "relu_n1_to_1") return clamp(y, -1.0, 1.0);
  KILN_CHECK(false, "export: unknown fused activation '", act, "'");
  return {};
}

Int2 int2(const Shape& s) { return {s[0], s[1]}; }

Tensor run_node(const Node& n, const std::vector<Tensor>& in, const Graph& g) {
  const std::string& op = n.op;
  auto at = [&](size_t i) { return i < in.size() ? in[i] : Tensor(); };
  if (op == "linear") return linear(in[0], in[1], at(2));
  if (op == "conv2d")
    return conv2d(in[0], in[1], at(2), int2(n.ints("stride")), int2(n.ints("padding")),
                  int2(n.ints("dilation")), n.i("groups"));
  if (op == "max_pool2d")
    return max_pool2d(in[0], int2(n.ints("kernel")), int2(n.ints("stride")), int2(n.ints("padding")),
                      int2(n.ints("dilation")));
  if (op == "avg_pool2d")
    return avg_pool2d(in[0], int2(n.ints("kernel")), int2(n.ints("stride")), int2(n.ints("padding")), false,
                      n.i("count_include_pad") != 0);
  if (op == "mean") return mean(in[0], n.ints("dims"), n.i("keepdim") != 0);
  if (op == "reshape") {
    Shape s = g.values[n.output].shape;
    if (keeps_batch(g, n)) s[0] = in[0].size(0);  // the batch may differ from the trace's
    return reshape(in[0], s);
  }
  if (op == "permute") return permute(in[0], n.ints("dims"));
  if (op == "cat") return cat(in, n.i("dim"));
  if (op == "pad") return pad(in[0], n.ints("pads"), n.f("value"));
  if (op == "add") return add(in[0], in[1]);
  if (op == "sub") return sub(in[0], in[1]);
  if (op == "mul") return mul(in[0], in[1]);
  if (op == "div") return div(in[0], in[1]);
  if (op == "maximum") return maximum(in[0], in[1]);
  if (op == "minimum") return minimum(in[0], in[1]);
  if (op == "relu") return relu(in[0]);
  if (op == "relu6") return clamp(in[0], 0.0, 6.0);
  if (op == "sigmoid") return sigmoid(in[0]);
  if (op == "tanh") return tanh(in[0]);
  if (op == "leaky_relu") return leaky_relu(in[0], n.f("negative_slope"));
  if (op == "clamp")
    return clamp(in[0], n.has("min") ? std::optional<double>(n.f("min")) : std::nullopt,
                 n.has("max") ? std::optional<double>(n.f("max")) : std::nullopt);
  if (op == "softmax") return softmax(in[0], n.i("dim"));
  if (op == "log_softmax") return log_softmax(in[0], n.i("dim"));
  KILN_CHECK(false, "export: cannot evaluate ", describe(n));
  return {};
}

}  // namespace

Tensor evaluate(const Graph& g, const Tensor& input, std::vector<Tensor>* values) {
  NoGradGuard no_grad;
  std::vector<Tensor> v(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].constant.defined()) v[i] = g.values[i].constant;
  v[g.input] = input;
  for (const Node& n : g.nodes) {
    std::vector<Tensor> in;
    for (int id : n.inputs)
      if (id >= 0)
        in.push_back(v[id]);
      else
        in.emplace_back();
    v[n.output] = activate(run_node(n, in, g), n.act);
  }
  Tensor out = v[g.output];
  if (values) *values = std::move(v);
  return out;
}

}  // namespace kiln::nn::io
