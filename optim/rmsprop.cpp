// RMSprop (rmsprop.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's rmsprop step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/rmsprop.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions rmsprop_defaults(const RMSpropOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"alpha", o.alpha},
                       {"eps", o.eps},
                       {"weight_decay", o.weight_decay},
                       {"momentum", o.momentum},
                       {"centered", o.centered ? 1.0 : 0.0},
                       {"maximize", o.maximize ? 1.0 : 0.0}});
}

void validate_rmsprop(const GroupOptions& o) {
  for (const char* name : {"lr", "eps", "momentum", "weight_decay", "alpha"})
    KILN_CHECK(o.get(name) >= 0.0, "RMSprop: invalid ", name, " ", o.get(name), " (must be >= 0)");
}

}  // namespace

RMSprop::RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& options)
    : RMSprop(std::vector<ParamGroup>{{params, {}}}, options) {}

RMSprop::RMSprop(const std::vector<ParamGroup>& groups, const RMSpropOptions& options)
    : Optimizer("RMSprop", rmsprop_defaults(options), validate_rmsprop,
                {{"step", StateSpec::Count},
                 {"square_avg", StateSpec::Buffer},
                 {"momentum_buffer", StateSpec::Buffer, false},
                 {"grad_avg", StateSpec::Buffer, false}},
                groups) {}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    OptimStepArgs args{.kernel = OptimKernel::rmsprop,
                       .lr = o.get("lr"),
                       .eps = o.get("eps"),
                       .weight_decay = o.get("weight_decay"),
                       .momentum = o.get("momentum"),
                       .alpha = o.get("alpha"),
                       .maximize = o.get("maximize") != 0.0,
                       .centered = o.get("centered") != 0.0};
    detail::StepBatch batch;
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      ParamState& s = state(index);
      auto buffer =
          [&](const char* name) {  // created on first use (also when an option is switched on later)
            Tensor t = find(s, name);
            if (!t.defined()) s.emplace_back(name, t = detail::zeros_for(param));
            return t;
          };
      if (s.empty()) s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = buffer("square_avg");
      x.state[1] = args.momentum > 0.0 ? buffer("momentum_buffer") : Tensor();
      x.state[2] = args.centered ? buffer("grad_avg") : Tensor();
      *find(s, "step").data<int64_t>() += 1;
    }
    batch.run(args, "RMSprop.step");
  }
}

}  // namespace kiln::optim
