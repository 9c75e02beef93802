// kiln/kernels/shared/optim_math.h: the element update of every optimizer, written once. The CPU runs each
// functor in a generic loop per tensor (kernels/cpu/optim_step.cpp), CUDA in a generic multi-tensor kernel
// (kernels/cuda/optim.cu); KILN_OPTIM_UPDATES is the one list both backends and OptimKernel are built from.
//
// An update functor Update<T> (T = float or double, the math is done in T):
// - Update(const OptimStepArgs& args, const double* scalar): the group's hyper-parameters and the
//   tensor's per-step scalars (OptimTensor::scalar; their meaning is the functor's own), converted to T
//   once per tensor.
// - static Branches<N> branches(args, scalar): the N choices fixed for a whole tensor (weight decay on,
//   amsgrad, ...). The CPU loop passes them as std::bool_constant, so every branch is decided at compile
//   time and the loop vectorizes; CUDA passes plain bools (a launch mixes tensors whose choices differ).
// - operator()(i, p, g, s0, s1, s2, choices...): updates element i of the parameter p in place, with
//   gradient g and the state buffers s0..s2 (OptimTensor::state; a slot the update does not use under
//   these choices is null and must not be touched).
// The CPU fixtures pin PyTorch 1.13's single-tensor updates bit for bit, so each functor keeps PyTorch's
// order of operations (a + b * c is written as PyTorch's add/addcmul computes it; nvcc may still contract
// a multiply-add, so CUDA agrees to rounding).
#pragma once

#include <cmath>
#include <cstdint>

#include "kiln/kernels/shared/host_device.h"
#include "kiln/tensor/backend.h"

namespace kiln::optim_math {

// The choices an update makes once per tensor.
template <int N>
struct Branches {
  bool on[N];
};

template <class T>
KILN_HOST_DEVICE T root(T x) {
#if defined(__CUDA_ARCH__)
  return ::sqrt(x);
#else
  return std::sqrt(x);
#endif
}

// Maximizing negates the gradient (exact).
template <class T>
KILN_HOST_DEVICE T sign_of(const OptimStepArgs& a) {
  return a.maximize ? T(-1) : T(1);
}

// The exponential moving averages of the gradient and its square that the Adam family shares:
// m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g.
template <class T>
struct Moments {
  T b1, b2, one_b1, one_b2;
  KILN_HOST_DEVICE explicit Moments(const OptimStepArgs& a)
      : b1(static_cast<T>(a.beta1)),
        b2(static_cast<T>(a.beta2)),
        one_b1(static_cast<T>(1.0 - a.beta1)),
        one_b2(static_cast<T>(1.0 - a.beta2)) {}
  KILN_HOST_DEVICE T first(T m, T g) const { return m * b1 + one_b1 * g; }
  KILN_HOST_DEVICE T second(T v, T g) const { return v * b2 + one_b2 * g * g; }
};

// SGD. state: {momentum_buffer (with momentum)}; scalar[0] = 1 on the buffer's first step (buffer = d).
// d = +-g (+ wd * p); buf = first ? d : momentum * buf + (1 - dampening) * d; p -= lr * d'.
template <class T>
struct SgdUpdate {
  T neg_lr, mom, keep, decay, sign;
  KILN_HOST_DEVICE SgdUpdate(const OptimStepArgs& a, const double*)
      : neg_lr(static_cast<T>(-a.lr)),
        mom(static_cast<T>(a.momentum)),
        keep(static_cast<T>(1.0 - a.dampening)),
        decay(static_cast<T>(a.weight_decay)),
        sign(sign_of<T>(a)) {}
  static KILN_HOST_DEVICE Branches<4> branches(const OptimStepArgs& a, const double* s) {
    return {{a.weight_decay != 0.0, a.momentum != 0.0, s[0] != 0.0, a.nesterov}};
  }
  template <class Wd, class Mom, class First, class Nesterov>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* buf, T*, T*, Wd has_wd, Mom has_mom,
                                   First first, Nesterov nesterov) const {
    const T pi = p[i];
    T d = sign * g[i];
    if (has_wd) d = d + decay * pi;
    if (has_mom) {
      const T b = first ? d : buf[i] * mom + keep * d;
      buf[i] = b;
      d = nesterov ? d + mom * b : b;
    }
    p[i] = pi + neg_lr * d;
  }
};

