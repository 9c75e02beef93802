// Adam and AdamW (adam.h): hyper-parameters, state and the host side of PyTorch 1.13's update; the element
// update is optim_math.h's AdamUpdate (the CPU loop keeps PyTorch's order of operations, so f64
// trajectories agree with PyTorch's to rounding; CUDA updates a whole group in one launch).
#include "kiln/optim/adam.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

std::vector<Hyperparameter> detail::adam_hyperparameters(double lr, std::array<double, 2> betas, double eps,
                                                         double weight_decay) {
  return {{"lr", lr, non_negative, &OptimStepArgs::lr},
          {"beta1", betas[0], beta_range, &OptimStepArgs::beta1},
          {"beta2", betas[1], beta_range, &OptimStepArgs::beta2},
          {"eps", eps, non_negative, &OptimStepArgs::eps},
          {"weight_decay", weight_decay, non_negative, &OptimStepArgs::weight_decay}};
}

namespace {

std::vector<Hyperparameter> adam_hyperparameters(const AdamOptions& o) {
  std::vector<Hyperparameter> h = detail::adam_hyperparameters(o.lr, o.betas, o.eps, o.weight_decay);
  h.push_back(flag("amsgrad", o.amsgrad, &OptimStepArgs::amsgrad));
  h.push_back(flag("maximize", o.maximize, &OptimStepArgs::maximize));
  return h;
}

}  // namespace

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& options)
    : Adam(std::vector<ParamGroup>{{params, {}}}, options) {}
Adam::Adam(const std::vector<ParamGroup>& groups, const AdamOptions& options)
    : Adam("Adam", groups, options, false) {}

Adam::Adam(const char* name, const std::vector<ParamGroup>& groups, const AdamOptions& options,
           bool decoupled)
    : Optimizer(name, adam_hyperparameters(options), OptimKernel::adam,
                {{"step", StateSpec::Count},
                 {"exp_avg", StateSpec::Buffer},
                 {"exp_avg_sq", StateSpec::Buffer},
                 {"max_exp_avg_sq", StateSpec::Buffer, false}},
                groups),
      decoupled_(decoupled) {}

void Adam::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions&, const OptimStepArgs& a, OptimTensor& x) {
        // The step count stays on the host (as PyTorch keeps it without `capturable`): the bias
        // corrections are host scalars, so a step never reads the device.
        const double t = static_cast<double>(++step_count(s));
        x.state[0] = buffer(s, "exp_avg", param);
        x.state[1] = buffer(s, "exp_avg_sq", param);
        // Also when amsgrad was switched on after the first step.
        if (a.amsgrad) x.state[2] = buffer(s, "max_exp_avg_sq", param);
        x.scalar[0] = a.lr / (1.0 - std::pow(a.beta1, t));
        x.scalar[1] = std::sqrt(1.0 - std::pow(a.beta2, t));
      },
      [this](const GroupOptions&, OptimStepArgs& a) { a.decoupled = decoupled_; });
}

}  // namespace kiln::optim
