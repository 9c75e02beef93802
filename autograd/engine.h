// kiln/autograd/engine.h: running the tape backwards.
// backward() accumulates into leaves' .grad(); grad() returns gradients without touching .grad().
// Nodes reachable from the outputs are replayed in decreasing sequence number (a valid reverse
// topological order, since an op's inputs are always recorded before it), iteratively. Unless
// retain_graph (default: create_graph), every replayed node is released afterwards.
// With create_graph, the backward pass itself is recorded, so gradients can be differentiated again.
// Depends on node.h.
#pragma once

#include <vector>

#include "kiln/autograd/node.h"

namespace kiln::autograd {

// Accumulates d(sum(outputs[i] * grad_outputs[i]))/d(leaf) into every leaf's .grad(). A scalar output
// may omit its gradient (it is taken as 1).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// The gradients of sum(outputs[i] * grad_outputs[i]) with respect to `inputs` (leaves or not). An input
// the outputs do not depend on gets an undefined tensor when allow_unused, else a kiln::Error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

}  // namespace kiln::autograd
