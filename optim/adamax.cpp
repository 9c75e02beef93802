// Adamax (adamax.h): hyper-parameters, state and the host side of PyTorch 1.13's update; the element
// update is optim_math.h's AdamaxUpdate.
#include "kiln/optim/adamax.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

std::vector<Hyperparameter> adamax_hyperparameters(const AdamaxOptions& o) {
  std::vector<Hyperparameter> h = detail::adam_hyperparameters(o.lr, o.betas, o.eps, o.weight_decay);
  h.push_back(flag("maximize", o.maximize, &OptimStepArgs::maximize));
  return h;
}

}  // namespace

Adamax::Adamax(const std::vector<Tensor>& params, const AdamaxOptions& options)
    : Adamax(std::vector<ParamGroup>{{params, {}}}, options) {}

Adamax::Adamax(const std::vector<ParamGroup>& groups, const AdamaxOptions& options)
    : Optimizer("Adamax", adamax_hyperparameters(options), OptimKernel::adamax,
                {{"step", StateSpec::Count}, {"exp_avg", StateSpec::Buffer}, {"exp_inf", StateSpec::Buffer}},
                groups) {}

void Adamax::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions&, const OptimStepArgs& a, OptimTensor& x) {
        const double t = static_cast<double>(++step_count(s));
        x.state[0] = buffer(s, "exp_avg", param);
        x.state[1] = buffer(s, "exp_inf", param);
        x.scalar[0] = a.lr / (1 - std::pow(a.beta1, t));
      });
}

}  // namespace kiln::optim
