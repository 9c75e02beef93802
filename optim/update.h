// kiln/optim/update.h: internal helpers for the optimizers' per-parameter update loops (not part of the
// public API; the concrete optimizers' .cpp files include it). The updates themselves are kernel-table
// entries (tensor/backend.h, family 'p'; CPU loops in kernels/cpu/optim_step.cpp, CUDA multi-tensor
// kernels in kernels/cuda/optim.cu); StepBatch feeds them. Depends on tensor.h, backend.h and OpenMP.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kernels/shared/optim_math.h"
#include "kiln/optim/optimizer.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/tensor.h"

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

// A contiguous working copy of a parameter when it is a strided view; writes back on commit(). Modules
// hold contiguous parameters, so the copy is the rare case.
class ParamData {
 public:
  explicit ParamData(const Tensor& param)
      : param_(param), work_(param.is_contiguous() ? param : param.detach().contiguous()) {}
  const Tensor& work() const { return work_; }
  void commit() {
    if (work_.impl() != param_.impl()) param_.detach().copy_(work_);
    param_.storage()->bump_version();
  }

 private:
  Tensor param_;
  Tensor work_;
};

// One group's step over its parameters through the kernel table (backend.h, OptimKernel): add() each
// parameter that has a gradient, fill the returned entry's state and scalars, then run(). The kernels run
// on each parameter's own device, one call per (device, dtype) in order of first appearance.
class StepBatch {
 public:
  // The entry of `param` (a contiguous working copy of it) with `grad`; valid until the next add().
  OptimTensor& add(const Tensor& param, const Tensor& grad);
  // Runs the kernel and writes the parameters back; kiln::Error naming `op` where a device lacks it.
  void run(const OptimStepArgs& args, const char* op);

 private:
  std::vector<ParamData> data_;
  std::vector<OptimTensor> tensors_;
};

// Throws kiln::Error naming `op` unless backend b has optimizer kernel k for dtype; the one place optim/
// asks a backend what it supports.
void require_kernel(const Backend& b, OptimKernel k, DType dtype, const char* op);

// A zero buffer shaped like `param`, of its dtype, on its device (optimizer state).
inline Tensor zeros_for(const Tensor& param) {
  return zeros(param.shape(), {.dtype = param.dtype(), .device = param.device()});
}

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

// lr, beta1, beta2, eps and weight_decay as the Adam family (Adam, AdamW, NAdam, RAdam, Adamax) declares
// them. Defined in adam.cpp.
std::vector<Hyperparameter> adam_hyperparameters(double lr, std::array<double, 2> betas, double eps,
                                                 double weight_decay);

}  // namespace kiln::optim::detail
