// nn/container.cpp: Sequential, ModuleList and ModuleDict. Sequential's Linear + activation fusion is
// decided in one place (fused_activation_after), which both forward() and the printed note read. Depends
// on nn/module.h, nn/linear.h and nn/activation.h.
#include "kiln/nn/container.h"

#include <optional>
#include <typeinfo>
#include <utility>

#include "kiln/nn/activation.h"
#include "kiln/nn/linear.h"
#include "kiln/tensor/error.h"

namespace kiln::nn {
namespace {
ModulePtr at_index(const Module& m, int64_t i) {
  const auto& kids = m.named_children();
  const int64_t n = static_cast<int64_t>(kids.size());
  const int64_t j = i < 0 ? i + n : i;
  KILN_CHECK(j >= 0 && j < n, m.type_name(), ": index ", i, " out of range for ", n, " modules");
  return kids[j].second;
}

// The activation an activation module applies, when it is exactly one of the fusable classes (a
// subclass may override forward, so it is matched by its exact type).
std::optional<std::pair<Activation, double>> fusable_activation(const Module& m) {
  const std::type_info& t = typeid(m);
  if (t == typeid(ReLU)) return std::pair{Activation::relu, 0.0};
  if (t == typeid(GELU)) return std::pair{Activation::gelu, 0.0};
  if (t == typeid(SiLU)) return std::pair{Activation::silu, 0.0};
  if (t == typeid(Sigmoid)) return std::pair{Activation::sigmoid, 0.0};
  if (t == typeid(Tanh)) return std::pair{Activation::tanh, 0.0};
  if (t == typeid(LeakyReLU))
    return std::pair{Activation::leaky_relu, static_cast<const LeakyReLU&>(m).negative_slope};
  return std::nullopt;
}

// The activation child i + 1 applies when child i is a Linear that forward() fuses with it.
std::optional<std::pair<Activation, double>> fused_activation_after(const Sequential& s, size_t i) {
  const auto& kids = s.named_children();
  if (!s.fuse_linear_activation() || i + 1 >= kids.size()) return std::nullopt;
  const Module& layer = *kids[i].second;
  const Module& next = *kids[i + 1].second;
  // Hooks must see (and may replace) each module's own output, so a hooked pair runs unfused.
  if (typeid(layer) != typeid(Linear) || layer.has_hooks() || next.has_hooks()) return std::nullopt;
  return fusable_activation(next);
}
}  // namespace

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  const auto& kids = named_children();
  for (size_t i = 0; i < kids.size(); ++i) {
    Module& layer = *kids[i].second;
    if (auto act = fused_activation_after(*this, i)) {
      y = static_cast<Linear&>(layer).forward_activated(y, act->first, act->second);
      ++i;
      continue;
    }
    y = layer(y);
  }
  return y;
}

std::string Sequential::child_note(size_t index) const {
  if (auto act = fused_activation_after(*this, index))
    return std::string("fused with (") + named_children()[index + 1].first + "): linear + " +
           activation_name(act->first) + " in one pass";
  return "";
}

void Sequential::push_back(ModulePtr module) { add_child(std::to_string(size()), std::move(module)); }
ModulePtr Sequential::operator[](int64_t i) const { return at_index(*this, i); }

Tensor ModuleList::forward(const Tensor&) {
  KILN_CHECK(false, "ModuleList has no forward(): call its modules in a loop, or use Sequential");
  return {};
}
void ModuleList::push_back(ModulePtr module) { add_child(std::to_string(size()), std::move(module)); }
ModulePtr ModuleList::operator[](int64_t i) const { return at_index(*this, i); }

Tensor ModuleDict::forward(const Tensor&) {
  KILN_CHECK(false, "ModuleDict has no forward(): call its modules by key");
  return {};
}
bool ModuleDict::contains(const std::string& key) const {
  for (const auto& [name, m] : named_children())
    if (name == key) return true;
  return false;
}

}  // namespace kiln::nn
