// Adagrad (adagrad.h): options, state and the host side of PyTorch 1.13's update; the update is the kernel
// table's adagrad step (kernels/cpu/optim_step.cpp, kernels/cuda/optim.cu).
#include "kiln/optim/adagrad.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

GroupOptions adagrad_defaults(const AdagradOptions& o) {
  return GroupOptions({{"lr", o.lr},
                       {"lr_decay", o.lr_decay},
                       {"eps", o.eps},
                       {"weight_decay", o.weight_decay},
                       {"initial_accumulator_value", o.initial_accumulator_value},
                       {"maximize", o.maximize ? 1.0 : 0.0}});
}

void validate_adagrad(const GroupOptions& o) {
  for (const char* name : {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"})
    KILN_CHECK(o.get(name) >= 0.0, "Adagrad: invalid ", name, " ", o.get(name), " (must be >= 0)");
}

}  // namespace

Adagrad::Adagrad(const std::vector<Tensor>& params, const AdagradOptions& options)
    : Adagrad(std::vector<ParamGroup>{{params, {}}}, options) {}

Adagrad::Adagrad(const std::vector<ParamGroup>& groups, const AdagradOptions& options)
    : Optimizer("Adagrad", adagrad_defaults(options), validate_adagrad,
                {{"step", StateSpec::Count}, {"sum", StateSpec::Buffer}}, groups) {
  for (const auto& group : this->groups())
    for (std::size_t k = 0; k < group.params.size(); ++k)
      init_state(group.first + k, group.params[k], group.options.get("initial_accumulator_value"));
}

void Adagrad::init_state(std::size_t index, const Tensor& param, double initial_accumulator_value) {
  ParamState& s = state(index);
  s.clear();
  s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
  s.emplace_back("sum", full(param.shape(), initial_accumulator_value,
                             {.dtype = param.dtype(), .device = param.device()}));
}

void Adagrad::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    const double lr = o.get("lr"), lr_decay = o.get("lr_decay");
    OptimStepArgs args{.kernel = OptimKernel::adagrad,
                       .lr = lr,
                       .eps = o.get("eps"),
                       .weight_decay = o.get("weight_decay"),
                       .maximize = o.get("maximize") != 0.0};
    detail::StepBatch batch;
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      // Parameters of a group added after construction (or state cleared by a load) start here.
      if (state(index).empty()) init_state(index, param, o.get("initial_accumulator_value"));
      int64_t& step = *find(state(index), "step").data<int64_t>();
      step += 1;
      OptimTensor& x = batch.add(param, grad);
      x.state[0] = find(state(index), "sum");
      x.scalar[0] = lr / (1 + static_cast<double>(step - 1) * lr_decay);
    }
    batch.run(args, "Adagrad.step");
  }
}

}  // namespace kiln::optim
