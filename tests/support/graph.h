// tests/support/graph.h: what a recorded autograd graph holds, for tests that check which ops a
// forward pass recorded (a fused kernel, or the ops it stands for).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace kiln::testing {

// The recorded ops of a graph, by name (accumulators excluded), walked from `out`.
inline std::multiset<std::string> graph_ops(const Tensor& out) {
  std::multiset<std::string> names;
  std::vector<std::shared_ptr<autograd::Node>> stack{out.grad_fn()};
  std::set<const autograd::Node*> seen;
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    if (!n->is_accumulator()) names.insert(n->name());
    for (const auto& in : n->inputs()) stack.push_back(in);
  }
  return names;
}

}  // namespace kiln::testing
