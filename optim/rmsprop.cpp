// RMSprop (rmsprop.h): PyTorch 1.13's single-tensor update as one fused loop per parameter.
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

struct RMSpropUpdate {
  double lr, alpha, eps, wd, momentum;
  bool centered, maximize;
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* sq_, T* ga_, T* buf_) const {
    const T a_ = static_cast<T>(alpha), one_a_ = static_cast<T>(1.0 - alpha), e_ = static_cast<T>(eps);
    const T decay_ = static_cast<T>(wd), mom_ = static_cast<T>(momentum), neg_lr_ = static_cast<T>(-lr);
    const T sign_ = maximize ? T(-1) : T(1);  // exact
    detail::with_flags(
        [&](auto has_wd, auto is_centered, auto has_mom) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT sq = sq_;
            T* KILN_RESTRICT ga = ga_;
            T* KILN_RESTRICT buf = buf_;
            const T a = a_, one_a = one_a_, e = e_, decay = decay_, mom = mom_, neg_lr = neg_lr_,
                    sign = sign_;
            for (int64_t i = begin; i < end; ++i) {
              T gi = sign * g[i];
              if constexpr (decltype(has_wd)::value) gi = gi + decay * p[i];
              T s = sq[i] * a + one_a * gi * gi;
              sq[i] = s;
              T avg;
              if constexpr (decltype(is_centered)::value) {
                T m = ga[i] * a + one_a * gi;
                ga[i] = m;
                avg = std::sqrt(s + T(-1) * m * m);
              } else {
                avg = std::sqrt(s);
              }
              avg = avg + e;
              if constexpr (decltype(has_mom)::value) {
                T b = buf[i] * mom + gi / avg;
                buf[i] = b;
                p[i] = p[i] + neg_lr * b;
              } else {
                p[i] = p[i] + neg_lr * gi / avg;
              }
            }
          });
        },
        wd != 0.0, centered, momentum > 0.0);
  }
};

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
    RMSpropUpdate u{o.get("lr"),
                    o.get("alpha"),
                    o.get("eps"),
                    o.get("weight_decay"),
                    o.get("momentum"),
                    o.get("centered") != 0.0,
                    o.get("maximize") != 0.0};
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      ParamState& s = state(index);
      auto buffer =
          [&](const char* name) {  // created on first use (also when an option is switched on later)
            Tensor t = find(s, name);
            if (!t.defined()) s.emplace_back(name, t = zeros(param.shape(), {.dtype = param.dtype()}));
            return t;
          };
      if (s.empty()) s.emplace_back("step", scalar_tensor(0, {.dtype = DType::i64}));
      Tensor sq = buffer("square_avg");
      Tensor buf = u.momentum > 0.0 ? buffer("momentum_buffer") : Tensor();
      Tensor ga = u.centered ? buffer("grad_avg") : Tensor();
      *find(s, "step").data<int64_t>() += 1;
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), "RMSprop.step", [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), sq.data<T>(),
                 ga.defined() ? ga.data<T>() : nullptr, buf.defined() ? buf.data<T>() : nullptr);
      });
      data.commit();
    }
  }
}

}  // namespace kiln::optim
