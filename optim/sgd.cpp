// SGD (sgd.h): options, state and the host side of PyTorch 1.13's SGD; the update is the kernel table's
// sgd step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/sgd.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions sgd_defaults(const SGDOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"momentum", o.momentum},
                       {"dampening", o.dampening},
                       {"weight_decay", o.weight_decay},
                       {"nesterov", o.nesterov ? 1.0 : 0.0},
                       {"maximize", o.maximize ? 1.0 : 0.0}});
}

void validate_sgd(const GroupOptions& o) {
  double lr = o.get("lr"), momentum = o.get("momentum"), dampening = o.get("dampening");
  KILN_CHECK(!std::isnan(lr), "SGD: lr is required (SGD has no default learning rate), e.g. {.lr = 0.01}");
  KILN_CHECK(lr >= 0.0, "SGD: invalid learning rate ", lr, " (lr must be >= 0)");
  KILN_CHECK(momentum >= 0.0, "SGD: invalid momentum ", momentum, " (must be >= 0)");
  KILN_CHECK(o.get("weight_decay") >= 0.0, "SGD: invalid weight_decay ", o.get("weight_decay"),
             " (must be >= 0)");
  KILN_CHECK(o.get("nesterov") == 0.0 || (momentum > 0.0 && dampening == 0.0),
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ", momentum,
             ", dampening ", dampening, ")");
}

}  // namespace

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{{params, {}}}, options) {}

SGD::SGD(const std::vector<ParamGroup>& groups, const SGDOptions& options)
    : Optimizer("SGD", sgd_defaults(options), validate_sgd, {{"momentum_buffer", StateSpec::Buffer, false}},
                groups) {}

void SGD::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    OptimStepArgs args{.kernel = OptimKernel::sgd,
                       .lr = o.get("lr"),
                       .weight_decay = o.get("weight_decay"),
                       .momentum = o.get("momentum"),
                       .dampening = o.get("dampening"),
                       .maximize = o.get("maximize") != 0.0,
                       .nesterov = o.get("nesterov") != 0};
    detail::StepBatch batch;
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      Tensor buf;
      bool first = false;
      if (args.momentum != 0.0) {
        ParamState& s = state(index);
        buf = find(s, "momentum_buffer");
        first = !buf.defined();
        if (first) {
          buf = empty(param.shape(), {.dtype = param.dtype(), .device = param.device()});
          s.emplace_back("momentum_buffer", buf);
        }
      }
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = buf;
      x.scalar[0] = first ? 1.0 : 0.0;
    }
    batch.run(args, "SGD.step");
  }
}

}  // namespace kiln::optim
