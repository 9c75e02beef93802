// nn/container.cpp: Sequential, ModuleList and ModuleDict. Depends on nn/module.h.
#include "kiln/nn/container.h"

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
}  // namespace

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, layer] : named_children()) y = (*layer)(y);
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
