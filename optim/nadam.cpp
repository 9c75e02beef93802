// NAdam (nadam.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's nadam step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/nadam.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

std::vector<Hyperparameter> nadam_hyperparameters(const NAdamOptions& o) {
  std::vector<Hyperparameter> h = detail::adam_hyperparameters(o.lr, o.betas, o.eps, o.weight_decay);
  h.push_back({"momentum_decay", o.momentum_decay, non_negative});
  return h;
}

}  // namespace

NAdam::NAdam(const std::vector<Tensor>& params, const NAdamOptions& options)
    : NAdam(std::vector<ParamGroup>{{params, {}}}, options) {}

NAdam::NAdam(const std::vector<ParamGroup>& groups, const NAdamOptions& options)
    : Optimizer("NAdam", nadam_hyperparameters(options), OptimKernel::nadam,
                {{"step", StateSpec::Count},
                 {"mu_product", StateSpec::Real},
                 {"exp_avg", StateSpec::Buffer},
                 {"exp_avg_sq", StateSpec::Buffer}},
                groups) {}

void NAdam::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions& o, const OptimStepArgs& a, OptimTensor& x) {
        // step and mu_product stay on the host: the step sizes are host scalars.
        const double step = static_cast<double>(++step_count(s));
        if (!find(s, "mu_product").defined())
          s.emplace_back("mu_product", scalar_tensor(1.0, {.dtype = DType::f64}));
        double& mu_product = *find(s, "mu_product").data<double>();
        const double momentum_decay = o.get("momentum_decay");
        const double mu = a.beta1 * (1. - 0.5 * std::pow(0.96, step * momentum_decay));
        const double mu_next = a.beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * momentum_decay));
        mu_product *= mu;
        const double mu_product_next = mu_product * mu * mu_next;
        x.state[0] = buffer(s, "exp_avg", param);
        x.state[1] = buffer(s, "exp_avg_sq", param);
        x.scalar[0] = 1 - std::pow(a.beta2, step);
        x.scalar[1] = -a.lr * (1. - mu) / (1. - mu_product);
        x.scalar[2] = -a.lr * mu_next / (1. - mu_product_next);
      });
}

}  // namespace kiln::optim
