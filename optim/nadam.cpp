// NAdam (nadam.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's nadam step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/nadam.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions nadam_defaults(const NAdamOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"beta1", o.betas[0]},
                       {"beta2", o.betas[1]},
                       {"eps", o.eps},
                       {"weight_decay", o.weight_decay},
                       {"momentum_decay", o.momentum_decay}});
}

void validate_nadam(const GroupOptions& o) {
  detail::check_adam_options("NAdam", o);
  KILN_CHECK(o.get("momentum_decay") >= 0.0, "NAdam: invalid momentum_decay ", o.get("momentum_decay"),
             " (must be >= 0)");
}

}  // namespace

NAdam::NAdam(const std::vector<Tensor>& params, const NAdamOptions& options)
    : NAdam(std::vector<ParamGroup>{{params, {}}}, options) {}

NAdam::NAdam(const std::vector<ParamGroup>& groups, const NAdamOptions& options)
    : Optimizer("NAdam", nadam_defaults(options), validate_nadam,
                {{"step", StateSpec::Count},
                 {"mu_product", StateSpec::Real},
                 {"exp_avg", StateSpec::Buffer},
                 {"exp_avg_sq", StateSpec::Buffer}},
                groups) {}

void NAdam::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    const double lr = o.get("lr"), beta1 = o.get("beta1"), beta2 = o.get("beta2");
    const double momentum_decay = o.get("momentum_decay");
    OptimStepArgs args{.kernel = OptimKernel::nadam,
                       .lr = lr,
                       .beta1 = beta1,
                       .beta2 = beta2,
                       .eps = o.get("eps"),
                       .weight_decay = o.get("weight_decay")};
    detail::StepBatch batch;
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      ParamState& s = state(index);
      if (s.empty()) {
        s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
        s.emplace_back("mu_product", scalar_tensor(1.0, {.dtype = DType::f64}));
        s.emplace_back("exp_avg", detail::zeros_for(param));
        s.emplace_back("exp_avg_sq", detail::zeros_for(param));
      }
      // step and mu_product stay on the host: the step sizes are host scalars.
      int64_t& step_count = *find(s, "step").data<int64_t>();
      double& mu_product = *find(s, "mu_product").data<double>();
      const double step = static_cast<double>(++step_count);
      const double mu = beta1 * (1. - 0.5 * std::pow(0.96, step * momentum_decay));
      const double mu_next = beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * momentum_decay));
      mu_product *= mu;
      const double mu_product_next = mu_product * mu * mu_next;
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = find(s, "exp_avg");
      x.state[1] = find(s, "exp_avg_sq");
      x.scalar[0] = 1 - std::pow(beta2, step);
      x.scalar[1] = -lr * (1. - mu) / (1. - mu_product);
      x.scalar[2] = -lr * mu_next / (1. - mu_product_next);
    }
    batch.run(args, "NAdam.step");
  }
}

}  // namespace kiln::optim
