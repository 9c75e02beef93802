// Adagrad (adagrad.h): PyTorch 1.13's single-tensor update as one fused loop per parameter.
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

struct AdagradUpdate {
  double clr, eps, wd;
  bool maximize;
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* sum_) const {
    const T neg_clr_ = static_cast<T>(-clr), e_ = static_cast<T>(eps), decay_ = static_cast<T>(wd);
    const T sign_ = maximize ? T(-1) : T(1);  // exact
    detail::with_flags(
        [&](auto has_wd) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT sum = sum_;
            const T neg_clr = neg_clr_, e = e_, decay = decay_, sign = sign_;
            for (int64_t i = begin; i < end; ++i) {
              T gi = sign * g[i];
              if constexpr (decltype(has_wd)::value) gi = gi + decay * p[i];
              T s = sum[i] + T(1) * gi * gi;
              sum[i] = s;
              p[i] = p[i] + neg_clr * gi / (std::sqrt(s) + e);
            }
          });
        },
        wd != 0.0);
  }
};

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
  s.emplace_back("sum", full(param.shape(), initial_accumulator_value, {.dtype = param.dtype()}));
}

void Adagrad::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups()) {
    const GroupOptions& o = group.options;
    const double lr = o.get("lr"), lr_decay = o.get("lr_decay");
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      // Parameters of a group added after construction (or state cleared by a load) start here.
      if (state(index).empty()) init_state(index, param, o.get("initial_accumulator_value"));
      int64_t& step = *find(state(index), "step").data<int64_t>();
      step += 1;
      AdagradUpdate u{lr / (1 + static_cast<double>(step - 1) * lr_decay), o.get("eps"),
                      o.get("weight_decay"), o.get("maximize") != 0.0};
      Tensor sum = find(state(index), "sum");
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), "Adagrad.step", [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), sum.data<T>());
      });
      data.commit();
    }
  }
}

}  // namespace kiln::optim
