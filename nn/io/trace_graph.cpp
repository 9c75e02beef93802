// nn/io/trace_graph.cpp: the tracer. It follows tensors by identity (TensorImpl) from the example input
// through every traced op; an operand it has not seen is a constant when it carries no autograd history,
// and the result of an op without a trace hook when it does (the trace runs with gradients recorded and
// the input requiring grad, so every op that depends on the input leaves a node). Forward hooks on every
// module keep the path of the module running now.
#include "kiln/nn/io/trace_graph.h"

#include <unordered_map>

#include "kiln/autograd/node.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {
namespace trace = autograd::trace;

bool Node::has(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return true;
  return false;
}
namespace {
const AttrValue& find_attr(const Node& n, const std::string& name) {
  for (const auto& [k, v] : n.attrs)
    if (k == name) return v;
  KILN_CHECK(false, "export: ", n.op, " has no attribute '", name, "'");
  throw;  // unreachable
}
}  // namespace
int64_t Node::i(const std::string& name) const { return std::get<int64_t>(find_attr(*this, name)); }
double Node::f(const std::string& name) const { return std::get<double>(find_attr(*this, name)); }
std::vector<int64_t> Node::ints(const std::string& name) const {
  return std::get<std::vector<int64_t>>(find_attr(*this, name));
}
void Node::set(const std::string& name, AttrValue value) {
  for (auto& [k, v] : attrs)
    if (k == name) {
      v = std::move(value);
      return;
    }
  attrs.emplace_back(name, std::move(value));
}

int Graph::add_value(Shape shape, Tensor traced) {
  values.push_back({std::move(shape), Tensor(), std::move(traced)});
  return static_cast<int>(values.size()) - 1;
}
int Graph::add_constant(Tensor t) {
  values.push_back({t.shape(), t, t});
  return static_cast<int>(values.size()) - 1;
}
std::vector<int> Graph::consumers(int v) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int in : nodes[i].inputs)
      if (in == v) {
        out.push_back(static_cast<int>(i));
        break;
      }
  return out;
}
int Graph::producer(int v) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].output == v) return static_cast<int>(i);
  return -1;
}

std::string describe(const Node& n) { return n.op + " at " + n.where; }

namespace {

class GraphTracer final : public trace::Tracer {
 public:
  Graph graph;
  std::vector<std::string> module_stack{"(root)"};

  int id_of(const Tensor& t) {
    auto it = ids_.find(t.impl());
    if (it != ids_.end()) return it->second;
    if (t.grad_fn() != nullptr) {
      // Computed from the input by an op that reported no trace: name it and where it ran.
      auto u = untraced_.find(t.impl());
      std::string op = t.grad_fn()->name(), where = "an unknown module";
      if (u != untraced_.end()) where = u->second;
      KILN_CHECK(false, "export: ", where, " runs '", op,
                 "', which kiln cannot export (no trace form); exportable ops: linear, conv2d, max_pool2d, "
                 "avg_pool2d, adaptive_avg_pool2d, mean, batch_norm, dropout, reshape/flatten/view, permute, "
                 "cat, add, sub, mul, div, maximum, minimum, clamp, relu, leaky_relu, sigmoid, tanh, "
                 "softmax, log_softmax, pad");
    }
    KILN_CHECK(t.dtype() == DType::f32, "export: ", module_stack.back(), " uses a constant of dtype ",
               t.dtype(), " ", shape_str(t.shape()),
               "; only float32 models export (call model.to(DType::f32))");
    Tensor c = t.detach().contiguous();
    if (!c.device().is_cpu()) c = c.to(Device::cpu());
    int id = graph.add_constant(c);
    ids_[t.impl()] = id;
    keep_.push_back(t);
    return id;
  }

  void bind(const Tensor& t, int id) {
    ids_[t.impl()] = id;
    keep_.push_back(t);
  }

