// RMSprop (rmsprop.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's rmsprop step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/rmsprop.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

std::vector<Hyperparameter> rmsprop_hyperparameters(const RMSpropOptions& o) {
  return {{"lr", o.lr, non_negative, &OptimStepArgs::lr},
          {"alpha", o.alpha, non_negative, &OptimStepArgs::alpha},
          {"eps", o.eps, non_negative, &OptimStepArgs::eps},
          {"weight_decay", o.weight_decay, non_negative, &OptimStepArgs::weight_decay},
          {"momentum", o.momentum, non_negative, &OptimStepArgs::momentum},
          flag("centered", o.centered, &OptimStepArgs::centered),
          flag("maximize", o.maximize, &OptimStepArgs::maximize)};
}

}  // namespace

RMSprop::RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& options)
    : RMSprop(std::vector<ParamGroup>{{params, {}}}, options) {}

RMSprop::RMSprop(const std::vector<ParamGroup>& groups, const RMSpropOptions& options)
    : Optimizer("RMSprop", rmsprop_hyperparameters(options), OptimKernel::rmsprop,
                {{"step", StateSpec::Count},
                 {"square_avg", StateSpec::Buffer},
                 {"momentum_buffer", StateSpec::Buffer, false},
                 {"grad_avg", StateSpec::Buffer, false}},
                groups) {}

void RMSprop::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions&, const OptimStepArgs& a, OptimTensor& x) {
        // Buffers are created on first use, also when an option is switched on later.
        ++step_count(s);
        x.state[0] = buffer(s, "square_avg", param);
        if (a.momentum > 0.0) x.state[1] = buffer(s, "momentum_buffer", param);
        if (a.centered) x.state[2] = buffer(s, "grad_avg", param);
      });
}

}  // namespace kiln::optim
