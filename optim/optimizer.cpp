// Optimizer base: parameter groups, zero_grad, and the StateDict snapshot / restore (optimizer.h).
#include "kiln/optim/optimizer.h"

#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"
#include "kiln/tensor/error.h"

namespace kiln::optim {

namespace {

std::string names_of(const std::vector<std::pair<std::string, double>>& items) {
  std::string out;
  for (const auto& [name, value] : items) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "12" -> 12; anything else (sign, spaces, empty, trailing text) -> false.
bool parse_index(std::string_view s, std::size_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Splits "<prefix>.<index>.<rest>" (rest may contain dots); false if it does not have that form.
bool split_entry(const std::string& key, const std::string& prefix, std::size_t& index, std::string& rest) {
  if (key.rfind(prefix + ".", 0) != 0) return false;
  std::string_view tail(key);
  tail.remove_prefix(prefix.size() + 1);
  auto dot = tail.find('.');
  if (dot == std::string_view::npos || !parse_index(tail.substr(0, dot), index)) return false;
  rest = std::string(tail.substr(dot + 1));
  return !rest.empty();
}

double scalar_value(const std::string& optimizer, const std::string& key, const Tensor& t) {
  KILN_CHECK(t.defined() && t.dim() == 0, optimizer, ".load_state_dict: '", key,
             "' must be a 0-d tensor, got shape ", t.defined() ? shape_str(t.shape()) : "undefined");
  return t.item<double>();
}

}  // namespace

bool GroupOptions::has(const std::string& name) const {
  for (const auto& item : values_)
    if (item.first == name) return true;
  return false;
}

double GroupOptions::get(const std::string& name) const {
  for (const auto& item : values_)
    if (item.first == name) return item.second;
  KILN_CHECK(false, "optimizer has no option '", name, "' (its options: ", names_of(values_), ")");
  return 0.0;
}

void GroupOptions::set(const std::string& name, double value) {
  for (auto& item : values_)
    if (item.first == name) {
      item.second = value;
      return;
    }
  KILN_CHECK(false, "optimizer has no option '", name, "' (its options: ", names_of(values_), ")");
}

void non_negative(const std::string& optimizer, const std::string& name, double value) {
  if (name == "lr") {
    KILN_CHECK(value >= 0.0, optimizer, ": invalid learning rate ", value, " (lr must be >= 0)");
  } else {
    KILN_CHECK(value >= 0.0, optimizer, ": invalid ", name, " ", value, " (must be >= 0)");
  }
}

void beta_range(const std::string& optimizer, const std::string& name, double value) {
  // betas = (beta1, beta2) in PyTorch, so beta<k> is "index k - 1".
  KILN_CHECK(value >= 0.0 && value < 1.0, optimizer, ": invalid beta parameter at index ",
             name.substr(4) == "1" ? 0 : 1, ": ", value, " (must be in [0, 1))");
}

namespace {

GroupOptions defaults_of(const std::vector<Hyperparameter>& hyperparameters) {
  std::vector<std::pair<std::string, double>> values;
  for (const auto& h : hyperparameters) values.emplace_back(h.name, h.value);
  return GroupOptions(std::move(values));
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Hyperparameter> hyperparameters, OptimKernel kernel,
                     std::vector<StateSpec> state_specs, std::vector<ParamGroup> groups, Validator validate)
    : name_(std::move(name)),
      hyperparameters_(std::move(hyperparameters)),
      kernel_(kernel),
      defaults_(defaults_of(hyperparameters_)),
      validate_(std::move(validate)),
      state_specs_(std::move(state_specs)) {
  check_options(defaults_);
  KILN_CHECK(!groups.empty(), name_, ": optimizer got an empty parameter list");
  for (const auto& g : groups) add_param_group(g);
}

void Optimizer::check_options(const GroupOptions& options) const {
  for (const auto& h : hyperparameters_)
    if (h.check) h.check(name_, h.name, options.get(h.name));
  if (validate_) validate_(options);
  // None of the options may be NaN or infinite, which a range check written as `lr >= 0` would let
  // through.
  for (const auto& [option, value] : options.items())
    KILN_CHECK(std::isfinite(value), name_, ": option '", option, "' must be finite, got ", value);
}

void Optimizer::set_scheduled_lr(std::size_t group, double lr) {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  KILN_CHECK(std::isfinite(lr), name_, ": an LR scheduler computed the learning rate ", lr, " for group ",
             group, "; check the scheduler's factors (gamma, lambdas) and the initial lr");
  groups_[group].options.set("lr", lr);
}

void Optimizer::add_param_group(const ParamGroup& group) {
  KILN_CHECK(!group.params.empty(), name_, ": optimizer got an empty parameter list (parameter group ",
             groups_.size(), " has no parameters)");
  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl());
  for (std::size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    KILN_CHECK(p.defined(), name_, ": parameter ", i, " of group ", groups_.size(), " is undefined");
    KILN_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64, name_, ": parameter ", i, " of group ",
               groups_.size(), " has dtype ", p.dtype(), "; only f32 and f64 parameters can be optimized");
    KILN_CHECK(p.is_leaf(), name_, ": parameter ", i, " of group ", groups_.size(), " (shape ",
               shape_str(p.shape()), ") is not a leaf; can't optimize a non-leaf tensor");
    KILN_CHECK(seen.insert(p.impl()).second, name_, ": parameter ", i, " of group ", groups_.size(),
               " (shape ", shape_str(p.shape()), ") appears more than once across parameter groups");
  }
  Group g{group.params, defaults_, state_.size(), std::nullopt};
  for (const auto& [key, value] : group.options) {
    KILN_CHECK(defaults_.has(key), name_, ": parameter group ", groups_.size(), " sets unknown option '", key,
               "' (", name_, " options: ", names_of(defaults_.items()), ")");
    g.options.set(key, value);
  }
  check_options(g.options);
  state_.resize(state_.size() + g.params.size());
  groups_.push_back(std::move(g));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const auto& g : groups_)
    for (const auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else if (grad.requires_grad()) {  // a create_graph gradient: replace rather than write into a graph
        p.set_grad(zeros_like(grad));
      } else {
        grad.zero_();
      }
    }
}

const std::vector<Tensor>& Optimizer::params(std::size_t group) const {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  return groups_[group].params;
}

std::vector<Tensor> Optimizer::all_params() const {
  std::vector<Tensor> out;
  for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

double Optimizer::option(std::size_t group, const std::string& name) const {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  KILN_CHECK(defaults_.has(name), name_, " has no option '", name, "' (", name_,
             " options: ", names_of(defaults_.items()), ")");
  return groups_[group].options.get(name);
}

void Optimizer::set_option(std::size_t group, const std::string& name, double value, bool validate) {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  KILN_CHECK(defaults_.has(name), name_, " has no option '", name, "' (", name_,
             " options: ", names_of(defaults_.items()), ")");
  if (!validate) return groups_[group].options.set(name, value);
  GroupOptions updated = groups_[group].options;
  updated.set(name, value);
  check_options(updated);
  groups_[group].options = std::move(updated);
}

bool Optimizer::has_initial_lr(std::size_t group) const {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  return groups_[group].initial_lr.has_value();
}

double Optimizer::initial_lr(std::size_t group) const {
  KILN_CHECK(has_initial_lr(group), name_, ": parameter group ", group,
             " has no initial_lr (no LR scheduler has been attached to it)");
  return *groups_[group].initial_lr;
}

void Optimizer::set_initial_lr(std::size_t group, double lr) {
  KILN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(), ")");
  groups_[group].initial_lr = lr;
}

void Optimizer::for_each_param(const Prepare& prepare,
                               const std::function<void(const GroupOptions&, OptimStepArgs&)>& adjust) {
  NoGradGuard no_grad;
  for (const auto& group : groups_) {
    OptimStepArgs args{.kernel = kernel_};
    for (const auto& h : hyperparameters_) {
      if (h.arg) args.*h.arg = group.options.get(h.name);
      if (h.flag) args.*h.flag = group.options.get(h.name) != 0.0;
    }
    if (adjust) adjust(group.options, args);
    detail::StepBatch batch;
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      OptimTensor& slots = batch.add(param, grad);
      prepare(param, state_[index], group.options, args, slots);
    }
    batch.run(args, (name_ + ".step").c_str());
  }
}