// Adam and AdamW. state: {exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)}; scalar[0] = lr / (1 - beta1^t),
// scalar[1] = sqrt(1 - beta2^t). Decoupled decay shrinks p by 1 - lr * wd (exactly 1 without it).
template <class T>
struct AdamUpdate {
  Moments<T> mo;
  T neg_step, bias2_sqrt, e, l2, keep, sign;
  KILN_HOST_DEVICE AdamUpdate(const OptimStepArgs& a, const double* s)
      : mo(a),
        neg_step(static_cast<T>(-s[0])),
        bias2_sqrt(static_cast<T>(s[1])),
        e(static_cast<T>(a.eps)),
        l2(static_cast<T>(a.weight_decay)),
        keep(a.decoupled ? static_cast<T>(1.0 - a.lr * a.weight_decay) : T(1)),
        sign(sign_of<T>(a)) {}
  static KILN_HOST_DEVICE Branches<2> branches(const OptimStepArgs& a, const double*) {
    return {{!a.decoupled && a.weight_decay != 0.0, a.amsgrad}};
  }
  template <class CoupledWd, class Amsgrad>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* m, T* v, T* vmax, CoupledWd coupled_wd,
                                   Amsgrad amsgrad) const {
    const T p0 = p[i];
    T gi = sign * g[i];
    const T pi = p0 * keep;
    if (coupled_wd) gi = gi + l2 * p0;
    const T mi = mo.first(m[i], gi);
    const T vi = mo.second(v[i], gi);
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (amsgrad) {
      const T prev = vmax[i];
      second = (prev != prev || prev > vi) ? prev : vi;  // torch.maximum: NaN wins
      vmax[i] = second;
    }
    const T denom = root(second) / bias2_sqrt + e;
    p[i] = pi + neg_step * mi / denom;
  }
};

// RMSprop. state: {square_avg, momentum_buffer (momentum > 0), grad_avg (centered)}.
template <class T>
struct RmspropUpdate {
  T a, one_a, e, decay, mom, neg_lr, sign;
  KILN_HOST_DEVICE RmspropUpdate(const OptimStepArgs& o, const double*)
      : a(static_cast<T>(o.alpha)),
        one_a(static_cast<T>(1.0 - o.alpha)),
        e(static_cast<T>(o.eps)),
        decay(static_cast<T>(o.weight_decay)),
        mom(static_cast<T>(o.momentum)),
        neg_lr(static_cast<T>(-o.lr)),
        sign(sign_of<T>(o)) {}
  static KILN_HOST_DEVICE Branches<3> branches(const OptimStepArgs& o, const double*) {
    return {{o.weight_decay != 0.0, o.centered, o.momentum > 0.0}};
  }
  template <class Wd, class Centered, class Mom>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* sq, T* buf, T* ga, Wd has_wd,
                                   Centered centered, Mom has_mom) const {
    const T pi = p[i];
    T gi = sign * g[i];
    if (has_wd) gi = gi + decay * pi;
    const T s = sq[i] * a + one_a * gi * gi;
    sq[i] = s;
    T avg;
    if (centered) {
      const T m = ga[i] * a + one_a * gi;
      ga[i] = m;
      avg = root(s + T(-1) * m * m);
    } else {
      avg = root(s);
    }
    avg = avg + e;
    if (has_mom) {
      const T b = buf[i] * mom + gi / avg;
      buf[i] = b;
      p[i] = pi + neg_lr * b;
    } else {
      p[i] = pi + neg_lr * gi / avg;
    }
  }
};

// Adagrad. state: {sum}; scalar[0] = lr / (1 + (t - 1) lr_decay).
template <class T>
struct AdagradUpdate {
  T neg_clr, e, decay, sign;
  KILN_HOST_DEVICE AdagradUpdate(const OptimStepArgs& a, const double* s)
      : neg_clr(static_cast<T>(-s[0])),
        e(static_cast<T>(a.eps)),
        decay(static_cast<T>(a.weight_decay)),
        sign(sign_of<T>(a)) {}
  static KILN_HOST_DEVICE Branches<1> branches(const OptimStepArgs& a, const double*) {
    return {{a.weight_decay != 0.0}};
  }
  template <class Wd>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* sum, T*, T*, Wd has_wd) const {
    const T pi = p[i];
    T gi = sign * g[i];
    if (has_wd) gi = gi + decay * pi;
    const T s = sum[i] + T(1) * gi * gi;
    sum[i] = s;
    p[i] = pi + neg_clr * gi / (root(s) + e);
  }
};

// NAdam. state: {exp_avg, exp_avg_sq}; scalar[0] = 1 - beta2^t, scalar[1] = the gradient's step,
// scalar[2] = the average's step (both negative).
template <class T>
struct NadamUpdate {
  Moments<T> mo;
  T e, decay, bc2, sg, sm;
  KILN_HOST_DEVICE NadamUpdate(const OptimStepArgs& a, const double* s)
      : mo(a),
        e(static_cast<T>(a.eps)),
        decay(static_cast<T>(a.weight_decay)),
        bc2(static_cast<T>(s[0])),
        sg(static_cast<T>(s[1])),
        sm(static_cast<T>(s[2])) {}
  static KILN_HOST_DEVICE Branches<1> branches(const OptimStepArgs& a, const double*) {
    return {{a.weight_decay != 0.0}};
  }
  template <class Wd>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* m, T* v, T*, Wd has_wd) const {
    const T pi = p[i];
    T gi = g[i];
    if (has_wd) gi = gi + decay * pi;
    const T mi = mo.first(m[i], gi);
    const T vi = mo.second(v[i], gi);
    m[i] = mi;
    v[i] = vi;
    const T denom = root(vi / bc2) + e;
    const T stepped = pi + sg * gi / denom;
    p[i] = stepped + sm * mi / denom;
  }
};

