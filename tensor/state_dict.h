// kiln/tensor/state_dict.h: StateDict, an insertion-ordered map from dotted names ("layers.0.weight",
// "state.3.exp_avg", "param_groups.0.lr") to tensors. It is the one currency of saved state: modules,
// optimizers and schedulers produce and consume it, and checkpoint files (nn/io) store it, so none of them
// contain file code (docs/ARCHITECTURE.md, "Modules and state dicts"). Scalars are 0-d tensors (f64 for
// reals, i64 for counts). Depends on tensor.h only.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/tensor/error.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  // Adds a new name; throws kiln::Error if the name is already present (names are unique).
  void insert(std::string name, Tensor value) {
    KILN_CHECK(!contains(name), "StateDict: duplicate name '", name, "'");
    index_.emplace(name, entries_.size());
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // Adds or replaces.
  void set(const std::string& name, Tensor value) {
    auto it = index_.find(name);
    if (it == index_.end()) return insert(name, std::move(value));
    entries_[it->second].second = std::move(value);
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws kiln::Error naming the missing key.
  const Tensor& at(const std::string& name) const {
    auto it = index_.find(name);
    KILN_CHECK(it != index_.end(), "StateDict: no entry named '", name, "'");
    return entries_[it->second].second;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    k.reserve(entries_.size());
    for (const auto& e : entries_) k.push_back(e.first);
    return k;
  }
  // Entries in insertion order.
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace kiln
