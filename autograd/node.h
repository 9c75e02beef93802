// kiln/autograd/node.h: one recorded operation of the tape. Each op result owns its Node (grad_fn); a
// Node points at the nodes of its inputs, so a graph lives exactly as long as the tensors that reach it
// and there is no global tape. Leaves get an accumulation node (leaf_ set) created on first use.
// Every node has a single differentiable output: multi-output ops (split, max with indices) record one
// node per differentiable output. Depends on tensor.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kiln/autograd/op_list.h"
#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

// The gradients of a node's inputs given the gradient of its output (undefined where none).
// `output` is the op's result re-attached to this node, passed only when the op asked to save it.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const Tensor& output)>;

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(const char* name, std::vector<std::shared_ptr<Node>> inputs, BackwardFn fn);
  ~Node();

  const char* name() const { return name_; }
  uint64_t sequence_nr() const { return sequence_nr_; }
  const std::vector<std::shared_ptr<Node>>& inputs() const { return inputs_; }
  bool is_accumulator() const { return !leaf_.expired() || is_leaf_node_; }
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

  // Runs the backward closure (throws kiln::Error if the graph was freed by an earlier backward).
  std::vector<Tensor> apply(const Tensor& grad_output);
  // Drops the closure and what it saved; a later apply() fails with a clear message.
  void release();
  bool released() const { return released_; }

  // Keeps a history-free alias of the op's output so backward can use it without a reference cycle.
  void save_output(const Tensor& output);
  // Remembers the storage versions of the inputs the backward closure reads; apply() refuses to run
  // once one of them was modified in place.
  void save_input_versions(const std::vector<Tensor>& inputs);

  static std::shared_ptr<Node> make_accumulator(const std::shared_ptr<TensorImpl>& leaf);
  static int64_t live_count();  // nodes alive now, for leak tests

 private:
  const char* name_;
  uint64_t sequence_nr_;
  std::vector<std::shared_ptr<Node>> inputs_;  // null where an input needs no gradient
  BackwardFn fn_;
  std::shared_ptr<TensorImpl> saved_output_;  // without grad_fn: re-attached in apply()
  uint64_t saved_version_ = 0;
  struct SavedInput {
    std::weak_ptr<StorageImpl> storage;  // expired or null: nothing to check
    uint64_t version = 0;
  };
  std::vector<SavedInput> saved_inputs_;
  std::weak_ptr<TensorImpl> leaf_;
  bool is_leaf_node_ = false;
  bool released_ = false;
};

// Whether ops record right now (thread-local; on by default).
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Turns recording off for its scope (evaluation, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

class EnableGradGuard {
 public:
  explicit EnableGradGuard(bool enabled = true) : prev_(GradMode::is_enabled()) {
    GradMode::set_enabled(enabled);
  }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- helpers for op implementations ----
// True when recording is on and any defined input requires a gradient.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Records `result` as the output of op `name` (listed in op_list.h) over `inputs` with `fn` as its backward;
// marks it as requiring grad. With save_output, fn receives the output (re-attached) as its second argument.
// With save_inputs, backward fails with a kiln::Error if an input is modified in place before it runs.
void record(OpName name, const std::vector<Tensor>& inputs, Tensor& result, BackwardFn fn,
            bool save_output = false, bool save_inputs = false);
// The node through which gradient reaches `t` (its grad_fn, or its leaf accumulator), or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

}  // namespace kiln::autograd

namespace kiln {
using autograd::NoGradGuard;
}
