// Adagrad (adagrad.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's adagrad step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/adagrad.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

std::vector<Hyperparameter> adagrad_hyperparameters(const AdagradOptions& o) {
  return {{"lr", o.lr, non_negative, &OptimStepArgs::lr},
          {"lr_decay", o.lr_decay, non_negative},
          {"eps", o.eps, non_negative, &OptimStepArgs::eps},
          {"weight_decay", o.weight_decay, non_negative, &OptimStepArgs::weight_decay},
          {"initial_accumulator_value", o.initial_accumulator_value, non_negative},
          flag("maximize", o.maximize, &OptimStepArgs::maximize)};
}

}  // namespace

Adagrad::Adagrad(const std::vector<Tensor>& params, const AdagradOptions& options)
    : Adagrad(std::vector<ParamGroup>{{params, {}}}, options) {}

Adagrad::Adagrad(const std::vector<ParamGroup>& groups, const AdagradOptions& options)
    : Optimizer("Adagrad", adagrad_hyperparameters(options), OptimKernel::adagrad,
                {{"step", StateSpec::Count}, {"sum", StateSpec::Buffer}}, groups) {
  // PyTorch creates Adagrad's state with the optimizer, so a state_dict taken before any step has it.
  for (const auto& group : this->groups())
    for (std::size_t k = 0; k < group.params.size(); ++k)
      init_state(state(group.first + k), group.params[k], group.options);
}

void Adagrad::init_state(ParamState& s, const Tensor& param, const GroupOptions& options) {
  s.clear();
  s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
  s.emplace_back("sum", full(param.shape(), options.get("initial_accumulator_value"),
                             {.dtype = param.dtype(), .device = param.device()}));
}

void Adagrad::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions& o, const OptimStepArgs& a, OptimTensor& x) {
        // Parameters of a group added after construction (or state cleared by a load) start here.
        if (s.empty()) init_state(s, param, o);
        const int64_t step = ++step_count(s);
        x.state[0] = find(s, "sum");
        x.scalar[0] = a.lr / (1 + static_cast<double>(step - 1) * o.get("lr_decay"));
      });
}

}  // namespace kiln::optim
