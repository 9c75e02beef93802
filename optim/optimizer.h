// kiln/optim/optimizer.h: Optimizer, the base of every optimizer (PyTorch 1.13's torch.optim.Optimizer):
// parameter groups with their own hyper-parameters, per-parameter state, zero_grad, and a StateDict that
// resumes a run bit-exactly. Depends on tensor.h and state_dict.h (the .cpp files on autograd's NoGradGuard).
//
// Hyper-parameters are named doubles, PyTorch's names with `betas` split into beta1/beta2 and flags as 0/1
// ("lr", "momentum", "beta1", "amsgrad", ...). Each concrete optimizer fills its defaults from its options
// struct; a ParamGroup overrides any of them by name, as a PyTorch param-group dict does:
//
//   optim::SGD opt({{backbone.parameters(), {{"lr", 1e-3}}}, {head.parameters()}},
//                  {.lr = 1e-2, .momentum = 0.9});
//
// Parameters may live on any device with optimizer-step kernels (CPU, CUDA): a parameter's state buffers
// live on its device, while step counts (and NAdam's mu_product) stay on the host as in PyTorch without
// `capturable`, so a step never waits for the device. A group may mix devices (one kernel call each).
//
// State dict names (flat, dotted; scalars are 0-d tensors, f64 for reals and i64 for counts):
//   state.<i>.<name>           the state of parameter i, numbered across groups in order (as PyTorch
//                              numbers them), e.g. state.3.exp_avg, state.3.step; only parameters that
//                              have state appear
//   param_groups.<g>.params    i64 [P_g]: the parameter numbers of group g
//   param_groups.<g>.<option>  f64 0-d: every hyper-parameter of group g (param_groups.0.lr), and
//                              param_groups.<g>.initial_lr once an LR scheduler has recorded it
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor/backend.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

// One group as given by the user: its parameters and overrides of the optimizer's defaults by name.
struct ParamGroup {
  std::vector<Tensor> params;
  std::map<std::string, double> options = {};
};

// A group's resolved hyper-parameters, in the optimizer's order of names.
class GroupOptions {
 public:
  GroupOptions() = default;
  explicit GroupOptions(std::vector<std::pair<std::string, double>> values) : values_(std::move(values)) {}
  bool has(const std::string& name) const;
  // Throws kiln::Error naming `name` and the known names if there is no such option.
  double get(const std::string& name) const;
  void set(const std::string& name, double value);
  const std::vector<std::pair<std::string, double>>& items() const { return values_; }

 private:
  std::vector<std::pair<std::string, double>> values_;
};

// One hyper-parameter, declared once by its optimizer: its name (the option()/set_option() name, the
// param-group field and the state_dict key param_groups.<g>.<name>), its default, its check and the
// OptimStepArgs field the step kernel reads it from (a flag: a bool field, set when the value is not 0;
// neither: read on the host only).
struct Hyperparameter {
  // Throws kiln::Error naming the optimizer, the hyper-parameter and the value when it is invalid.
  using Check = void (*)(const std::string& optimizer, const std::string& name, double value);
  std::string name;
  double value = 0.0;
  Check check = nullptr;
  double OptimStepArgs::*arg = nullptr;
  bool OptimStepArgs::*flag = nullptr;
};
// The usual checks: value >= 0 ("invalid learning rate" for lr); a beta in [0, 1) named by its index.
void non_negative(const std::string& optimizer, const std::string& name, double value);
void beta_range(const std::string& optimizer, const std::string& name, double value);
// A flag hyper-parameter (stored as 0/1) read by the kernel from `field`.
inline Hyperparameter flag(std::string name, bool value, bool OptimStepArgs::*field) {
  return {std::move(name), value ? 1.0 : 0.0, nullptr, nullptr, field};
}

class Optimizer {
 public:
  // Checks what the hyper-parameters' own checks cannot (relations between options); throws kiln::Error.
  using Validator = std::function<void(const GroupOptions&)>;
  // One named entry of a parameter's state: a buffer shaped like the parameter (its dtype and device), a
  // step count (i64 0-d, CPU) or a real (f64 0-d, CPU). A required entry is present whenever the parameter
  // has any state.
  struct StateSpec {
    enum Kind { Buffer, Count, Real };
    std::string name;
    Kind kind = Buffer;
    bool required = true;
  };

  Optimizer(const Optimizer&) = delete;  // schedulers hold references to optimizers
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  // One update of every parameter whose grad is defined (the others are skipped, as in PyTorch). Runs under
  // NoGradGuard and writes into the parameters' own storage.
  virtual void step() = 0;
  // Clears every parameter's gradient: undefined (set_to_none) or filled with zeros.
  void zero_grad(bool set_to_none = true);

  // Appends a group (options fall back to the optimizer's defaults). Throws kiln::Error for an empty group,
  // a parameter already in another group, an unknown option name or an invalid value.
  void add_param_group(const ParamGroup& group);

