// kiln/optim/update.h: internal helpers for the optimizers' per-parameter update loops (not part of the
// public API; the concrete optimizers' .cpp files include it). The updates are tight loops over
// contiguous f32/f64 data, one pass per parameter, split over the OpenMP team for large tensors: each
// element is independent, so results do not depend on the thread count. Depends on tensor.h and OpenMP.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kiln/optim/optimizer.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/tensor.h"

// Pointers that do not alias within one loop (each element is read before it is written, so even a
// gradient that shares storage with its parameter would be updated correctly).
#define KILN_RESTRICT __restrict__

namespace kiln::optim::detail {

// Runs body(begin, end) over [0, n) split into one contiguous range per thread.
template <class Body>
void parallel_range(int64_t n, const Body& body) {
  constexpr int64_t kGrain = 1 << 15;  // below this a team costs more than it saves
  if (n <= kGrain || omp_get_max_threads() == 1) {
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

// A contiguous working copy of a parameter when it is a strided view; writes back on commit(). Modules
// hold contiguous parameters, so the copy is the rare case.
class ParamData {
 public:
  explicit ParamData(const Tensor& param)
      : param_(param), work_(param.is_contiguous() ? param : param.detach().contiguous()) {}
  template <class T>
  T* data() const {
    return work_.data<T>();
  }
  void commit() {
    if (work_.impl() != param_.impl()) param_.detach().copy_(work_);
    param_.storage()->bump_version();
  }

 private:
  Tensor param_;
  Tensor work_;
};

// Calls f.template operator()<T>() with T = float or double according to dtype.
template <class F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  if (dtype == DType::f32) {
    f.template operator()<float>();
  } else if (dtype == DType::f64) {
    f.template operator()<double>();
  } else {
    KILN_CHECK(false, op, ": parameters must be f32 or f64, got ", dtype);
  }
}

// The checks shared by the Adam family (Adam, AdamW, NAdam, RAdam): lr, eps, weight_decay >= 0 and betas in
// [0, 1); kiln::Error naming `optimizer`, the option and its value. Defined in adam.cpp.
void check_adam_options(const char* optimizer, const GroupOptions& o);

}  // namespace kiln::optim::detail
