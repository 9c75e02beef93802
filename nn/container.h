// kiln/nn/container.h: Sequential, ModuleList and ModuleDict. Children are named "0", "1", ... (or by
// key), so state-dict names match PyTorch's ("layers.0.weight"). Layers can be given by value (moved in)
// or as shared pointers. Depends on nn/module.h.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kiln/nn/module.h"

namespace kiln::nn {

// Runs its children in order, each on the previous one's output. A Linear directly followed by ReLU, GELU,
// SiLU, Sigmoid, Tanh or LeakyReLU (those exact classes, neither with hooks) runs as one fused linear: the
// bias and the activation in one pass over the output (bias_act), with the values and gradients of the two
// modules run one after the other. operator<< marks each fused pair; set_fuse_linear_activation(false)
// runs every child on its own (to profile or debug the unfused graph).
class Sequential : public Module {
 public:
  Sequential() = default;
  // nn::Sequential model{nn::Flatten(), nn::Linear(784, 10), nn::ReLU()};
  template <class... M>
  requires(sizeof...(M) > 0 && (!std::is_same_v<std::decay_t<M>, Sequential> || ...)) explicit(false)
      Sequential(M&&... modules) {
    (push_back(to_module_ptr(std::forward<M>(modules))), ...);
  }
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  std::string child_note(std::size_t index) const override;

  // Linear + activation fusion, on by default.
  void set_fuse_linear_activation(bool enabled) { fuse_linear_activation_ = enabled; }
  bool fuse_linear_activation() const { return fuse_linear_activation_; }

  void push_back(ModulePtr module);
  template <class M>
  void push_back(M&& module) {
    push_back(to_module_ptr(std::forward<M>(module)));
  }
  std::size_t size() const { return named_children().size(); }
  // The i-th layer (negative counts from the end); throws kiln::Error when out of range.
  ModulePtr operator[](int64_t i) const;

 private:
  bool fuse_linear_activation_ = true;
};

// Holds modules without a forward of its own (for models that loop over their layers).
class ModuleList : public Module {
 public:
  ModuleList() = default;
  template <class... M>
  requires(sizeof...(M) > 0 && (!std::is_same_v<std::decay_t<M>, ModuleList> || ...)) explicit(false)
      ModuleList(M&&... modules) {
    (push_back(to_module_ptr(std::forward<M>(modules))), ...);
  }
  Tensor forward(const Tensor& x) override;  // throws: a ModuleList is not callable
  std::string type_name() const override { return "ModuleList"; }
  void push_back(ModulePtr module);
  std::size_t size() const { return named_children().size(); }
  ModulePtr operator[](int64_t i) const;
};

// Modules by string key, in insertion order.
class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  Tensor forward(const Tensor& x) override;  // throws: a ModuleDict is not callable
  std::string type_name() const override { return "ModuleDict"; }
  void insert(const std::string& key, ModulePtr module) { add_child(key, std::move(module)); }
  template <class M>
  void insert(const std::string& key, M&& module) {
    insert(key, to_module_ptr(std::forward<M>(module)));
  }
  bool contains(const std::string& key) const;
  ModulePtr operator[](const std::string& key) const { return child(key); }
  std::size_t size() const { return named_children().size(); }
};

}  // namespace kiln::nn
