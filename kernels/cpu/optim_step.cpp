// CPU optimizer steps (backend.h, family 'p'): PyTorch 1.13's single-tensor updates as one fused loop per
// parameter, moved here from optim/*.cpp unchanged (same order of operations, so f64 trajectories agree
// with PyTorch's to rounding and the CPU fixtures pass bit-for-bit), and GradScaler's unscale-and-check.
// Each element is independent, so results do not depend on the thread count. Depends on OpenMP.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/tensor/error.h"

// Pointers that do not alias within one loop (each element is read before it is written, so even a
// gradient that shares storage with its parameter would be updated correctly).
#define KILN_RESTRICT __restrict__

namespace kiln::cpu {
namespace {

// Runs body(begin, end) over [0, n) split into one contiguous range per thread.
template <class Body>
void parallel_range(int64_t n, const Body& body) {
  constexpr int64_t kStepGrain = 1 << 15;  // below this a team costs more than it saves
  if (n <= kStepGrain || omp_get_max_threads() == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + threads - 1) / threads;
    int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

// Calls f(std::bool_constant<flags>...) so that update loops branch at compile time: a branch on a runtime
// flag inside a loop keeps the compiler from vectorizing it. Read a flag as decltype(flag)::value.
template <class F>
void with_flags(F&& f) {
  f();
}
template <class F, class... Rest>
void with_flags(F&& f, bool flag, Rest... rest) {
  if (flag) {
    with_flags([&](auto... more) { f(std::true_type{}, more...); }, rest...);
  } else {
    with_flags([&](auto... more) { f(std::false_type{}, more...); }, rest...);
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// d = +-g (+ wd * p); buf = first ? d : momentum * buf + (1 - dampening) * d; p -= lr * d'.
template <class T>
void sgd(const OptimStepArgs& a, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T* buf_ = ptr<T>(x.state[0]);
  const T neg_lr_ = static_cast<T>(-a.lr), mom_ = static_cast<T>(a.momentum);
  const T keep_ = static_cast<T>(1.0 - a.dampening), decay_ = static_cast<T>(a.weight_decay);
  const T sign_ = a.maximize ? T(-1) : T(1);  // exact
  with_flags(
      [&](auto has_wd, auto has_mom, auto first_step, auto nest) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
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
      a.weight_decay != 0.0, a.momentum != 0.0, x.scalar[0] != 0.0, a.nesterov);
}

template <class T>
void adam(const OptimStepArgs& a, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T *m_ = ptr<T>(x.state[0]), *v_ = ptr<T>(x.state[1]), *vmax_ = ptr<T>(x.state[2]);
  const T neg_step_ = static_cast<T>(-x.scalar[0]), bias2_sqrt_ = static_cast<T>(x.scalar[1]);
  const T b1_ = static_cast<T>(a.beta1), b2_ = static_cast<T>(a.beta2);
  const T one_b1_ = static_cast<T>(1.0 - a.beta1), one_b2_ = static_cast<T>(1.0 - a.beta2);
  const T e_ = static_cast<T>(a.eps), l2_ = static_cast<T>(a.weight_decay);
  const T shrink = static_cast<T>(1.0 - a.lr * a.weight_decay);
  // Maximizing negates the gradient (exact); the shrink factor is exactly 1 without decoupled decay.
  const T sign_ = a.maximize ? T(-1) : T(1), keep_ = a.decoupled ? shrink : T(1);
  with_flags(
      [&](auto coupled_wd, auto ams) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
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
      !a.decoupled && a.weight_decay != 0.0, a.amsgrad);
}

template <class T>
void rmsprop(const OptimStepArgs& o, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T *sq_ = ptr<T>(x.state[0]), *buf_ = ptr<T>(x.state[1]), *ga_ = ptr<T>(x.state[2]);
  const T a_ = static_cast<T>(o.alpha), one_a_ = static_cast<T>(1.0 - o.alpha), e_ = static_cast<T>(o.eps);
  const T decay_ = static_cast<T>(o.weight_decay), mom_ = static_cast<T>(o.momentum);
  const T neg_lr_ = static_cast<T>(-o.lr);
  const T sign_ = o.maximize ? T(-1) : T(1);  // exact
  with_flags(
      [&](auto has_wd, auto is_centered, auto has_mom) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
          T* KILN_RESTRICT p = p_;
          const T* KILN_RESTRICT g = g_;
          T* KILN_RESTRICT sq = sq_;
          T* KILN_RESTRICT ga = ga_;
          T* KILN_RESTRICT buf = buf_;
          const T a = a_, one_a = one_a_, e = e_, decay = decay_, mom = mom_, neg_lr = neg_lr_, sign = sign_;
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
      o.weight_decay != 0.0, o.centered, o.momentum > 0.0);
}

template <class T>
void adagrad(const OptimStepArgs& a, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T* sum_ = ptr<T>(x.state[0]);
  const T neg_clr_ = static_cast<T>(-x.scalar[0]), e_ = static_cast<T>(a.eps);
  const T decay_ = static_cast<T>(a.weight_decay);
  const T sign_ = a.maximize ? T(-1) : T(1);  // exact
  with_flags(
      [&](auto has_wd) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
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
      a.weight_decay != 0.0);
}

template <class T>
void nadam(const OptimStepArgs& a, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T *m_ = ptr<T>(x.state[0]), *v_ = ptr<T>(x.state[1]);
  const T b1_ = static_cast<T>(a.beta1), b2_ = static_cast<T>(a.beta2);
  const T one_b1_ = static_cast<T>(1.0 - a.beta1), one_b2_ = static_cast<T>(1.0 - a.beta2);
  const T e_ = static_cast<T>(a.eps), decay_ = static_cast<T>(a.weight_decay);
  const T bc2_ = static_cast<T>(x.scalar[0]);
  const T sg_ = static_cast<T>(x.scalar[1]), sm_ = static_cast<T>(x.scalar[2]);
  with_flags(
      [&](auto has_wd) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
          T* KILN_RESTRICT p = p_;
          const T* KILN_RESTRICT g = g_;
          T* KILN_RESTRICT m = m_;
          T* KILN_RESTRICT v = v_;
          const T b1 = b1_, b2 = b2_, one_b1 = one_b1_, one_b2 = one_b2_, e = e_, decay = decay_, bc2 = bc2_,
                  sg = sg_, sm = sm_;
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
      a.weight_decay != 0.0);
}

template <class T>
void radam(const OptimStepArgs& a, const OptimTensor& x) {
  const int64_t n = x.param.numel();
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T *m_ = ptr<T>(x.state[0]), *v_ = ptr<T>(x.state[1]);
  const T b1_ = static_cast<T>(a.beta1), b2_ = static_cast<T>(a.beta2);
  const T one_b1_ = static_cast<T>(1.0 - a.beta1), one_b2_ = static_cast<T>(1.0 - a.beta2);
  const T e_ = static_cast<T>(a.eps), decay_ = static_cast<T>(a.weight_decay);
  const T bc1_ = static_cast<T>(x.scalar[0]), l_ = static_cast<T>(a.lr);
  const T bc2_sqrt_ = static_cast<T>(x.scalar[1]), r_ = static_cast<T>(x.scalar[2]);
  with_flags(
      [&](auto has_wd, auto rectify) {
        parallel_range(n, [&](int64_t begin, int64_t end) {
          T* KILN_RESTRICT p = p_;
          const T* KILN_RESTRICT g = g_;
          T* KILN_RESTRICT m = m_;
          T* KILN_RESTRICT v = v_;
          const T b1 = b1_, b2 = b2_, one_b1 = one_b1_, one_b2 = one_b2_, e = e_, decay = decay_, bc1 = bc1_,
                  l = l_, bc2_sqrt = bc2_sqrt_, r = r_;
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
      a.weight_decay != 0.0, x.scalar[3] != 0.0);
}

template <class T>
void step_one(const OptimStepArgs& a, const OptimTensor& x) {
  switch (a.kernel) {
    case OptimKernel::sgd:
      return sgd<T>(a, x);
    case OptimKernel::adam:
      return adam<T>(a, x);
    case OptimKernel::rmsprop:
      return rmsprop<T>(a, x);
    case OptimKernel::adagrad:
      return adagrad<T>(a, x);
    case OptimKernel::nadam:
      return nadam<T>(a, x);
    case OptimKernel::radam:
      return radam<T>(a, x);
    case OptimKernel::unscale:
      break;
  }
  KILN_CHECK(false, "optim_step: kernel ", kernel_name(a.kernel), " is not an optimizer step");
}

// Scales x by inv and reports whether it held a non-finite value (checked before scaling, as PyTorch's
// _amp_foreach_non_finite_check_and_unscale_ does: inf * 0 would hide it).
template <class T>
bool unscale_one(T* x, int64_t n, T inv) {
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) {
    bad = bad || !std::isfinite(x[i]);
    x[i] = x[i] * inv;
  }
  return bad;
}

}  // namespace

bool optim_supports(int code, DType t) {
  return code >= 0 && code <= static_cast<int>(OptimKernel::unscale) && (t == DType::f32 || t == DType::f64);
}

void optim_step(const OptimStepArgs& args, const std::vector<OptimTensor>& tensors) {
  for (const OptimTensor& x : tensors) {
    if (x.param.dtype() == DType::f32) {
      step_one<float>(args, x);
    } else {
      KILN_CHECK(x.param.dtype() == DType::f64, kernel_name(args.kernel),
                 ": parameters must be f32 or f64, got ", x.param.dtype());
      step_one<double>(args, x);
    }
  }
}

void unscale_check(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& inv_scale) {
  KILN_CHECK(found_inf.dtype() == DType::f32 && inv_scale.dtype() == DType::f32,
             "unscale_check: found_inf and inv_scale must be f32, got ", found_inf.dtype(), " and ",
             inv_scale.dtype());
  const float inv = *inv_scale.data<float>();
  bool bad = false;
  for (const Tensor& g : grads) {
    if (g.dtype() == DType::f32) {
      bad = unscale_one(g.data<float>(), g.numel(), inv) || bad;
    } else {
      KILN_CHECK(g.dtype() == DType::f64, "unscale_check: gradients must be f32 or f64, got ", g.dtype());
      bad = unscale_one(g.data<double>(), g.numel(), static_cast<double>(inv)) || bad;
    }
  }
  if (bad) *found_inf.data<float>() = 1.0f;
}

}  // namespace kiln::cpu
