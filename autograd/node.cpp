// Nodes of the tape, grad mode and the recording helper every op uses.
#include "kiln/autograd/node.h"
#include "kiln/autograd/trace.h"

#include <atomic>

namespace kiln::autograd {
namespace {
std::atomic<uint64_t> g_next_sequence{0};
std::atomic<int64_t> g_live_nodes{0};
thread_local bool t_grad_enabled = true;
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

Node::Node(const char* name, std::vector<std::shared_ptr<Node>> inputs, BackwardFn fn)
    : name_(name), sequence_nr_(g_next_sequence++), inputs_(std::move(inputs)), fn_(std::move(fn)) {
  ++g_live_nodes;
}
// Destroying the last reference to a long chain of nodes would recurse once per node (each owns its
// inputs) and overflow the stack on deep graphs. Instead, the nodes that would die with this one are
// collected here and released one at a time.
Node::~Node() {
  --g_live_nodes;
  fn_ = nullptr;  // saved tensors reference our inputs' nodes, which inputs_ keeps alive for now
  std::vector<std::shared_ptr<Node>> dying = std::move(inputs_);
  while (!dying.empty()) {
    std::shared_ptr<Node> node = std::move(dying.back());
    dying.pop_back();
    if (node && node.use_count() == 1) {
      // Its inputs (which its saved tensors also reference) move here first, so that destroying its
      // closure only drops counts instead of recursing.
      for (auto& in : node->inputs_) dying.push_back(std::move(in));
      node->inputs_.clear();
      node->fn_ = nullptr;
    }
  }
}
int64_t Node::live_count() { return g_live_nodes.load(); }

std::shared_ptr<Node> Node::make_accumulator(const std::shared_ptr<TensorImpl>& leaf) {
  auto node = std::make_shared<Node>("AccumulateGrad", std::vector<std::shared_ptr<Node>>{}, nullptr);
  node->leaf_ = leaf;
  node->is_leaf_node_ = true;
  return node;
}

void Node::save_output(const Tensor& output) {
  Tensor alias = output.detach();
  saved_output_ = alias.impl_ptr();
  saved_version_ = output.storage()->version();
}

void Node::save_input_versions(const std::vector<Tensor>& inputs) {
  saved_inputs_.clear();
  for (const Tensor& t : inputs) {
    if (t.defined())
      saved_inputs_.push_back({t.storage(), t.storage()->version()});
    else
      saved_inputs_.push_back({});
  }
}

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  KILN_CHECK(!released_, "backward through the graph a second time: op '", name_,
             "' already freed what it saved. Pass retain_graph=true to the first backward() if you need to "
             "call backward twice");
  for (size_t i = 0; i < saved_inputs_.size(); ++i) {
    auto storage = saved_inputs_[i].storage.lock();
    KILN_CHECK(!storage || storage->version() == saved_inputs_[i].version, "backward of '", name_,
               "': its input ", i,
               " was modified in place after being saved for the gradient (an in-place op such as add_ "
               "or an optimizer step ran between forward and backward; clone() the tensor first, or "
               "modify it after backward)");
  }
  Tensor output;
  if (saved_output_) {
    KILN_CHECK(saved_output_->storage->version() == saved_version_, "backward of '", name_,
               "': its output was modified in place after being saved for the gradient");
    // Re-attach this node so that create_graph backward can differentiate through the output.
    auto impl = std::make_shared<TensorImpl>(*saved_output_);
    impl->grad_fn = shared_from_this();
    impl->requires_grad = true;
    output = Tensor(std::move(impl));
  }
  return fn_(grad_output, output);
}

void Node::release() {
  if (is_leaf_node_) return;
  fn_ = nullptr;
  saved_output_.reset();
  saved_inputs_.clear();
  released_ = true;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.grad_fn()) return t.grad_fn();
  TensorImpl* impl = t.impl();
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = Node::make_accumulator(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return acc;
}

void record(OpName name, const std::vector<Tensor>& inputs, Tensor& result, BackwardFn fn, bool save_output,
            bool save_inputs) {
  std::vector<std::shared_ptr<Node>> edges;
  edges.reserve(inputs.size());
  for (const Tensor& t : inputs) edges.push_back(gradient_edge(t));
  auto node = std::make_shared<Node>(name, std::move(edges), std::move(fn));
  if (save_output) node->save_output(result);
  if (save_inputs) node->save_input_versions(inputs);
  TensorImpl* impl = result.impl();
  impl->grad_fn = std::move(node);
  impl->requires_grad = true;
  trace::report_node(name, result);
}

}  // namespace kiln::autograd
