// nn/module.cpp: registration, traversal, state dicts, modes, conversions and hooks of nn::Module.
// Depends on autograd (NoGradGuard) and tensor.
#include "kiln/nn/module.h"

#include <algorithm>
#include <ostream>
#include <sstream>
#include <unordered_set>

#include "kiln/autograd/node.h"
#include "kiln/tensor/error.h"

namespace kiln::nn {
namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Depth-first over the tree: own entries first, then each child's, with dotted names.
void collect(const Module& m, const std::string& prefix, bool recurse, bool params,
             std::vector<std::pair<std::string, Tensor>>& out) {
  const auto& own = params ? m.named_parameters(false) : m.named_buffers(false);
  for (const auto& [name, t] : own) out.emplace_back(join(prefix, name), t);
  if (!recurse) return;
  for (const auto& [name, child] : m.named_children()) collect(*child, join(prefix, name), true, params, out);
}

}  // namespace

Tensor Module::operator()(const Tensor& input) {
  Tensor x = input;
  for (auto& [id, hook] : pre_hooks_) {
    Tensor replaced = hook(*this, x);
    if (replaced.defined()) x = replaced;
  }
  Tensor y = forward(x);
  for (auto& [id, hook] : post_hooks_) {
    Tensor replaced = hook(*this, x, y);
    if (replaced.defined()) y = replaced;
  }
  return y;
}

void Module::check_new_name(const std::string& name) const {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid name '", name,
             "' (names are non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  KILN_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name(), ": the name '", name,
             "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  if (!value.defined()) return value;
  check_new_name(name);
  KILN_CHECK(value.is_leaf(), type_name(), ": parameter '", name,
             "' must be a leaf tensor (detach() it or create it with a factory)");
  if (is_floating(value.dtype())) value.requires_grad_(requires_grad);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  if (!value.defined()) return value;
  check_new_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, ModulePtr module) {
  KILN_CHECK(module != nullptr, type_name(), ": child module '", name, "' is null");
  check_new_name(name);
  children_.emplace_back(name, std::move(module));
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  if (!recurse) return parameters_;
  std::vector<std::pair<std::string, Tensor>> out;
  collect(*this, "", true, true, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  if (!recurse) return buffers_;
  std::vector<std::pair<std::string, Tensor>> out;
  collect(*this, "", true, false, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  // A module reused at two places in the tree contributes its parameters once (as in PyTorch).
  std::unordered_set<const TensorImpl*> seen;
  for (auto& [name, t] : named_parameters(recurse))
    if (seen.insert(t.impl()).second) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<ModulePtr> Module::children() const {
  std::vector<ModulePtr> out;
  for (const auto& [name, m] : children_) out.push_back(m);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(join(name, sub), m);
  }
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

StateDict Module::state_dict() const {
  StateDict sd;
  // PyTorch's order: each module's parameters, then its buffers, then its children.
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& pre) {
    for (const auto& [name, t] : m.parameters_) sd.insert(join(pre, name), t.detach());
    for (const auto& [name, t] : m.buffers_) sd.insert(join(pre, name), t.detach());
    for (const auto& [name, c] : m.children_) walk(*c, join(pre, name));
  };
  walk(*this, "");
  return sd;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  auto params = named_parameters();
  auto bufs = named_buffers();
  std::vector<std::pair<std::string, Tensor>> own = params;
  own.insert(own.end(), bufs.begin(), bufs.end());

  std::vector<std::string> missing, unexpected;
  std::unordered_set<std::string> names;
  for (const auto& [name, t] : own) {
    names.insert(name);
    if (!state.contains(name)) missing.push_back(name);
  }
  for (const auto& [name, t] : state)
    if (!names.count(name)) unexpected.push_back(name);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
    return s;
  };
  KILN_CHECK(!strict || (missing.empty() && unexpected.empty()), type_name(),
             ".load_state_dict: names do not match (strict); missing: [", list(missing), "], unexpected: [",
             list(unexpected), "]");
  // Check every shape before copying anything, so a failed load leaves the module unchanged.
  for (const auto& [name, t] : own) {
    if (!state.contains(name)) continue;
    const Tensor& src = state.at(name);
    KILN_CHECK(src.defined(), type_name(), ".load_state_dict: '", name,
               "' is an undefined tensor in the state dict");
    KILN_CHECK(src.shape() == t.shape(), type_name(), ".load_state_dict: '", name, "' has shape ",
               shape_str(src.shape()), " in the state dict but ", shape_str(t.shape()), " in the module");
  }
  autograd::NoGradGuard no_grad;
  for (auto& [name, t] : own)
    if (state.contains(name)) Tensor(t).copy_(state.at(name).to(t.device()));
}

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [name, c] : children_) c->train(on);
  return *this;
}

Module& Module::to(DType dtype) {
  autograd::NoGradGuard no_grad;
  for (auto& [name, t] : parameters_)
    if (is_floating(t.dtype()) && t.dtype() != dtype) t.set_data(t.detach().to(dtype));
  for (auto& [name, t] : buffers_)
    if (is_floating(t.dtype()) && t.dtype() != dtype) t.set_data(t.detach().to(dtype));
  for (auto& [name, c] : children_) c->to(dtype);
  return *this;
}

Module& Module::to(Device device) {
  autograd::NoGradGuard no_grad;
  for (auto& [name, t] : parameters_)
    if (t.device() != device) t.set_data(t.detach().to(device));
  for (auto& [name, t] : buffers_)
    if (t.device() != device) t.set_data(t.detach().to(device));
  for (auto& [name, c] : children_) c->to(device);
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      g.zero_();
    }
  }
}

Module& Module::requires_grad_(bool on) {
  for (Tensor& p : parameters())
    if (is_floating(p.dtype())) p.requires_grad_(on);
  return *this;
}

int64_t Module::register_forward_pre_hook(ForwardPreHook hook) {
  pre_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

int64_t Module::register_forward_hook(ForwardHook hook) {
  post_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Module::remove_hook(int64_t id) {
  auto drop = [id](auto& list) {
    auto it = std::remove_if(list.begin(), list.end(), [id](const auto& e) { return e.first == id; });
    bool found = it != list.end();
    list.erase(it, list.end());
    return found;
  };
  bool found = drop(pre_hooks_);
  found = drop(post_hooks_) || found;
  KILN_CHECK(found, type_name(), ".remove_hook: no hook with id ", id);
}

Tensor& Module::parameter(const std::string& name) {
  for (auto& [n, t] : parameters_)
    if (n == name) return t;
  KILN_CHECK(false, type_name(), ": no parameter named '", name, "'");
  throw;  // unreachable
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  KILN_CHECK(false, type_name(), ": no buffer named '", name, "'");
  throw;  // unreachable
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  KILN_CHECK(false, type_name(), ": no child module named '", name, "'");
  return nullptr;
}

std::ostream& print_module(std::ostream& os, const Module& m, int indent) {
  os << m.type_name() << "(" << m.extra_repr();
  if (!m.children_.empty()) {
    os << "\n";
    for (size_t i = 0; i < m.children_.size(); ++i) {
      const auto& [name, c] = m.children_[i];
      os << std::string(indent + 2, ' ') << "(" << name << "): ";
      print_module(os, *c, indent + 2);
      if (std::string note = m.child_note(i); !note.empty()) os << "  # " << note;
      os << "\n";
    }
    os << std::string(indent, ' ');
  }
  return os << ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  print_module(os, m, 0);
  return os << "\nTotal parameters: " << m.num_parameters()
            << "; trainable: " << m.num_parameters(/*trainable_only=*/true);
}

}  // namespace kiln::nn