int64_t& Optimizer::step_count(ParamState& s) {
  Tensor t = find(s, "step");
  if (!t.defined()) s.emplace_back("step", t = scalar_tensor(0, {.dtype = DType::i64}));
  return *t.data<int64_t>();
}

Tensor Optimizer::buffer(ParamState& s, const std::string& name, const Tensor& param) {
  Tensor t = find(s, name);
  if (!t.defined()) s.emplace_back(name, t = detail::zeros_for(param));
  return t;
}

Tensor Optimizer::find(const ParamState& s, const std::string& name) {
  for (const auto& [key, value] : s)
    if (key == name) return value;
  return Tensor();
}

Tensor Optimizer::checked_grad(const Tensor& param, std::size_t index) const {
  Tensor g = param.grad();
  if (!g.defined()) return g;
  // set_grad() refuses a gradient of another shape or dtype, so this is an internal invariant.
  KILN_ASSERT(g.shape() == param.shape() && g.dtype() == param.dtype(), name_, ": parameter ", index);
  return g.is_contiguous() ? g : g.contiguous();
}

StateDict Optimizer::state_dict() const {
  StateDict dict;
  for (std::size_t i = 0; i < state_.size(); ++i)
    for (const auto& spec : state_specs_) {
      Tensor t = find(state_[i], spec.name);
      if (t.defined()) dict.insert("state." + std::to_string(i) + "." + spec.name, t.clone());
    }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    std::string prefix = "param_groups." + std::to_string(g) + ".";
    std::vector<int64_t> numbers(groups_[g].params.size());
    for (std::size_t k = 0; k < numbers.size(); ++k) numbers[k] = static_cast<int64_t>(groups_[g].first + k);
    dict.insert(prefix + "params", from_vector(numbers));
    for (const auto& [name, value] : groups_[g].options.items())
      dict.insert(prefix + name, scalar_tensor(value, {.dtype = DType::f64}));
    if (groups_[g].initial_lr)
      dict.insert(prefix + "initial_lr", scalar_tensor(*groups_[g].initial_lr, {.dtype = DType::f64}));
  }
  return dict;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const std::string who = name_ + ".load_state_dict";
  // Everything is read into new structures first, so a failure leaves the optimizer as it was.
  std::vector<GroupOptions> options(groups_.size());
  std::vector<std::optional<double>> initial_lrs(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    std::string prefix = "param_groups." + std::to_string(g) + ".";
    KILN_CHECK(dict.contains(prefix + "params"), who, ": missing '", prefix,
               "params' (the saved optimizer has fewer parameter groups than this one, ", groups_.size(),
               ")");
    const Tensor& numbers = dict.at(prefix + "params");
    std::vector<int64_t> expected(groups_[g].params.size());
    for (std::size_t k = 0; k < expected.size(); ++k)
      expected[k] = static_cast<int64_t>(groups_[g].first + k);
    KILN_CHECK(numbers.dim() == 1 && is_integral(numbers.dtype()) && numbers.to_vector<int64_t>() == expected,
               who, ": '", prefix, "params' holds ", numbers.str(), " but this optimizer's group ", g,
               " has ", expected.size(), " parameters numbered from ", groups_[g].first);
    options[g] = defaults_;
    for (const auto& [name, value] : defaults_.items()) {
      KILN_CHECK(dict.contains(prefix + name), who, ": missing '", prefix, name, "'");
      options[g].set(name, scalar_value(name_, prefix + name, dict.at(prefix + name)));
    }
    check_options(options[g]);
    if (dict.contains(prefix + "initial_lr"))
      initial_lrs[g] = scalar_value(name_, prefix + "initial_lr", dict.at(prefix + "initial_lr"));
  }

  std::vector<ParamState> state(state_.size());
  std::vector<Tensor> params = all_params();
  for (const auto& [key, value] : dict) {
    std::size_t index = 0;
    std::string rest;
    if (split_entry(key, "param_groups", index, rest)) {
      KILN_CHECK(index < groups_.size(), who, ": unexpected entry '", key, "' (this optimizer has ",
                 groups_.size(), " parameter groups)");
      KILN_CHECK(rest == "params" || rest == "initial_lr" || defaults_.has(rest), who, ": unexpected entry '",
                 key, "' (", name_, " options: ", names_of(defaults_.items()), ")");
      continue;
    }
    KILN_CHECK(split_entry(key, "state", index, rest), who, ": unexpected entry '", key, "'");
    KILN_CHECK(index < params.size(), who, ": unexpected entry '", key, "' (this optimizer has ",
               params.size(), " parameters)");
    const StateSpec* spec = nullptr;
    for (const auto& s : state_specs_)
      if (s.name == rest) spec = &s;
    KILN_CHECK(spec != nullptr, who, ": unexpected entry '", key, "' (", name_, " keeps no state named '",
               rest, "')");
    KILN_CHECK(value.defined(), who, ": entry '", key, "' is an undefined tensor");
    Tensor copy;
    if (spec->kind == StateSpec::Buffer) {
      const Tensor& p = params[index];
      KILN_CHECK(value.shape() == p.shape() && is_floating(value.dtype()), who, ": '", key, "' has shape ",
                 shape_str(value.shape()), " and dtype ", value.dtype(), " but parameter ", index,
                 " has shape ", shape_str(p.shape()), " (a floating buffer of that shape is expected)");
      // Loaded onto the parameter's device whatever device it was saved from.
      copy = empty(p.shape(), {.dtype = p.dtype(), .device = p.device()});
      copy.copy_(value);
    } else {
      double v = scalar_value(name_, key, value);
      copy = spec->kind == StateSpec::Count ? scalar_tensor(v, {.dtype = DType::i64})
                                            : scalar_tensor(v, {.dtype = DType::f64});
    }
    state[index].emplace_back(rest, copy);
  }
  for (std::size_t i = 0; i < state.size(); ++i) {
    if (state[i].empty()) continue;
    for (const auto& spec : state_specs_)
      KILN_CHECK(!spec.required || find(state[i], spec.name).defined(), who, ": missing 'state.", i, ".",
                 spec.name, "' (parameter ", i, " has other state)");
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].options = std::move(options[g]);
    if (initial_lrs[g]) groups_[g].initial_lr = initial_lrs[g];
  }
  state_ = std::move(state);
}

}  // namespace kiln::optim
