// SequentialLR (lr_scheduler.h): hands epochs to one scheduler after another at the milestones, restarting
// each at its epoch 0 through its closed form, as PyTorch 1.13 does.
#include <algorithm>

#include "kiln/optim/lr_scheduler.h"
#include "kiln/tensor/error.h"

namespace kiln::optim {

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::reference_wrapper<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  KILN_CHECK(!schedulers_.empty(), "SequentialLR: needs at least one scheduler");
  for (std::size_t k = 0; k < schedulers_.size(); ++k)
    KILN_CHECK(&schedulers_[k].get().optimizer_ == &optimizer, "SequentialLR: scheduler ", k,
               " is attached to a different optimizer than the one passed in");
  KILN_CHECK(milestones_.size() + 1 == schedulers_.size(),
             "SequentialLR: expects one milestone fewer than schedulers, got ", schedulers_.size(),
             " schedulers and ", milestones_.size(), " milestones");
  KILN_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
             "SequentialLR: milestones must be increasing");
  last_epoch_ = 0;
  for (std::size_t g = 0; g < num_groups(); ++g) optimizer_.set_scheduled_lr(g, optimizer_.initial_lr(g));
  for (auto& s : schedulers_) s.get().last_epoch_ -= 1;  // undo the step each constructor took
  schedulers_[0].get().initial_step();
  last_lr_ = schedulers_[0].get().get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  auto idx = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                      milestones_.begin());
  LRScheduler& s = schedulers_[idx].get();
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    s.step_to(0);
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

void SequentialLR::step_to(int64_t epoch) {
  KILN_CHECK(false, "SequentialLR: step_to(", epoch, ") is not supported; call step()");
}

StateDict SequentialLR::state_dict() const {
  StateDict dict;
  dict.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), {.dtype = DType::i64}));
  dict.insert("last_lr", from_vector(last_lr_));
  for (std::size_t k = 0; k < schedulers_.size(); ++k)
    for (const auto& [name, value] : schedulers_[k].get().state_dict())
      dict.insert("schedulers." + std::to_string(k) + "." + name, value);
  return dict;
}

void SequentialLR::load_state_dict(const StateDict& dict) {
  for (const char* key : {"last_epoch", "last_lr"})
    KILN_CHECK(dict.contains(key), "SequentialLR.load_state_dict: missing '", key, "'");
  std::vector<StateDict> parts(schedulers_.size());
  for (const auto& [name, value] : dict) {
    if (name == "last_epoch" || name == "last_lr") continue;
    std::size_t k = 0;
    std::size_t dot = name.find('.', 11);
    bool ok = name.rfind("schedulers.", 0) == 0 && dot != std::string::npos && dot > 11;
    if (ok) {
      std::string digits = name.substr(11, dot - 11);
      ok = std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) k = std::stoul(digits);
    }
    KILN_CHECK(ok && k < schedulers_.size(), "SequentialLR.load_state_dict: unexpected entry '", name, "'");
    parts[k].insert(name.substr(dot + 1), value);
  }
  const Tensor& last = dict.at("last_lr");
  KILN_CHECK(last.dim() == 1 && last.numel() == static_cast<int64_t>(num_groups()),
             "SequentialLR.load_state_dict: 'last_lr' has shape ", shape_str(last.shape()),
             " but the optimizer has ", num_groups(), " parameter groups");
  for (std::size_t k = 0; k < schedulers_.size(); ++k) schedulers_[k].get().load_state_dict(parts[k]);
  last_epoch_ = dict.at("last_epoch").item<int64_t>();
  last_lr_ = last.to_vector<double>();
}

}  // namespace kiln::optim
