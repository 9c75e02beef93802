// Adam and AdamW (adam.h): PyTorch 1.13's single-tensor update as one fused loop per parameter. The loop
// keeps PyTorch's order of operations (mul_ then add_, addcmul_ as value * a * b, addcdiv_ as value * a / b)
// so f64 trajectories agree with PyTorch's to rounding.
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

struct AdamUpdate {
  double lr, beta1, beta2, eps, wd;
  bool amsgrad, maximize, decoupled;
  int64_t step;
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* m_, T* v_, T* vmax_) const {
    const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    const T neg_step_ = static_cast<T>(-(lr / bias1)), bias2_sqrt_ = static_cast<T>(std::sqrt(bias2));
    const T b1_ = static_cast<T>(beta1), b2_ = static_cast<T>(beta2);
    const T one_b1_ = static_cast<T>(1.0 - beta1), one_b2_ = static_cast<T>(1.0 - beta2);
    const T e_ = static_cast<T>(eps), l2_ = static_cast<T>(wd), shrink = static_cast<T>(1.0 - lr * wd);
    // Maximizing negates the gradient (exact); the shrink factor is exactly 1 without decoupled decay.
    const T sign_ = maximize ? T(-1) : T(1), keep_ = decoupled ? shrink : T(1);
    detail::with_flags(
        [&](auto coupled_wd, auto ams) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT m = m_;
            T* KILN_RESTRICT v = v_;
            T* KILN_RESTRICT vmax = vmax_;
            const T sign = sign_, keep = keep_, l2 = l2_, b1 = b1_, b2 = b2_, one_b1 = one_b1_,
                    one_b2 = one_b2_;
            const T e = e_, bias2_sqrt = bias2_sqrt_, neg_step = neg_step_;
            for (int64_t i = begin; i < end; ++i) {
              T gi = sign * g[i];
              T pi = p[i] * keep;
              if constexpr (decltype(coupled_wd)::value) gi = gi + l2 * p[i];
              T mi = m[i] * b1 + one_b1 * gi;
              T vi = v[i] * b2 + one_b2 * gi * gi;
              m[i] = mi;
              v[i] = vi;
              T second = vi;
              if constexpr (decltype(ams)::value) {
                T prev = vmax[i];
                second = (prev != prev || prev > vi) ? prev : vi;  // torch.maximum: NaN wins
                vmax[i] = second;
              }
              T denom = std::sqrt(second) / bias2_sqrt + e;
              p[i] = pi + neg_step * mi / denom;
            }
          });
        },
        !decoupled && wd != 0.0, amsgrad);
  }
};

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
    AdamUpdate u{o.get("lr"),
                 o.get("beta1"),
                 o.get("beta2"),
                 o.get("eps"),
                 o.get("weight_decay"),
                 o.get("amsgrad") != 0,
                 o.get("maximize") != 0.0,
                 decoupled_,
                 0};
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
      Tensor vmax;
      if (u.amsgrad) {  // also when amsgrad was switched on after the first step
        vmax = find(s, "max_exp_avg_sq");
        if (!vmax.defined())
          s.emplace_back("max_exp_avg_sq", vmax = zeros(param.shape(), {.dtype = param.dtype()}));
      }
      int64_t& step = *find(s, "step").data<int64_t>();
      u.step = ++step;
      Tensor m = find(s, "exp_avg"), v = find(s, "exp_avg_sq");
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), name().c_str(), [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(),
                 vmax.defined() ? vmax.data<T>() : nullptr);
      });
      data.commit();
    }
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
