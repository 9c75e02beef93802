// kiln/autograd/autocast.h: automatic mixed precision, torch.autocast's scope. Inside
//   kiln::autocast::Guard guard(Device::cuda());          // f16 on CUDA; Device::cpu() defaults to bf16
// ops on that device type choose their own precision:
//   - lower precision (the scope's dtype): matmul, linear, conv1d, conv2d, conv_transpose2d. Their f32
//     (and f16/bf16) floating inputs are cast to the low dtype; f64 and integer inputs are left alone.
//     Casts of parameters (leaves that require grad) are cached for the outermost scope, so a weight used
//     twice is converted once.
//   - f32: softmax, log_softmax, the losses, batch_norm, layer_norm, group_norm, sum, mean, exp, log. Their
//     f16/bf16 inputs are cast up to f32, so they return f32.
//   - everything else runs in its inputs' dtype; binary ops with mixed floating dtypes promote to the wider
//     one (PyTorch's type promotion), so an f32 residual plus a bf16 product gives f32.
// The casts are ordinary recorded `cast` ops: gradients flow back through them, so the f32 master
// parameters receive f32 gradients. Scopes nest (an inner Guard can change the dtype or disable autocast;
// the outer state returns when it ends) and are per thread; CPU and CUDA have separate states, like
// PyTorch's. Depends on tensor/ (the op hooks live in autograd/ops/).
#pragma once

#include <initializer_list>
#include <optional>

#include "kiln/tensor/tensor.h"

namespace kiln::autocast {

// The default low dtype of a device type: f16 on CUDA, bf16 on the CPU (torch.autocast's defaults).
DType default_dtype(DeviceType type);

class Guard {
 public:
  // dtype must be f16 or bf16 (a kiln::Error otherwise). enabled = false turns autocast off for the scope.
  explicit Guard(Device device, std::optional<DType> dtype = std::nullopt, bool enabled = true);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  DeviceType type_;
  bool prev_enabled_;
  DType prev_dtype_;
};

// Whether autocast is on for `type` in this thread, and its low dtype (torch.is_autocast_enabled,
// torch.get_autocast_dtype).
bool is_enabled(DeviceType type);
DType dtype(DeviceType type);
// How many converted parameters the current scopes hold (for tests).
size_t cache_size();

// ---- for op implementations (autograd/ops, nn losses) ----
// Whether an op in the lower-precision list must recast: autocast is on for the inputs' device and some
// defined f32/f16/bf16 input is not in the low dtype yet.
bool needs_lower(std::initializer_list<const Tensor*> ts);
// x cast to the low dtype (x itself when undefined, not eligible, or already there); cached for parameters.
Tensor lower(const Tensor& x);
// Whether an op in the f32 list must recast: autocast is on and some defined input is f16/bf16.
bool needs_f32(std::initializer_list<const Tensor*> ts);
// x cast to f32 when it is f16/bf16 (x itself otherwise).
Tensor upper(const Tensor& x);

}  // namespace kiln::autocast