  const std::string& name() const { return name_; }
  std::size_t num_param_groups() const { return groups_.size(); }
  const std::vector<Tensor>& params(std::size_t group) const;
  // Every parameter, in state-dict order.
  std::vector<Tensor> all_params() const;

  // The learning rate of a group. set_lr checks the value as the constructor does (a negative or
  // non-finite lr is an error). Schedulers write through set_scheduled_lr, which only refuses non-finite
  // values, as PyTorch does not validate them (a linear OneCycleLR phase run past its end may even leave
  // the rate slightly negative).
  double lr(std::size_t group = 0) const { return option(group, "lr"); }
  void set_lr(std::size_t group, double lr) { set_option(group, "lr", lr, true); }
  void set_scheduled_lr(std::size_t group, double lr);
  // Any hyper-parameter by name; set_option validates the group's options again unless told not to
  // (schedulers cycling momentum / beta1 do not). Validation is the optimizer's own range checks plus
  // finiteness of every option.
  bool has_option(const std::string& name) const { return defaults_.has(name); }
  double option(std::size_t group, const std::string& name) const;
  void set_option(std::size_t group, const std::string& name, double value, bool validate = true);
  const GroupOptions& defaults() const { return defaults_; }
  // The learning rate a group started from, recorded by the first LR scheduler attached to the optimizer
  // (PyTorch's group['initial_lr']); later schedulers and SequentialLR read it. Saved in state_dict as
  // param_groups.<g>.initial_lr once set.
  bool has_initial_lr(std::size_t group) const;
  double initial_lr(std::size_t group) const;  // throws kiln::Error if never set
  void set_initial_lr(std::size_t group, double lr);

  // A snapshot (copies) of the state and hyper-parameters, named as described at the top of this file;
  // buffers are copied on the device they live on.
  StateDict state_dict() const;
  // Replaces state and hyper-parameters with a snapshot from an optimizer of the same kind over parameters
  // of the same shapes and grouping; buffers are copied onto each parameter's device and dtype, whatever
  // device they were saved from. Throws kiln::Error naming the first mismatched, missing or unexpected
  // entry; on error the optimizer is left unchanged.
  void load_state_dict(const StateDict& dict);

 protected:
  // `hyperparameters`: every option with its default and check; `kernel`: the element update step() runs;
  // `state_specs`: the per-parameter state this optimizer may hold, in the order state_dict writes it;
  // `validate` (optional): checks across options, run after the hyper-parameters' own.
  Optimizer(std::string name, std::vector<Hyperparameter> hyperparameters, OptimKernel kernel,
            std::vector<StateSpec> state_specs, std::vector<ParamGroup> groups, Validator validate = nullptr);

  struct Group {
    std::vector<Tensor> params;
    GroupOptions options;
    std::size_t first = 0;  // number of params[0] in the state numbering
    std::optional<double> initial_lr;
  };
  // A parameter's state, by name (small: a linear search is cheapest).
  using ParamState = std::vector<std::pair<std::string, Tensor>>;

  const std::vector<Group>& groups() const { return groups_; }
  // Fills a parameter's state slots and scalars for this step (OptimTensor; optim_math.h gives each
  // update's): creates the state on first use, advances step counts.
  using Prepare = std::function<void(const Tensor& param, ParamState& state, const GroupOptions& options,
                                     const OptimStepArgs& args, OptimTensor& slots)>;
  // The skeleton of step(): under NoGradGuard, for each group, the kernel's arguments from its options
  // (the hyper-parameters' fields, then `adjust` for what is not a plain copy), prepare() for each
  // parameter that has a gradient, then one kernel call per (device, dtype).
  void for_each_param(const Prepare& prepare,
                      const std::function<void(const GroupOptions&, OptimStepArgs&)>& adjust = nullptr);
  // The step count of a parameter (state entry "step"), created at 0; the caller increments it.
  static int64_t& step_count(ParamState& s);
  // The named buffer of a parameter's state, created as zeros shaped like `param` when missing.
  static Tensor buffer(ParamState& s, const std::string& name, const Tensor& param);
  // validate_ and the finiteness of every option: the one check every path that sets options runs.
  void check_options(const GroupOptions& options) const;
  ParamState& state(std::size_t index) { return state_[index]; }
  // The named entry of a parameter's state, or an undefined tensor.
  static Tensor find(const ParamState& s, const std::string& name);
  // The gradient of parameter number `index`, checked against the parameter (shape, dtype), or undefined.
  Tensor checked_grad(const Tensor& param, std::size_t index) const;

 private:
  std::string name_;
  std::vector<Hyperparameter> hyperparameters_;
  OptimKernel kernel_;
  GroupOptions defaults_;
  Validator validate_;
  std::vector<StateSpec> state_specs_;
  std::vector<Group> groups_;
  std::vector<ParamState> state_;  // by parameter number
};

}  // namespace kiln::optim
