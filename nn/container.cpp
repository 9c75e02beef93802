// nn/container.cpp: Sequential, ModuleList and ModuleDict. Sequential runs a Linear immediately followed
// by an activation module as one fused linear (bias + activation in one pass) when neither has hooks:
// the values and gradients are those of the two modules run one after the other. Depends on
// nn/module.h, nn/linear.h and nn/activation.h.
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
}  // namespace

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  const auto& kids = named_children();
  for (size_t i = 0; i < kids.size(); ++i) {
    Module& layer = *kids[i].second;
    if (i + 1 < kids.size() && typeid(layer) == typeid(Linear) && !layer.has_hooks() &&
        !kids[i + 1].second->has_hooks()) {
      if (auto act = fusable_activation(*kids[i + 1].second)) {
        y = static_cast<Linear&>(layer).forward_activated(y, act->first, act->second);
        ++i;
        continue;
      }
    }
    y = layer(y);
  }
  return y;
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
