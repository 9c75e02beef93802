// SGD (sgd.h): options, state and the host side of PyTorch 1.13's SGD; the update is the kernel table's
// sgd step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/sgd.h"

#include <cmath>

#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

// lr is required, as in PyTorch (NaN stands for "not given").
void required_lr(const std::string& optimizer, const std::string& name, double value) {
  KILN_CHECK(!std::isnan(value), optimizer, ": lr is required (", optimizer,
             " has no default learning rate), e.g. {.lr = 0.01}");
  non_negative(optimizer, name, value);
}

std::vector<Hyperparameter> sgd_hyperparameters(const SGDOptions& o) {
  return {{"lr", o.lr, required_lr, &OptimStepArgs::lr},
          {"momentum", o.momentum, non_negative, &OptimStepArgs::momentum},
          {"dampening", o.dampening, nullptr, &OptimStepArgs::dampening},
          {"weight_decay", o.weight_decay, non_negative, &OptimStepArgs::weight_decay},
          flag("nesterov", o.nesterov, &OptimStepArgs::nesterov),
          flag("maximize", o.maximize, &OptimStepArgs::maximize)};
}

void check_nesterov(const GroupOptions& o) {
  double momentum = o.get("momentum"), dampening = o.get("dampening");
  KILN_CHECK(o.get("nesterov") == 0.0 || (momentum > 0.0 && dampening == 0.0),
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ", momentum,
             ", dampening ", dampening, ")");
}

}  // namespace

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{{params, {}}}, options) {}

SGD::SGD(const std::vector<ParamGroup>& groups, const SGDOptions& options)
    : Optimizer("SGD", sgd_hyperparameters(options), OptimKernel::sgd,
                {{"momentum_buffer", StateSpec::Buffer, false}}, groups, check_nesterov) {}

void SGD::step() {
  for_each_param(
      [](const Tensor& param, ParamState& s, const GroupOptions&, const OptimStepArgs& a, OptimTensor& x) {
        if (a.momentum == 0.0) return;
        Tensor buf = find(s, "momentum_buffer");
        const bool first = !buf.defined();
        if (first) {  // the kernel sets it to the first step's direction
          buf = empty(param.shape(), {.dtype = param.dtype(), .device = param.device()});
          s.emplace_back("momentum_buffer", buf);
        }
        x.state[0] = buf;
        x.scalar[0] = first ? 1.0 : 0.0;
      });
}

}  // namespace kiln::optim
