// The backward pass: gather the nodes reachable from the outputs (iteratively), replay them in
// decreasing sequence number, sum gradients per node, and deliver them to leaves or to the caller.
#include "kiln/autograd/engine.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/grad_hooks.h"
#include "kiln/autograd/ops.h"

namespace kiln::autograd {
namespace {

Tensor default_grad(const Tensor& out, const Tensor& given, size_t i) {
  if (given.defined()) {
    KILN_CHECK(given.shape() == out.shape(), "backward: gradient ", i, " has shape ",
               shape_str(given.shape()), " but output ", i, " has shape ", shape_str(out.shape()));
    return given;
  }
  KILN_CHECK(out.numel() == 1, "backward: output ", i, " has shape ", shape_str(out.shape()),
             "; a gradient can only be implied for a single-element output (pass one, or call .sum() first)");
  return ones_like(out);
}

// Adds a gradient into a leaf's .grad(). The first gradient is copied: ops pass gradients through by
// alias, and the optimizer later updates .grad() in place.
void accumulate_into_leaf(TensorImpl& leaf, const Tensor& g, bool create_graph) {
  if (!leaf.grad) {
    Tensor stored = g;
    if (!create_graph) {
      stored = empty(g.shape(), {.dtype = g.dtype(), .device = g.device()});
      stored.copy_(g);
    }
    leaf.grad = stored.impl_ptr();
    return;
  }
  Tensor current(leaf.grad);
  if (create_graph) {
    leaf.grad = add(current, g).impl_ptr();
  } else {
    NoGradGuard no_grad;
    current.add_(g.detach());
  }
}

struct Run {
  std::vector<std::shared_ptr<Node>> order;  // decreasing sequence number
  std::unordered_map<Node*, Tensor> grads;
};

Run prepare(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs) {
  KILN_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: ", outputs.size(),
             " outputs but ", grad_outputs.size(), " gradients");
  Run run;
  std::vector<std::shared_ptr<Node>> stack;
  std::unordered_set<Node*> seen;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    KILN_CHECK(
        out.defined() && out.requires_grad(), "backward: output ", i,
        " does not require grad and has no grad_fn (was it computed under NoGradGuard, or from tensors "
        "without requires_grad?)");
    Tensor g = default_grad(out, grad_outputs.empty() ? Tensor() : grad_outputs[i], i);
    auto root = gradient_edge(out);
    auto& slot = run.grads[root.get()];
    slot = slot.defined() ? add(slot, g) : g;
    if (seen.insert(root.get()).second) stack.push_back(root);
  }
  while (!stack.empty()) {
    auto node = std::move(stack.back());
    stack.pop_back();
    for (const auto& next : node->inputs())
      if (next && seen.insert(next.get()).second) stack.push_back(next);
    run.order.push_back(std::move(node));
  }
  std::sort(run.order.begin(), run.order.end(),
            [](const auto& a, const auto& b) { return a->sequence_nr() > b->sequence_nr(); });
  return run;
}

// Replays the graph. `capture` (may be empty) lists nodes whose incoming gradient the caller wants
// instead of accumulation into leaves.
void execute(Run& run, bool retain_graph, bool create_graph, const std::unordered_set<Node*>* capture,
             std::unordered_map<Node*, Tensor>* captured) {
  EnableGradGuard grad_mode(create_graph);
  // Backward closures run in the dtypes their forward chose: autocast applies to forward ops only.
  autocast::Guard no_cpu_autocast(Device::cpu(), std::nullopt, false);
  autocast::Guard no_cuda_autocast(Device::cuda(), std::nullopt, false);
  for (auto& node : run.order) {
    auto it = run.grads.find(node.get());
    Tensor g = it == run.grads.end() ? Tensor() : std::move(it->second);
    if (it != run.grads.end()) run.grads.erase(it);
    if (!g.defined()) continue;
    if (capture && capture->count(node.get())) (*captured)[node.get()] = g;
    if (node->is_accumulator()) {
      if (!capture) {
        if (auto leaf = node->leaf()) {
          accumulate_into_leaf(*leaf, g, create_graph);
          detail::run_post_accumulate_grad_hooks(leaf);
        }
      }
      continue;
    }
    std::vector<Tensor> input_grads = node->apply(g);
    KILN_ASSERT(input_grads.size() == node->inputs().size(), "op '", node->name(), "' returned ",
                input_grads.size(), " gradients for ", node->inputs().size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const auto& next = node->inputs()[i];
      Tensor& gi = input_grads[i];
      if (!next || !gi.defined()) continue;
      auto& slot = run.grads[next.get()];
      slot = slot.defined() ? add(slot, gi) : gi;
    }
    if (!retain_graph) node->release();
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  Run run = prepare(outputs, grad_outputs);
  execute(run, retain_graph || create_graph, create_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  std::unordered_set<Node*> capture;
  std::vector<std::shared_ptr<Node>> input_nodes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i, " does not require grad");
    input_nodes.push_back(gradient_edge(inputs[i]));
    capture.insert(input_nodes.back().get());
  }
  Run run = prepare(outputs, grad_outputs);
  std::unordered_map<Node*, Tensor> captured;
  execute(run, retain_graph || create_graph, create_graph, &capture, &captured);
  std::vector<Tensor> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto it = captured.find(input_nodes[i].get());
    KILN_CHECK(it != captured.end() || allow_unused, "grad: input ", i,
               " was not used to compute the outputs (pass allow_unused=true to get an undefined gradient)");
    result.push_back(it == captured.end() ? Tensor() : it->second);
  }
  return result;
}

}  // namespace kiln::autograd