// RAdam. state: {exp_avg, exp_avg_sq}; scalar[0] = 1 - beta1^t, scalar[1] = sqrt(1 - beta2^t),
// scalar[2] = the rectification, scalar[3] = 1 if rho_t > 5 (else a plain momentum step).
template <class T>
struct RadamUpdate {
  Moments<T> mo;
  T e, decay, lr, bc1, bc2_sqrt, r;
  KILN_HOST_DEVICE RadamUpdate(const OptimStepArgs& a, const double* s)
      : mo(a),
        e(static_cast<T>(a.eps)),
        decay(static_cast<T>(a.weight_decay)),
        lr(static_cast<T>(a.lr)),
        bc1(static_cast<T>(s[0])),
        bc2_sqrt(static_cast<T>(s[1])),
        r(static_cast<T>(s[2])) {}
  static KILN_HOST_DEVICE Branches<2> branches(const OptimStepArgs& a, const double* s) {
    return {{a.weight_decay != 0.0, s[3] != 0.0}};
  }
  template <class Wd, class Rectify>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* m, T* v, T*, Wd has_wd,
                                   Rectify rectify) const {
    const T pi = p[i];
    T gi = g[i];
    if (has_wd) gi = gi + decay * pi;
    const T mi = mo.first(m[i], gi);
    const T vi = mo.second(v[i], gi);
    m[i] = mi;
    v[i] = vi;
    const T corrected = mi / bc1;
    const T update = rectify ? corrected * lr * (bc2_sqrt / (root(vi) + e)) * r : corrected * lr;
    p[i] = pi + T(-1) * update;
  }
};

// Adamax. state: {exp_avg, exp_inf}; scalar[0] = lr / (1 - beta1^t).
// u = max(beta2 * u, |g| + eps) (NaN wins, as torch.amax); p -= clr * m / u.
template <class T>
struct AdamaxUpdate {
  Moments<T> mo;
  T e, decay, neg_clr, sign;
  KILN_HOST_DEVICE AdamaxUpdate(const OptimStepArgs& a, const double* s)
      : mo(a),
        e(static_cast<T>(a.eps)),
        decay(static_cast<T>(a.weight_decay)),
        neg_clr(static_cast<T>(-s[0])),
        sign(sign_of<T>(a)) {}
  static KILN_HOST_DEVICE Branches<1> branches(const OptimStepArgs& a, const double*) {
    return {{a.weight_decay != 0.0}};
  }
  template <class Wd>
  KILN_HOST_DEVICE void operator()(int64_t i, T* p, const T* g, T* m, T* u, T*, Wd has_wd) const {
    const T pi = p[i];
    T gi = sign * g[i];
    if (has_wd) gi = gi + decay * pi;
    const T mi = mo.first(m[i], gi);
    m[i] = mi;
    const T decayed = u[i] * mo.b2;
    const T bound = (gi < T(0) ? -gi : gi) + e;
    const T ui = (decayed != decayed || decayed > bound) ? decayed : bound;
    u[i] = ui;
    p[i] = pi + neg_clr * mi / ui;
  }
};

}  // namespace kiln::optim_math

// Every update, as X(kernel, Functor): OptimKernel's values and both backends' dispatch come from this
// list, so an optimizer's update is added here and nowhere else in kernels/.
#define KILN_OPTIM_UPDATES(X) \
  X(sgd, SgdUpdate)           \
  X(adam, AdamUpdate)         \
  X(rmsprop, RmspropUpdate)   \
  X(adagrad, AdagradUpdate)   \
  X(nadam, NadamUpdate)       \
  X(radam, RadamUpdate)       \
  X(adamax, AdamaxUpdate)

namespace kiln {

// The kernel codes of the optimizer-step family (declared in tensor/backend.h): one per update, then
// GradScaler's unscale_check.
#define KILN_OPTIM_KERNEL_CODE(kernel, Functor) kernel,
enum class OptimKernel : uint8_t { KILN_OPTIM_UPDATES(KILN_OPTIM_KERNEL_CODE) unscale };
#undef KILN_OPTIM_KERNEL_CODE

inline const char* kernel_name(OptimKernel k) {
#define KILN_OPTIM_KERNEL_NAME(kernel, Functor) #kernel "_step",
  constexpr const char* names[] = {KILN_OPTIM_UPDATES(KILN_OPTIM_KERNEL_NAME) "unscale_check"};
#undef KILN_OPTIM_KERNEL_NAME
  return names[static_cast<int>(k)];
}

}  // namespace kiln
