// kiln/classic/tensor_convert.h: dtype conversion for classic/ without autograd. classic/ depends on
// tensor/ and data/ only (docs/ARCHITECTURE.md, "Layers"), and Tensor::to / contiguous are autograd ops, so
// estimators convert through the tensor layer's copy_ (which casts) instead. Depends on tensor.h.
#pragma once

#include "kiln/tensor/error.h"
#include "kiln/tensor/tensor.h"

namespace kiln::classic {

// A contiguous CPU copy of t in `dtype` (t itself when it already is one). classic/ computes on the CPU:
// a tensor on another device is an error naming `who`.
inline Tensor cpu_contiguous_as(const Tensor& t, DType dtype, const char* who = "classic") {
  KILN_CHECK(t.device().is_cpu(), who, ": expects CPU tensors, got one on ", t.device(),
             " (move it with .to(Device::cpu()) first)");
  if (t.dtype() == dtype && t.is_contiguous()) return t;
  Tensor out = empty(t.shape(), {.dtype = dtype});
  out.copy_(t);
  return out;
}

}  // namespace kiln::classic
