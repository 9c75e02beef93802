// nn/io/export_passes.cpp: normalization, identity removal, constant folding, BatchNorm folding,
// dead-value elimination and activation fusion over a traced graph.
#include "kiln/nn/io/export_passes.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {
namespace {

int64_t wrap(int64_t d, int64_t rank) { return d < 0 ? d + rank : d; }

// Replaces every use of value `from` by `to` (and the graph output).
void replace_uses(Graph& g, int from, int to) {
  for (Node& n : g.nodes)
    for (int& in : n.inputs)
      if (in == from) in = to;
  if (g.output == from) g.output = to;
}

Node make_node(const Node& like, std::string op, std::vector<int> inputs, int output) {
  return Node{std::move(op), std::move(inputs), output, {}, "", like.where};
}

// Rewrites the traced ops into the cleanup forms (see the header), splitting linear/bias_act activations
// off into their own nodes.
void normalize(Graph& g) {
  std::vector<Node> out;
  for (Node& n : g.nodes) {
    const Shape& in_shape = n.inputs.empty() || n.inputs[0] < 0 ? Shape{} : g.values[n.inputs[0]].shape;
    const int64_t rank = static_cast<int64_t>(in_shape.size());
    auto split_activation = [&](Node base) {
      const auto act = static_cast<Activation>(n.i("act"));
      const double slope = n.f("negative_slope");
      base.attrs.clear();
      if (act == Activation::none) {
        out.push_back(std::move(base));
        return;
      }
      const char* name = act == Activation::relu         ? "relu"
                         : act == Activation::sigmoid    ? "sigmoid"
                         : act == Activation::tanh       ? "tanh"
                         : act == Activation::leaky_relu ? "leaky_relu"
                                                         : nullptr;
      KILN_CHECK(name != nullptr, "export: ", describe(n), " applies ", activation_name(act),
                 ", which the export formats cannot express");
      int mid = g.add_value(g.values[n.output].shape);
      Node a = make_node(n, name, {mid}, base.output);
      if (act == Activation::leaky_relu) a.set("negative_slope", slope);
      base.output = mid;
      out.push_back(std::move(base));
      out.push_back(std::move(a));
    };
    if (n.op == "linear") {
      split_activation(make_node(n, "linear", n.inputs, n.output));
    } else if (n.op == "bias_act") {
      split_activation(make_node(n, "add", n.inputs, n.output));
    } else if (n.op == "dropout" || n.op == "dropout2d") {
      KILN_CHECK(n.i("training") == 0, "export: ", describe(n),
                 " runs in training mode; dropout exports only as the identity (eval)");
      n.op = "identity";
      out.push_back(std::move(n));
    } else if (n.op == "batch_norm") {
      KILN_CHECK(n.i("training") == 0, "export: ", describe(n),
                 " uses batch statistics (training mode); export needs running statistics (eval)");
      out.push_back(std::move(n));
    } else if (n.op == "mean") {
      Shape dims = n.ints("dims");
      if (dims.empty()) dims.resize(rank), std::iota(dims.begin(), dims.end(), 0);
      for (auto& d : dims) d = wrap(d, rank);
      std::sort(dims.begin(), dims.end());
      n.set("dims", dims);
      out.push_back(std::move(n));
    } else if (n.op == "softmax" || n.op == "log_softmax" || n.op == "cat") {
      const int64_t r = n.op == "cat" ? static_cast<int64_t>(g.values[n.output].shape.size()) : rank;
      n.set("dim", wrap(n.i("dim"), r));
      out.push_back(std::move(n));
    } else if (n.op == "permute") {
      Shape dims = n.ints("dims");
      for (auto& d : dims) d = wrap(d, rank);
      n.set("dims", dims);
      out.push_back(std::move(n));
    } else if (n.op == "clamp") {
      const bool lo = n.has("min"), hi = n.has("max");
      if (lo && n.f("min") == 0.0 && !hi) {
        n.op = "relu", n.attrs.clear();
      } else if (lo && hi && n.f("min") == 0.0 && n.f("max") == 6.0) {
        n.op = "relu6", n.attrs.clear();
      }
      out.push_back(std::move(n));
    } else if (n.op == "adaptive_avg_pool2d") {
      const auto os = n.ints("output_size");
      const int64_t h = in_shape[2], w = in_shape[3];
      if (os[0] == 1 && os[1] == 1) {
        n.op = "mean";
        n.attrs = {{"dims", Shape{2, 3}}, {"keepdim", int64_t{1}}};
      } else {
        KILN_CHECK(h % os[0] == 0 && w % os[1] == 0, "export: ", describe(n), " pools ", h, "x", w, " to ",
                   os[0], "x", os[1], "; only sizes that divide the input export (as an average pool)");
        const Shape k{h / os[0], w / os[1]};
        n.op = "avg_pool2d";
        n.attrs = {{"kernel", k},
                   {"stride", k},
                   {"padding", Shape{0, 0}},
                   {"ceil_mode", int64_t{0}},
                   {"count_include_pad", int64_t{1}}};
      }
      out.push_back(std::move(n));
    } else if (n.op == "max_pool2d" || n.op == "avg_pool2d") {
      // ceil_mode that adds no window is the floor-mode pool.
      if (n.i("ceil_mode")) {
        const auto k = n.ints("kernel"), s = n.ints("stride"), p = n.ints("padding");
        const Shape d = n.op == "max_pool2d" ? n.ints("dilation") : Shape{1, 1};
        const Shape& o = g.values[n.output].shape;
        for (int i = 0; i < 2; ++i) {
          const int64_t floor_out = (in_shape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i] + 1;
          KILN_CHECK(o[2 + i] == floor_out, "export: ", describe(n),
                     " uses ceil_mode, which adds a partial window here; the formats cannot express it");
        }
        n.set("ceil_mode", int64_t{0});
      }
      out.push_back(std::move(n));
    } else {
      out.push_back(std::move(n));
    }
  }
  g.nodes = std::move(out);
}

// Removes identities: identity nodes and reshapes to the same shape.
void remove_identities(Graph& g) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    const bool same_reshape = n.op == "reshape" && g.values[n.inputs[0]].shape == g.values[n.output].shape;
    if (n.op == "identity" || same_reshape) {
      replace_uses(g, n.output, n.inputs[0]);
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
}

// A node whose operands are all constants computes a constant: its traced value.
void fold_constants(Graph& g) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool all_const =
        std::all_of(n.inputs.begin(), n.inputs.end(), [&](int v) { return v < 0 || g.is_constant(v); });
    if (all_const && n.act.empty()) {
      g.values[n.output].constant = g.values[n.output].traced.contiguous();
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
}

Tensor const_or(const Graph& g, int v, double fill, int64_t c) {
  if (v >= 0) return g.values[v].constant;
  return full({c}, fill);
}

// Folds eval-mode BatchNorm into the convolution or linear layer that alone feeds it; any other BatchNorm
// becomes y = x * scale + shift with per-channel constants.
void fold_batch_norm(Graph& g) {
  std::vector<bool> removed(g.nodes.size(), false);
  std::vector<std::vector<Node>> replacement(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& bn = g.nodes[i];
    if (bn.op != "batch_norm") continue;
    const int x = bn.inputs[0];
    for (int k = 1; k < 5; ++k)
      KILN_CHECK(bn.inputs[k] < 0 || g.is_constant(bn.inputs[k]), "export: ", describe(bn),
                 " has statistics or affine parameters computed from the input; they must be constants");
    const int64_t c = g.values[x].shape[1];
    Tensor mean = g.values[bn.inputs[1]].constant, var = g.values[bn.inputs[2]].constant;
    Tensor gamma = const_or(g, bn.inputs[3], 1.0, c), beta = const_or(g, bn.inputs[4], 0.0, c);
    Tensor scale, shift;
    {
      NoGradGuard no_grad;
      scale = gamma / sqrt(var + bn.f("eps"));
      shift = beta - mean * scale;
    }
    const int p = g.producer(x);
    const bool foldable =
        p >= 0 && (g.nodes[p].op == "conv2d" || g.nodes[p].op == "linear") &&
        g.is_constant(g.nodes[p].inputs[1]) &&
        (g.nodes[p].inputs.size() < 3 || g.nodes[p].inputs[2] < 0 || g.is_constant(g.nodes[p].inputs[2])) &&
        g.consumers(x).size() == 1 && g.output != x &&
        (g.nodes[p].op == "conv2d" || g.values[x].shape.size() == 2);
    if (foldable) {
      NoGradGuard no_grad;
      Node& layer = g.nodes[p];
      Tensor w = g.values[layer.inputs[1]].constant;
      Shape bshape(w.dim(), 1);
      bshape[0] = c;
      Tensor w2 = (w * scale.reshape(bshape)).contiguous();
      Tensor b =
          layer.inputs.size() > 2 && layer.inputs[2] >= 0 ? g.values[layer.inputs[2]].constant : zeros({c});
      Tensor b2 = (b * scale + shift).contiguous();
      layer.inputs.resize(3);
      layer.inputs[1] = g.add_constant(w2);
      layer.inputs[2] = g.add_constant(b2);
      layer.output = bn.output;
      removed[i] = true;
      continue;
    }
    NoGradGuard no_grad;
    Shape cshape(g.values[x].shape.size() - 1, 1);
    cshape[0] = c;
    const int s = g.add_constant(scale.reshape(cshape).contiguous());
    const int t = g.add_constant(shift.reshape(cshape).contiguous());
    const int mid = g.add_value(g.values[x].shape);
    replacement[i].push_back(make_node(bn, "mul", {x, s}, mid));
    replacement[i].push_back(make_node(bn, "add", {mid, t}, bn.output));
    removed[i] = true;
  }
  std::vector<Node> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!removed[i]) out.push_back(std::move(g.nodes[i]));
    for (Node& r : replacement[i]) out.push_back(std::move(r));
  }
  g.nodes = std::move(out);
}

