// kiln/nn/io/trace_graph.h: the computation of one forward pass as a graph, captured at the op layer
// (autograd/trace.h) by running a module once on an example input in eval mode, as torch.export and ONNX
// tracing do. Any module built from traceable ops is captured, whatever its class: a Sequential, or a
// custom Module with a residual add or a concatenation. Each node remembers the module that ran it
// ("layers.3 (GELU)"), so an exporter's errors can point at the layer.
// Depends on nn/module.h and autograd/trace.h.
#pragma once

#include <string>
#include <vector>

#include "kiln/autograd/trace.h"
#include "kiln/nn/module.h"

namespace kiln::nn::io {

using autograd::trace::Attrs;
using autograd::trace::AttrValue;

// A value of the graph: the input, a constant (a parameter, a buffer, a folded result) or an op result.
struct Value {
  Shape shape;
  Tensor constant;  // defined exactly for constants
  Tensor traced;    // what the value held during the trace (the example input's batch)
};

struct Node {
  std::string op;           // an op_list.h name ("conv2d", "add", ...) or a cleanup form ("relu6")
  std::vector<int> inputs;  // value ids; -1 where an optional operand is absent
  int output = -1;
  Attrs attrs;
  std::string act;    // a fused activation applied to the result: "", "relu", "relu6" or "relu_n1_to_1"
  std::string where;  // the module that ran it, "features.2 (Conv2d)"; "(root)" at the top level

  bool has(const std::string& name) const;
  int64_t i(const std::string& name) const;
  double f(const std::string& name) const;
  std::vector<int64_t> ints(const std::string& name) const;
  void set(const std::string& name, AttrValue value);
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // in execution order
  int input = -1;
  int output = -1;

  bool is_constant(int v) const { return v >= 0 && values[v].constant.defined(); }
  int add_value(Shape shape, Tensor traced = {});
  int add_constant(Tensor t);
  // Indices of the nodes reading value v.
  std::vector<int> consumers(int v) const;
  // The node producing value v, or -1 (the input, constants).
  int producer(int v) const;
};

// Runs model once on example_input (eval mode, restored afterwards) and returns what it computed.
// A kiln::Error names any op without a trace hook and the module it ran in, a training-mode op, and an
// output that does not depend on the input.
Graph trace_module(Module& model, const Tensor& example_input);

// "linear", "layers.3 (GELU)": where a node came from, for error messages.
std::string describe(const Node& n);

}  // namespace kiln::nn::io
