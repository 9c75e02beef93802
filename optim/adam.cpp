// Adam and AdamW (adam.h): options, state and the host side of PyTorch 1.13's update; the update itself is
// the kernel table's adam step (kernels/cpu/optim_step.cpp keeps PyTorch's order of operations, so f64
// trajectories agree with PyTorch's to rounding; CUDA updates a whole group in one launch).
#include "kiln/optim/adam.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions adam_defaults(const AdamOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"beta1", o.betas[0]},
                       {"beta2", o.betas[1]},
                       {"eps", o.eps},
                       {"weight_decay", o.weight_decay},
                       {"amsgrad", o.amsgrad ? 1.0 : 0.0},
                       {"maximize", o.maximize ? 1.0 : 0.0}});
}

AdamOptions from_adamw(const AdamWOptions& o) {
  return {o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize};
}

Optimizer::Validator adam_validator(const char* name) {
  return [name](const GroupOptions& o) { detail::check_adam_options(name, o); };
}

}  // namespace

void detail::check_adam_options(const char* name, const GroupOptions& o) {
  double lr = o.get("lr"), b1 = o.get("beta1"), b2 = o.get("beta2");
  KILN_CHECK(lr >= 0.0, name, ": invalid learning rate ", lr, " (lr must be >= 0)");
  KILN_CHECK(o.get("eps") >= 0.0, name, ": invalid eps ", o.get("eps"), " (must be >= 0)");
  KILN_CHECK(b1 >= 0.0 && b1 < 1.0, name, ": invalid beta parameter at index 0: ", b1,
             " (must be in [0, 1))");
  KILN_CHECK(b2 >= 0.0 && b2 < 1.0, name, ": invalid beta parameter at index 1: ", b2,
             " (must be in [0, 1))");
  KILN_CHECK(o.get("weight_decay") >= 0.0, name, ": invalid weight_decay ", o.get("weight_decay"),
             " (must be >= 0)");
}

AdamFamily::AdamFamily(const char* name, bool decoupled, const AdamOptions& options,
                       std::vector<ParamGroup> groups)
    : Optimizer(name, adam_defaults(options), adam_validator(name),
                {{"step", StateSpec::Count},
                 {"exp_avg", StateSpec::Buffer},
                 {"exp_avg_sq", StateSpec::Buffer},
                 {"max_exp_avg_sq", StateSpec::Buffer, false}},
                std::move(groups)),
      decoupled_(decoupled) {}

void AdamFamily::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    OptimStepArgs args{.kernel = OptimKernel::adam,
                       .lr = o.get("lr"),
                       .beta1 = o.get("beta1"),
                       .beta2 = o.get("beta2"),
                       .eps = o.get("eps"),
                       .weight_decay = o.get("weight_decay"),
                       .amsgrad = o.get("amsgrad") != 0,
                       .maximize = o.get("maximize") != 0.0,
                       .decoupled = decoupled_};
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
      Tensor vmax;
      if (args.amsgrad) {  // also when amsgrad was switched on after the first step
        vmax = find(s, "max_exp_avg_sq");
        if (!vmax.defined()) s.emplace_back("max_exp_avg_sq", vmax = detail::zeros_for(param));
      }
      // The step count stays on the host (as PyTorch keeps it without `capturable`): the bias corrections
      // are host scalars, so a step never reads the device.
      int64_t& step = *find(s, "step").data<int64_t>();
      const double t = static_cast<double>(++step);
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = find(s, "exp_avg");
      x.state[1] = find(s, "exp_avg_sq");
      x.state[2] = vmax;
      x.scalar[0] = args.lr / (1.0 - std::pow(args.beta1, t));
      x.scalar[1] = std::sqrt(1.0 - std::pow(args.beta2, t));
    }
    batch.run(args, name().c_str());
  }
}

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& options)
    : Adam(std::vector<ParamGroup>{{params, {}}}, options) {}
Adam::Adam(const std::vector<ParamGroup>& groups, const AdamOptions& options)
    : AdamFamily("Adam", false, options, groups) {}

AdamW::AdamW(const std::vector<Tensor>& params, const AdamWOptions& options)
    : AdamW(std::vector<ParamGroup>{{params, {}}}, options) {}
AdamW::AdamW(const std::vector<ParamGroup>& groups, const AdamWOptions& options)
    : AdamFamily("AdamW", true, from_adamw(options), groups) {}

}  // namespace kiln::optim
