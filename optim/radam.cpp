// RAdam (radam.h): PyTorch 1.13's single-tensor update as one fused loop per parameter.
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

struct RAdamUpdate {
  double lr, beta1, beta2, eps, wd, bias1, bias2_sqrt, rect;
  bool rectified;  // rho_t > 5: the adaptive step; otherwise the un-adapted momentum step
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* m_, T* v_) const {
    const T b1_ = static_cast<T>(beta1), b2_ = static_cast<T>(beta2);
    const T one_b1_ = static_cast<T>(1.0 - beta1), one_b2_ = static_cast<T>(1.0 - beta2);
    const T e_ = static_cast<T>(eps), decay_ = static_cast<T>(wd), bc1_ = static_cast<T>(bias1);
    const T l_ = static_cast<T>(lr), bc2_sqrt_ = static_cast<T>(bias2_sqrt), r_ = static_cast<T>(rect);
    detail::with_flags(
        [&](auto has_wd, auto rectify) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT m = m_;
            T* KILN_RESTRICT v = v_;
            const T b1 = b1_, b2 = b2_, one_b1 = one_b1_, one_b2 = one_b2_, e = e_, decay = decay_,
                    bc1 = bc1_, l = l_, bc2_sqrt = bc2_sqrt_, r = r_;
            for (int64_t i = begin; i < end; ++i) {
              T gi = g[i];
              if constexpr (decltype(has_wd)::value) gi = gi + decay * p[i];
              T mi = m[i] * b1 + one_b1 * gi;
              T vi = v[i] * b2 + one_b2 * gi * gi;
              m[i] = mi;
              v[i] = vi;
              T corrected = mi / bc1;
              T update;
              if constexpr (decltype(rectify)::value) {
                update = corrected * l * (bc2_sqrt / (std::sqrt(vi) + e)) * r;
              } else {
                update = corrected * l;
              }
              p[i] = p[i] + T(-1) * update;
            }
          });
        },
        wd != 0.0, rectified);
  }
};

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
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      ParamState& s = state(index);
      if (s.empty()) {
        s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
        s.emplace_back("exp_avg", zeros(param.shape(), {.dtype = param.dtype()}));
        s.emplace_back("exp_avg_sq", zeros(param.shape(), {.dtype = param.dtype()}));
      }
      const double step = static_cast<double>(++*find(s, "step").data<int64_t>());
      const double bias1 = 1 - std::pow(beta1, step), bias2 = 1 - std::pow(beta2, step);
      const double rho_inf = 2 / (1 - beta2) - 1;
      const double rho_t = rho_inf - 2 * step * std::pow(beta2, step) / bias2;
      double rect = 0.0;
      if (rho_t > 5.)
        rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
      RAdamUpdate u{o.get("lr"),      beta1, beta2,     o.get("eps"), o.get("weight_decay"), bias1,
                    std::sqrt(bias2), rect,  rho_t > 5.};
      Tensor m = find(s, "exp_avg"), v = find(s, "exp_avg_sq");
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), "RAdam.step", [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
      });
      data.commit();
    }
  }
}

}  // namespace kiln::optim
