// RAdam (radam.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's radam step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/radam.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

RAdam::RAdam(const std::vector<Tensor>& params, const RAdamOptions& options)
    : RAdam(std::vector<ParamGroup>{{params, {}}}, options) {}

RAdam::RAdam(const std::vector<ParamGroup>& groups, const RAdamOptions& options)
    : Optimizer(
          "RAdam", detail::adam_hyperparameters(options.lr, options.betas, options.eps, options.weight_decay),
          OptimKernel::radam,
          {{"step", StateSpec::Count}, {"exp_avg", StateSpec::Buffer}, {"exp_avg_sq", StateSpec::Buffer}},
          groups) {}

void RAdam::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions&, const OptimStepArgs& a, OptimTensor& x) {
        const double step = static_cast<double>(++step_count(s));
        const double bias1 = 1 - std::pow(a.beta1, step), bias2 = 1 - std::pow(a.beta2, step);
        const double rho_inf = 2 / (1 - a.beta2) - 1;
        const double rho_t = rho_inf - 2 * step * std::pow(a.beta2, step) / bias2;
        double rect = 0.0;
        if (rho_t > 5.)
          rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        x.state[0] = buffer(s, "exp_avg", param);
        x.state[1] = buffer(s, "exp_avg_sq", param);
        x.scalar[0] = bias1;
        x.scalar[1] = std::sqrt(bias2);
        x.scalar[2] = rect;
        x.scalar[3] = rho_t > 5. ? 1.0 : 0.0;
      });
}

}  // namespace kiln::optim
