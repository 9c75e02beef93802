// RAdam (radam.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's radam step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/radam.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions radam_defaults(const RAdamOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"beta1", o.betas[0]},
                       {"beta2", o.betas[1]},
                       {"eps", o.eps},
                       {"weight_decay", o.weight_decay}});
}

}  // namespace

RAdam::RAdam(const std::vector<Tensor>& params, const RAdamOptions& options)
    : RAdam(std::vector<ParamGroup>{{params, {}}}, options) {}

RAdam::RAdam(const std::vector<ParamGroup>& groups, const RAdamOptions& options)
    : Optimizer(
          "RAdam", radam_defaults(options),
          [](const GroupOptions& o) { detail::check_adam_options("RAdam", o); },
          {{"step", StateSpec::Count}, {"exp_avg", StateSpec::Buffer}, {"exp_avg_sq", StateSpec::Buffer}},
          groups) {}

void RAdam::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    const double beta1 = o.get("beta1"), beta2 = o.get("beta2");
    OptimStepArgs args{.kernel = OptimKernel::radam,
                       .lr = o.get("lr"),
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
        s.emplace_back("exp_avg", detail::zeros_for(param));
        s.emplace_back("exp_avg_sq", detail::zeros_for(param));
      }
      const double step = static_cast<double>(++*find(s, "step").data<int64_t>());
      const double bias1 = 1 - std::pow(beta1, step), bias2 = 1 - std::pow(beta2, step);
      const double rho_inf = 2 / (1 - beta2) - 1;
      const double rho_t = rho_inf - 2 * step * std::pow(beta2, step) / bias2;
      double rect = 0.0;
      if (rho_t > 5.)
        rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = find(s, "exp_avg");
      x.state[1] = find(s, "exp_avg_sq");
      x.scalar[0] = bias1;
      x.scalar[1] = std::sqrt(bias2);
      x.scalar[2] = rect;
      x.scalar[3] = rho_t > 5. ? 1.0 : 0.0;
    }
    batch.run(args, "RAdam.step");
  }
}

}  // namespace kiln::optim
