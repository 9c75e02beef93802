// kiln/tensor/backend.h: the kernel table. One plain struct of function pointers per device type, filled
// by kernels/<device>/ at static-initialization time and called by autograd ops and by tensor/ copies.
// Ops never call a kernel directly, only through backend(device). A backend that lacks a kernel for a
// dtype says so through supports(kind, dtype); callers check it with check_supported(), which throws the
// one "not supported" kiln::Error.
//
// The table is declared once: kernel_type:: below gives each slot's function type and contract, and
// KILN_KERNEL_SLOTS / KILN_KERNEL_FAMILIES list the slots. From those lists come the Backend struct, each
// backend's declarations (KILN_DECLARE_BACKEND_KERNELS) and each backend's table (KILN_BACKEND_TABLE), so
// a backend cannot fill a slot out of order or forget one, and register_backend() checks that none is null.
//
// Kernel contracts: tensors arrive with validated shapes and a common device; outputs are allocated by
// the caller; inputs may be strided views (stride 0 where broadcast) unless a kernel says "contiguous".
// Depends on tensor.h and activation.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor/activation.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// Turns an X-macro list of names into enumerators / string literals.
#define KILN_ENUMERATOR(name) name,
#define KILN_NAME_STRING(name) #name,

// Elementwise unary kernels: out = f(in) (same dtype), with one scalar parameter `alpha` where noted.
// clang-format off
#define KILN_UNARY_KERNELS(X)                                                                   \
  X(neg) X(abs) X(sign) X(exp) X(log) X(log1p) X(sqrt) X(rsqrt) X(square) X(sin) X(cos) X(tanh) \
  X(sigmoid) X(relu) X(leaky_relu) /* alpha = negative slope */ X(gelu) X(silu) X(softplus)     \
  X(erf) X(reciprocal) X(logical_not)
// clang-format on
enum class UnaryKernel : uint8_t { KILN_UNARY_KERNELS(KILN_ENUMERATOR) };
const char* kernel_name(UnaryKernel k);

// Elementwise binary kernels over broadcast views: out = f(a, b). Comparisons and logical ops write bool.
// clang-format off
#define KILN_BINARY_KERNELS(X)                                                              \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt)    \
  X(ge) X(logical_and) X(logical_or)
// clang-format on
enum class BinaryKernel : uint8_t { KILN_BINARY_KERNELS(KILN_ENUMERATOR) };
const char* kernel_name(BinaryKernel k);
constexpr bool writes_bool(BinaryKernel k) { return k >= BinaryKernel::eq; }

// Reductions over the middle axis of a contiguous (O, R, I) view: out[o, i] = reduce_r in[o, r, i].
// argmax/argmin write i64 indices in [0, R); max/min also write indices when `indices` is defined.
enum class ReduceKernel : uint8_t { sum, max, min, argmax, argmin };
const char* kernel_name(ReduceKernel k);

enum class RandomKernel : uint8_t { uniform, normal, bernoulli, randint };
const char* kernel_name(RandomKernel k);

// The kinds a support query names for the families with one rule for all their kernels.
enum class GemmKernel : uint8_t { gemm };
enum class ConvKernel : uint8_t { conv2d, max_pool2d };  // convolution (both backwards) and max pooling
enum class BatchNormKernel : uint8_t { forward, backward };
// The fused kernels: softmax, softmax + cross-entropy, bias + activation (each with its backward).
enum class FusedKernel : uint8_t { softmax, cross_entropy, bias_act };

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b], row-major, op = transpose when trans_*.
// A is M x K after op, B is K x N after op; ld* are row strides; batch strides in elements.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  double alpha = 1.0, beta = 0.0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  DType dtype = DType::f32;
};