  void on_op(const char* op, const std::vector<Tensor>& inputs, const Tensor& output,
             const trace::Attrs& attrs) override {
    for (const Tensor& in : inputs)  // an op returning its input unchanged (a no-op view) adds nothing
      if (in.defined() && in.impl() == output.impl()) return;
    Node n{op, {}, -1, attrs, "", module_stack.back()};
    for (const Tensor& in : inputs) n.inputs.push_back(in.defined() ? id_of(in) : -1);
    KILN_CHECK(output.dtype() == DType::f32, "export: ", describe(n), " computes ", output.dtype(),
               "; only float32 models export");
    n.output = graph.add_value(output.shape(), output.detach());
    bind(output, n.output);
    graph.nodes.push_back(std::move(n));
  }

  void on_node(const char* name, const Tensor& output) override {
    untraced_[output.impl()] = module_stack.back();
    keep_.push_back(output);
  }

 private:
  std::unordered_map<TensorImpl*, int> ids_;
  std::unordered_map<TensorImpl*, std::string> untraced_;
  std::vector<Tensor> keep_;  // every tensor seen stays alive, so no address is reused during the trace
};

// Registers path-keeping hooks on every module and removes them (and restores the mode) on exit.
class ModuleHooks {
 public:
  ModuleHooks(Module& root, GraphTracer& tracer) : root_(root), was_training_(root.is_training()) {
    root.eval();
    add(root, "", tracer);
    for (auto& [name, m] : root.named_modules()) add(*m, name, tracer);
  }
  ~ModuleHooks() {
    for (auto& [m, pre, post] : hooks_) {
      m->remove_hook(pre);
      m->remove_hook(post);
    }
    root_.train(was_training_);
  }

 private:
  void add(Module& m, const std::string& name, GraphTracer& t) {
    std::string label = name.empty() ? "(root " + m.type_name() + ")" : name + " (" + m.type_name() + ")";
    int64_t pre = m.register_forward_pre_hook([&t, label](Module&, const Tensor&) {
      t.module_stack.push_back(label);
      return Tensor();
    });
    int64_t post = m.register_forward_hook([&t](Module&, const Tensor&, const Tensor&) {
      if (t.module_stack.size() > 1) t.module_stack.pop_back();
      return Tensor();
    });
    hooks_.push_back({&m, pre, post});
  }
  struct Entry {
    Module* m;
    int64_t pre, post;
  };
  Module& root_;
  bool was_training_;
  std::vector<Entry> hooks_;
};

}  // namespace

Graph trace_module(Module& model, const Tensor& example_input) {
  KILN_CHECK(example_input.defined(), "export: the example input is undefined");
  KILN_CHECK(example_input.dtype() == DType::f32, "export: the example input must be float32, got ",
             example_input.dtype(), " ", shape_str(example_input.shape()));
  KILN_CHECK(example_input.dim() >= 1 && example_input.size(0) >= 1, "export: the example input ",
             shape_str(example_input.shape()), " needs a batch dimension of size >= 1");
  KILN_CHECK(example_input.device().is_cpu(), "export: the example input is on ", example_input.device(),
             "; export traces on the CPU (model.to(Device::cpu()) and a CPU input)");
  for (const auto& [name, p] : model.named_parameters())
    KILN_CHECK(p.device().is_cpu(), "export: parameter '", name, "' is on ", p.device(),
               "; export traces on the CPU (call model.to(Device::cpu()) first)");
  GraphTracer tracer;
  ModuleHooks hooks(model, tracer);
  Tensor x = example_input.detach().clone();
  x.requires_grad_(true);
  tracer.graph.input = tracer.graph.add_value(x.shape(), x.detach());
  tracer.bind(x, tracer.graph.input);
  Tensor y;
  {
    autograd::EnableGradGuard grad(true);
    trace::Session session(tracer);
    y = model(x);
  }
  KILN_CHECK(y.defined(), "export: the model returned an undefined tensor");
  KILN_CHECK(y.grad_fn() != nullptr || y.impl() == x.impl(), "export: the model's output ",
             shape_str(y.shape()), " does not depend on its input");
  tracer.graph.output = tracer.id_of(y);
  return std::move(tracer.graph);
}

}  // namespace kiln::nn::io
