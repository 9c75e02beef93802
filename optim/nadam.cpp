// NAdam (nadam.h): PyTorch 1.13's single-tensor update as one fused loop per parameter.
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

struct NAdamUpdate {
  double beta1, beta2, eps, wd, bias2, grad_scale, avg_scale;  // grad_scale, avg_scale: the two step sizes
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* m_, T* v_) const {
    const T b1_ = static_cast<T>(beta1), b2_ = static_cast<T>(beta2);
    const T one_b1_ = static_cast<T>(1.0 - beta1), one_b2_ = static_cast<T>(1.0 - beta2);
    const T e_ = static_cast<T>(eps), decay_ = static_cast<T>(wd), bc2_ = static_cast<T>(bias2);
    const T sg_ = static_cast<T>(grad_scale), sm_ = static_cast<T>(avg_scale);
    detail::with_flags(
        [&](auto has_wd) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT m = m_;
            T* KILN_RESTRICT v = v_;
            const T b1 = b1_, b2 = b2_, one_b1 = one_b1_, one_b2 = one_b2_, e = e_, decay = decay_,
                    bc2 = bc2_, sg = sg_, sm = sm_;
            for (int64_t i = begin; i < end; ++i) {
              T gi = g[i];
              if constexpr (decltype(has_wd)::value) gi = gi + decay * p[i];
              T mi = m[i] * b1 + one_b1 * gi;
              T vi = v[i] * b2 + one_b2 * gi * gi;
              m[i] = mi;
              v[i] = vi;
              T denom = std::sqrt(vi / bc2) + e;
              T pi = p[i] + sg * gi / denom;
              p[i] = pi + sm * mi / denom;
            }
          });
        },
        wd != 0.0);
  }
};

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
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      ParamState& s = state(index);
      if (s.empty()) {
        s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
        s.emplace_back("mu_product", scalar_tensor(1.0, {.dtype = DType::f64}));
        s.emplace_back("exp_avg", zeros(param.shape(), {.dtype = param.dtype()}));
        s.emplace_back("exp_avg_sq", zeros(param.shape(), {.dtype = param.dtype()}));
      }
      int64_t& step_count = *find(s, "step").data<int64_t>();
      double& mu_product = *find(s, "mu_product").data<double>();
      const double step = static_cast<double>(++step_count);
      const double mu = beta1 * (1. - 0.5 * std::pow(0.96, step * momentum_decay));
      const double mu_next = beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * momentum_decay));
      mu_product *= mu;
      const double mu_product_next = mu_product * mu * mu_next;
      NAdamUpdate u{beta1,
                    beta2,
                    o.get("eps"),
                    o.get("weight_decay"),
                    1 - std::pow(beta2, step),
                    -lr * (1. - mu) / (1. - mu_product),
                    -lr * mu_next / (1. - mu_product_next)};
      Tensor m = find(s, "exp_avg"), v = find(s, "exp_avg_sq");
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), "NAdam.step", [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
      });
      data.commit();
    }
  }
}

}  // namespace kiln::optim