// Geometry of a 2-D convolution: x (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW),
// out (N, C_out, H_out, W_out), where H_out = (H + 2 pad_h - dil_h (kH - 1) - 1) / stride_h + 1 (the caller
// may pass a larger H than that formula inverts to, as conv_transpose2d's output_padding does).
struct Conv2dArgs {
  int64_t n = 0, c_in = 0, h = 0, w = 0, c_out = 0, kh = 0, kw = 0, h_out = 0, w_out = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

// Geometry of a 2-D max pool over the planes of x (N, C, H, W) -> out (N, C, H_out, W_out); padding is
// -infinity. The caller computes H_out/W_out (ceil_mode lives there).
struct Pool2dArgs {
  int64_t n = 0, c = 0, h = 0, w = 0, kh = 0, kw = 0, h_out = 0, w_out = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
};

// ---- Optimizer steps (supports(OptimKernel, dtype); used by optim/ and optim::GradScaler) ----
// One optim_step call updates a list of parameters of ONE dtype on this device with one group's
// hyper-parameters: the CPU runs one fused loop per tensor (PyTorch 1.13's single-tensor update, in its
// order of operations), CUDA one launch over all the tensors (a multi-tensor apply). Step-dependent
// values (bias corrections, step sizes) are computed on the host per tensor and passed as scalars, so no
// step reads the device. The codes, and each update's state slots and scalars, are defined with the
// element updates themselves (kernels/shared/optim_math.h).
enum class OptimKernel : uint8_t;
// A group's hyper-parameters; each kernel reads its own (PyTorch's names and meanings).
struct OptimStepArgs {
  OptimKernel kernel{};
  double lr = 0.0, beta1 = 0.0, beta2 = 0.0, eps = 0.0, weight_decay = 0.0;
  double momentum = 0.0, dampening = 0.0, alpha = 0.0;
  bool amsgrad = false, maximize = false, decoupled = false, nesterov = false, centered = false;
};
// One parameter of a step: param, grad and the state buffers contiguous, of one dtype and device; state
// slots the kernel (or its options) does not use are undefined.
struct OptimTensor {
  Tensor param, grad;
  Tensor state[3];
  double scalar[4] = {0.0, 0.0, 0.0, 0.0};
};
// An index range check (Backend::check_index): every value must lie in [lo, hi), or equal `allowed` when
// has_allowed (cross-entropy's ignore_index). op and what name the check in the message
// "<op>: index V is out of range for <what> <hi - lo> (valid: lo to hi - 1[ or allowed])"; `detail`, when
// set, replaces the parenthesis on the CPU (a device check outlives the call, so it keeps only op/what).
struct IndexCheck {
  const char* op = "";
  const char* what = "a dimension of size";
  int64_t lo = 0, hi = 0;
  bool has_allowed = false;
  int64_t allowed = 0;
  const char* detail = nullptr;
};
std::string index_range_message(const IndexCheck& check, int64_t value);

// The function type of each slot of the table, with its contract.
namespace kernel_type {
using unary = void(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha);
using binary = void(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out);
// out = cond ? a : b, all three broadcast to out's shape; cond is bool.
using where = void(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
// in: contiguous (O, R, I); out: contiguous (O, I); indices: (O, I) i64 or undefined.
using reduce = void(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices);
using gemm = void(const GemmArgs& args);
// dst = src converted to dst's dtype; src already broadcast (expanded) to dst's shape. Either side may
// be on the CPU while the other is on this backend's device (host <-> device transfers).
using copy = void(const Tensor& src, const Tensor& dst);
using fill = void(const Tensor& dst, double value);
// out[..., j, ...] = src[..., index[j], ...] along dim; index 1-D i64 with values checked by the caller.
using index_select = void(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
// out[i][j][k] = src[i][index[i][j][k]][k] for dim 1 (and likewise for any dim); out has index's shape.
using gather = void(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
// dst[i][index[i][j][k]][k] += src[i][j][k] (dim 1), in place; index and src share a shape.
using scatter_add = void(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
// Fills contiguous `out` from the counter-based stream (seed, offset): element e uses counter
// offset + e / 2 (see tensor/random.h), so the values do not depend on threads or on the device.
using random = void(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b);
// Convolution and pooling (ConvKernel): contiguous operands of one floating dtype, shapes per Conv2dArgs /
// Pool2dArgs, outputs fully overwritten. conv2d: out = x (*) weight + bias, where bias (C_out) may be
// undefined. conv2d_backward_data: grad_x = the gradient of sum(out * grad_out) with respect to x (the
// transposed convolution). conv2d_backward_filter: grad_weight likewise with respect to weight.
using conv2d = void(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& out);
using conv2d_backward_data = void(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                                  const Tensor& grad_x);
using conv2d_backward_filter = void(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                    const Tensor& grad_weight);
// max_pool2d writes out and i64 indices (N, C, H_out, W_out): the flat position h * W + w of each maximum
// within its input plane (PyTorch's convention; a NaN wins). The backward adds grad_out into grad_x at
// those positions (grad_x is overwritten, not accumulated into).
using max_pool2d = void(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices);
using max_pool2d_backward = void(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                                 const Tensor& grad_x);
// The fused kernels (FusedKernel): floating dtypes; every operand contiguous; outputs fully overwritten.
// softmax: in, out (O, R, I); out = softmax over R (log_softmax when `log`), max-subtracted.
using softmax = void(const Tensor& in, const Tensor& out, bool log);
// cross_entropy: logits (O, K, I), target (O, I) i64 with every value in [0, K) or ignore_index (the
// caller checks), weight (K) or undefined (all ones). With the target distribution
// T_k = (1 - eps) w[t] [k == t] + eps / K w[k] (eps = label_smoothing; T = 0 where t == ignore_index),
// loss[o, i] = sum_k T_k (lse - x_k) and lse[o, i] = logsumexp_k x_k (saved for the backward), f64 for
// every logits dtype: x - lse must keep the input's precision when the logits are large.
using cross_entropy = void(const Tensor& logits, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, double label_smoothing, const Tensor& loss,
                           const Tensor& lse);
// grad_logits (O, K, I) = grad_loss[o, i] (softmax_k sum_j T_j - T_k), softmax from the saved lse.
using cross_entropy_backward = void(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                    int64_t ignore_index, double label_smoothing, const Tensor& lse,
                                    const Tensor& grad_loss, const Tensor& grad_logits);
// bias_act: x (N, D), bias (D), out (N, D) = act(x + bias); alpha is leaky_relu's negative slope.
using bias_act = void(Activation act, double alpha, const Tensor& x, const Tensor& bias, const Tensor& out);
// grad_z (N, D) = grad_out * act'(x + bias). Reads `out` when !reads_input(act) (x and bias may be
// undefined) and x + bias otherwise (out may be undefined).
using bias_act_backward = void(Activation act, double alpha, const Tensor& grad_out, const Tensor& x,
                               const Tensor& bias, const Tensor& out, const Tensor& grad_z);
// Batch normalization (BatchNormKernel).
// x, out, grad_out, grad_x: contiguous (N, C, *) of one floating dtype, viewed as (N, C, S) with S the
// product of the trailing dims; statistics are per channel over M = N S values. The per-channel tensors
// (C) are contiguous, of x's dtype; weight, bias, running_mean and running_var may be undefined
// (weight 1, bias 0, no running statistics).
// batch_norm_forward, training: save_mean = the batch mean, save_invstd = 1 / sqrt(biased var + eps);
//   running_mean / running_var, when defined, become (1 - momentum) running + momentum stat in place,
//   with the unbiased variance (M / (M - 1) times the biased one; the caller ensures M > 1).
//   !training: save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps) (both defined).
//   Then out = (x - save_mean) save_invstd weight + bias.
// batch_norm_backward, with xhat = (x - save_mean) save_invstd and sums over N and S per channel:
//   grad_bias = sum(g), grad_weight = sum(g xhat), and grad_x = weight save_invstd (g - sum(g) / M -
//   xhat sum(g xhat) / M) in training (the batch statistics move with x), weight save_invstd g
//   otherwise. Any of grad_x, grad_weight, grad_bias may be undefined (not needed); all are overwritten.
using batch_norm_forward = void(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& running_mean, const Tensor& running_var, bool training,
                                double momentum, double eps, const Tensor& out, const Tensor& save_mean,
                                const Tensor& save_invstd);
using batch_norm_backward = void(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                 const Tensor& save_mean, const Tensor& save_invstd, bool training,
                                 const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
// CUDA Graph capture and pinned host staging.
// Whether work for device `index` of this type is being captured into a CUDA Graph now; while it is,
// nothing may read a value on the host (a check that scans values must be skipped or done on the
// device). The CPU: never.
using is_capturing = bool(int index);
// A copy of CPU tensor t in page-locked host memory, from which copies to this backend's device run
// asynchronously (cuda::pin_memory; the DataLoader's pin_memory option). The CPU table returns t.
using pin_memory = Tensor(const Tensor& t);
// Optimizer steps (OptimKernel above).
using optim_step = void(const OptimStepArgs& args, const std::vector<OptimTensor>& tensors);
// GradScaler's unscale: every grad (contiguous, f32 or f64) *= inv_scale, and found_inf is set to 1 when
// any element of any grad is inf or NaN (left as is otherwise). inv_scale and found_inf are f32 0-d
// tensors on this device, read and written there (no host synchronization).
using unscale_check = void(const std::vector<Tensor>& grads, const Tensor& found_inf,
                           const Tensor& inv_scale);
// Index validation without a host synchronization, and device-built ranges.
// Checks that every value of i64 `index` lies in [check.lo, check.hi) (or equals check.allowed). The CPU
// scans now and throws kiln::Error with index_range_message(); CUDA queues a check kernel that records
// the first bad value in the device's error word, and the next synchronization of that device (item(),
// to(cpu), cuda::synchronize) throws the same message, marked as detected there, and clears it.
using check_index = void(const Tensor& index, const IndexCheck& check);
// out[i] = start + i * step computed in double and converted to out's dtype (contiguous out), so every
// device writes the values arange builds on the host.
using arange = void(const Tensor& out, double start, double step);
}  // namespace kernel_type

// Every kernel slot, in table order.
// clang-format off
#define KILN_KERNEL_SLOTS(X)                                                                             \
  X(unary) X(binary) X(where) X(reduce) X(gemm) X(copy) X(fill) X(index_select) X(gather) X(scatter_add) \
  X(random) X(conv2d) X(conv2d_backward_data) X(conv2d_backward_filter) X(max_pool2d)                    \
  X(max_pool2d_backward) X(softmax) X(cross_entropy) X(cross_entropy_backward) X(bias_act)               \
  X(bias_act_backward) X(batch_norm_forward) X(batch_norm_backward) X(is_capturing) X(pin_memory)        \
  X(optim_step) X(unscale_check) X(check_index) X(arange)
// Every kind of support query: X(kind enum, family). Backend::supports(Kind k, DType t) calls the table's
// supports_<family>; copy, fill, where and the index kernels take every dtype, so they have no query.
#define KILN_KERNEL_FAMILIES(X)                                                                        \
  X(UnaryKernel, unary) X(BinaryKernel, binary) X(ReduceKernel, reduce) X(RandomKernel, random)        \
  X(GemmKernel, gemm) X(ConvKernel, conv) X(FusedKernel, fused) X(BatchNormKernel, batch_norm)         \
  X(OptimKernel, optim)
// clang-format on

struct Backend {
  const char* name = nullptr;
#define KILN_X(slot) kernel_type::slot* slot = nullptr;
  KILN_KERNEL_SLOTS(KILN_X)
#undef KILN_X
#define KILN_X(Kind, family)                            \
  bool (*supports_##family)(Kind k, DType t) = nullptr; \
  bool supports(Kind k, DType t) const { return supports_##family(k, t); }
  KILN_KERNEL_FAMILIES(KILN_X)
#undef KILN_X
};

// In a backend's namespace: declares its function for every slot, named as the slot, of the slot's type.
#define KILN_DECLARE_KERNEL(slot) ::kiln::kernel_type::slot slot;
#define KILN_DECLARE_BACKEND_KERNELS() KILN_KERNEL_SLOTS(KILN_DECLARE_KERNEL)
// In the same namespace: the table of those functions, in slot order, with the support query
// supports_<family>(Kind, DType) that unqualified lookup finds from there: the backend's own where it
// defines one, else the rule both backends share (kernels/shared/dtype_support.h, namespace kiln).
#define KILN_TABLE_ENTRY(slot) &slot,
#define KILN_TABLE_SUPPORTS(Kind, family) &supports_##family,
#define KILN_BACKEND_TABLE(device_name)                                                        \
  ::kiln::Backend {                                                                            \
    device_name, KILN_KERNEL_SLOTS(KILN_TABLE_ENTRY) KILN_KERNEL_FAMILIES(KILN_TABLE_SUPPORTS) \
  }

// The table for a device; throws kiln::Error when no backend for it is linked in.
const Backend& backend(Device device);
bool has_backend(DeviceType type);
// Installs `table` for `type`; throws kiln::Error naming the backend and the slot when a slot is null.
void register_backend(DeviceType type, const Backend* table);

// The one "not supported" error: "<op>: not supported on <device> for <dtype>", then `context` (for
// example the input's shape), reported at the caller's file and line (__builtin_FILE / __builtin_LINE rather
// than std::source_location, which the clang that builds the fuzzers lacks).
[[noreturn]] void throw_unsupported(const char* op, Device device, DType dtype,
                                    const std::string& context = {}, const char* file = __builtin_FILE(),
                                    int line = __builtin_LINE());
// Throws that error unless backend(device) has kernel `k` for `dtype`.
template <class Kind>
void check_supported(Kind k, DType dtype, Device device, const char* op, const char* file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
  if (!backend(device).supports(k, dtype)) [[unlikely]]
    throw_unsupported(op, device, dtype, {}, file, line);
}

}  // namespace kiln