// Drops nodes whose result the output does not need.
void drop_dead(Graph& g) {
  std::vector<bool> live(g.values.size(), false);
  live[g.output] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  for (int i = static_cast<int>(g.nodes.size()) - 1; i >= 0; --i) {
    if (!live[g.nodes[i].output]) continue;
    keep[i] = true;
    for (int in : g.nodes[i].inputs)
      if (in >= 0) live[in] = true;
  }
  std::vector<Node> out;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (keep[i]) out.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(out);
}

// relu, relu6 and clamp(-1, 1) after a fusable op that nothing else reads become that op's activation.
void fuse_activations(Graph& g) {
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& a = g.nodes[i];
    std::string act;
    if (a.op == "relu" || a.op == "relu6") act = a.op;
    if (a.op == "clamp" && a.has("min") && a.has("max") && a.f("min") == -1.0 && a.f("max") == 1.0)
      act = "relu_n1_to_1";
    if (act.empty()) continue;
    const int x = a.inputs[0];
    const int p = g.producer(x);
    if (p < 0 || removed[p] || !g.nodes[p].act.empty() || !can_fuse_activation(g.nodes[p].op)) continue;
    if (g.consumers(x).size() != 1 || g.output == x) continue;
    g.nodes[p].act = act;
    g.nodes[p].output = a.output;
    removed[i] = true;
  }
  std::vector<Node> out;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed[i]) out.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(out);
}

}  // namespace

bool keeps_batch(const Graph& g, const Node& n) {
  const Shape& in = g.values[n.inputs[0]].shape;
  const Shape& out = g.values[n.output].shape;
  return !in.empty() && out.size() >= 2 && in[0] == out[0];
}

bool can_fuse_activation(const std::string& op) {
  return op == "linear" || op == "conv2d" || op == "add" || op == "sub" || op == "mul" || op == "div" ||
         op == "max_pool2d" || op == "avg_pool2d" || op == "cat";
}

void cleanup(Graph& g, const CleanupOptions& options) {
  normalize(g);
  remove_identities(g);
  fold_constants(g);
  KILN_CHECK(!g.is_constant(g.output), "export: the model's output does not depend on its input");
  fold_batch_norm(g);
  drop_dead(g);
  if (options.fuse_activations) fuse_activations(g);
}

}  // namespace kiln::nn::io
