// SGD (sgd.h): PyTorch 1.13's single-tensor SGD update as one fused loop per parameter.
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

// One parameter: d = +-g (+ wd * p); buf = first ? d : momentum * buf + (1 - dampening) * d; p -= lr * d'.
struct SGDUpdate {
  double lr, momentum, dampening, wd;
  bool nesterov, maximize, first;
  template <class T>
  void run(int64_t n, T* p_, const T* g_, T* buf_) const {
    const T neg_lr_ = static_cast<T>(-lr), mom_ = static_cast<T>(momentum);
    const T keep_ = static_cast<T>(1.0 - dampening), decay_ = static_cast<T>(wd);
    const T sign_ = maximize ? T(-1) : T(1);  // exact
    detail::with_flags(
        [&](auto has_wd, auto has_mom, auto first_step, auto nest) {
          detail::parallel_range(n, [&](int64_t begin, int64_t end) {
            T* KILN_RESTRICT p = p_;
            const T* KILN_RESTRICT g = g_;
            T* KILN_RESTRICT buf = buf_;
            const T neg_lr = neg_lr_, mom = mom_, keep = keep_, decay = decay_, sign = sign_;
            for (int64_t i = begin; i < end; ++i) {
              T d = sign * g[i];
              if constexpr (decltype(has_wd)::value) d = d + decay * p[i];
              if constexpr (decltype(has_mom)::value) {
                T b;
                if constexpr (decltype(first_step)::value) {
                  b = d;
                } else {
                  b = buf[i] * mom + keep * d;
                }
                buf[i] = b;
                if constexpr (decltype(nest)::value) {
                  d = d + mom * b;
                } else {
                  d = b;
                }
              }
              p[i] = p[i] + neg_lr * d;
            }
          });
        },
        wd != 0.0, momentum != 0.0, first, nesterov);
  }
};

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
    SGDUpdate u{o.get("lr"),
                o.get("momentum"),
                o.get("dampening"),
                o.get("weight_decay"),
                o.get("nesterov") != 0,
                o.get("maximize") != 0.0,
                false};
    for (std::size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      std::size_t index = group.first + k;
      Tensor grad = checked_grad(param, index);
      if (!grad.defined()) continue;
      Tensor buf;
      if (u.momentum != 0.0) {
        ParamState& s = state(index);
        buf = find(s, "momentum_buffer");
        u.first = !buf.defined();
        if (u.first) {
          buf = empty(param.shape(), {.dtype = param.dtype()});
          s.emplace_back("momentum_buffer", buf);
        }
      }
      detail::ParamData data(param);
      detail::dispatch_floating(param.dtype(), "SGD.step", [&]<class T>() {
        u.run<T>(param.numel(), data.data<T>(), grad.data<T>(), buf.defined() ? buf.data<T>() : nullptr);
      });
      data.commit();
    }
  }
}

}  // namespace kiln::optim
