// CPU optimizer steps (backend.h, family 'p'): each update functor of kernels/shared/optim_math.h run by
// one generic fused loop per parameter (PyTorch 1.13's single-tensor order of operations, so f64
// trajectories agree with PyTorch's to rounding and the CPU fixtures pass bit-for-bit), and GradScaler's
// unscale-and-check. Each element is independent, so results do not depend on the thread count.
// Depends on OpenMP.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/shared/optim_math.h"
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

// Calls f(std::bool_constant<...>...) with one constant per choice of b, so that the update loop branches
// at compile time: a branch on a runtime flag inside a loop keeps the compiler from vectorizing it.
template <int N, int K = 0, class F, class... Chosen>
void with_branches(const optim_math::Branches<N>& b, F&& f, Chosen... chosen) {
  if constexpr (K == N) {
    f(chosen...);
  } else if (b.on[K]) {
    with_branches<N, K + 1>(b, f, chosen..., std::true_type{});
  } else {
    with_branches<N, K + 1>(b, f, chosen..., std::false_type{});
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The generic loop: one update functor (optim_math.h) over every element of one tensor.
template <template <class> class Update, class T>
void run_update(const OptimStepArgs& a, const OptimTensor& x) {
  const Update<T> update(a, x.scalar);
  T* p_ = ptr<T>(x.param);
  const T* g_ = ptr<T>(x.grad);
  T *s0_ = ptr<T>(x.state[0]), *s1_ = ptr<T>(x.state[1]), *s2_ = ptr<T>(x.state[2]);
  with_branches(Update<T>::branches(a, x.scalar), [&](auto... choice) {
    parallel_range(x.param.numel(), [&](int64_t begin, int64_t end) {
      const Update<T> op = update;  // a local copy keeps the constants in registers
      T* KILN_RESTRICT p = p_;
      const T* KILN_RESTRICT g = g_;
      T* KILN_RESTRICT s0 = s0_;
      T* KILN_RESTRICT s1 = s1_;
      T* KILN_RESTRICT s2 = s2_;
      for (int64_t i = begin; i < end; ++i) op(i, p, g, s0, s1, s2, choice...);
    });
  });
}

template <class T>
void step_one(const OptimStepArgs& a, const OptimTensor& x) {
  switch (a.kernel) {
#define KILN_OPTIM_CASE(kernel, Functor) \
  case OptimKernel::kernel:              \
    return run_update<optim_math::Functor, T>(a, x);
    KILN_OPTIM_UPDATES(KILN_OPTIM_CASE)
#undef KILN_OPTIM_CASE
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
