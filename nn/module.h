// kiln/nn/module.h: nn::Module, the base of every layer and model. A module owns named parameters
// (trainable leaf tensors), buffers (state saved with the model but not trained, like BatchNorm's running
// statistics) and child modules, all in registration order, so state_dict() names entries the way PyTorch
// does ("layers.0.weight"). Modules are composed at run time (no compile-time network types).
//
// Parameter tensors are handles: an optimizer built from parameters() updates the very tensors the module
// computes with; to(dtype/device) converts them in place (Tensor::set_data) so those handles stay valid.
// Depends on autograd (ops, NoGradGuard) and tensor/state_dict.h.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// Runs before forward and may replace the input (return an undefined tensor to keep it).
using ForwardPreHook = std::function<Tensor(Module& module, const Tensor& input)>;
// Runs after forward and may replace the output (return an undefined tensor to keep it).
using ForwardHook = std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Moving keeps parameter identity (the handles move); copying would silently share parameters, so a
  // module is not copyable. Use shared_ptr (ModulePtr) to share one.
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. Layers take one tensor and return one; containers chain them.
  virtual Tensor forward(const Tensor& input) = 0;
  // forward() wrapped in the registered hooks. This is what users call: `model(x)`.
  Tensor operator()(const Tensor& input);

  // The class name shown by operator<< ("Linear"), and the text inside its parentheses.
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }
  // A remark operator<< appends to the line of child `index` (a container saying how it runs that child).
  virtual std::string child_note(std::size_t /*index*/) const { return ""; }

  // ---- parameters, buffers, children (registration order; recursive ones depth-first, own entries first)
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<ModulePtr> children() const;
  const std::vector<std::pair<std::string, ModulePtr>>& named_children() const { return children_; }
  // Every module below this one (not including it), with dotted names.
  std::vector<std::pair<std::string, ModulePtr>> named_modules() const;
  // The number of parameter elements (only those with requires_grad when trainable_only).
  int64_t num_parameters(bool trainable_only = false) const;

  // ---- saved state: parameters and buffers by dotted name (detached views of the live tensors)
  StateDict state_dict() const;
  // Copies values into the existing tensors (converting dtype). strict: every name must match both ways.
  // A missing or unexpected name (strict), or a shape mismatch (always), throws kiln::Error naming them.
  void load_state_dict(const StateDict& state, bool strict = true);

  // ---- modes and conversions (all recursive; return *this for chaining)
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  Module& to(DType dtype);  // floating parameters and buffers only; integer buffers keep their dtype
  Module& to(Device device);
  // Sets the gradients of all parameters to undefined (set_to_none) or to zero.
  void zero_grad(bool set_to_none = true);
  // Freezes (false) or unfreezes every parameter.
  Module& requires_grad_(bool on = true);

  // ---- hooks; the returned id removes the hook
  int64_t register_forward_pre_hook(ForwardPreHook hook);
  int64_t register_forward_hook(ForwardHook hook);
  void remove_hook(int64_t id);
  // Whether any forward or forward-pre hook is registered on this module (not its children).
  bool has_hooks() const { return !pre_hooks_.empty() || !post_hooks_.empty(); }

  // ---- access by name (throws kiln::Error naming the module and the missing name)
  Tensor& parameter(const std::string& name);
  Tensor& buffer(const std::string& name);
  ModulePtr child(const std::string& name) const;

 protected:
  // Registers a leaf tensor as a parameter (requires_grad is turned on for floating tensors) and returns
  // the stored handle. An undefined tensor registers nothing (Linear without bias) and returns it.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  void add_child(const std::string& name, ModulePtr module);

 private:
  void check_new_name(const std::string& name) const;
  friend std::ostream& print_module(std::ostream& os, const Module& m, int indent);

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::vector<std::pair<int64_t, ForwardPreHook>> pre_hooks_;
  std::vector<std::pair<int64_t, ForwardHook>> post_hooks_;
  int64_t next_hook_id_ = 0;
  bool training_ = true;
};

// A PyTorch-style summary: the module tree with each layer's settings, then the total and trainable
// parameter counts.
std::ostream& operator<<(std::ostream& os, const Module& m);

// Wraps a module value (moved in) into a shared pointer; containers use it to accept layers by value.
template <class M>
ModulePtr to_module_ptr(M&& m) {
  if constexpr (std::is_convertible_v<std::decay_t<M>, ModulePtr>) {
    return std::forward<M>(m);
  } else {
    return std::make_shared<std::decay_t<M>>(std::forward<M>(m));
  }
}

}  // namespace kiln::nn
