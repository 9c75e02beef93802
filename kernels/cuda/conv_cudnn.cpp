// The table's CUDA conv2d entries: cuDNN (legacy convolution API) for NCHW-contiguous operands where kiln
// is built with it (KILN_WITH_CUDNN), else the im2col + cuBLAS fallback (conv_fallback.cu). cuDNN may
// decline a case (a CUDNN_STATUS_NOT_SUPPORTED* status, dims past its 32-bit limits, a conv_transpose2d whose
// output_padding makes the input larger than the forward formula gives, no algorithm within the
// workspace cap); such a case runs on the fallback, and so does everything while the test switch
// detail::set_conv_fallback_only is on.
//
// Algorithms come from cuDNN's heuristics (cudnnGetConvolution*Algorithm_v7): the first one that succeeds
// and whose workspace fits kMaxWorkspace, cached per pass, geometry, dtype and TF32 setting. The
// workspace comes from the caching allocator. f32 runs with CUDNN_FMA_MATH (no TF32) unless
// kiln::cuda::allow_tf32(); f16/bf16 compute in float. Depends on cuda_kernels.h and cuDNN.
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#if KILN_WITH_CUDNN
#include <cudnn.h>
#endif

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {

namespace {
std::atomic<bool> g_fallback_only{false};
}  // namespace

namespace detail {
bool has_cudnn() {
#if KILN_WITH_CUDNN
  return true;
#else
  return false;
#endif
}
void set_conv_fallback_only(bool on) { g_fallback_only.store(on); }
bool conv_fallback_only() { return g_fallback_only.load(); }

#if KILN_WITH_CUDNN
void throw_cudnn_error(const char* file, int line, const char* op, const char* expr, int status) {
  ::kiln::detail::throw_error(
      file, line,
      ::kiln::detail::cat_message(op, ": cuDNN error ", status, " (",
                                  cudnnGetErrorString(static_cast<cudnnStatus_t>(status)), ") from ", expr));
}
#endif
}  // namespace detail

namespace {

#if KILN_WITH_CUDNN

// The largest workspace an algorithm may ask for; algorithms that need more are skipped.
constexpr size_t kMaxWorkspace = size_t(1) << 30;

enum class Pass : int { forward, backward_data, backward_filter };
const char* pass_name(Pass p) {
  return p == Pass::forward         ? "conv2d"
         : p == Pass::backward_data ? "conv2d_backward_data"
                                    : "conv2d_backward_filter";
}

// cuDNN's element type for a kiln dtype (false: none).
bool cudnn_type(DType t, cudnnDataType_t& out) {
  switch (t) {
    case DType::f32:
      out = CUDNN_DATA_FLOAT;
      return true;
    case DType::f64:
      out = CUDNN_DATA_DOUBLE;
      return true;
    case DType::f16:
      out = CUDNN_DATA_HALF;
      return true;
    case DType::bf16:
      out = CUDNN_DATA_BFLOAT16;
      return true;
    default:
      return false;
  }
}

// cuDNN 9 splits "not supported" into sub-codes (shape, layout, data type, ...): any of them declines.
bool declined(cudnnStatus_t s) { return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED; }

// A cuDNN call that may decline the case: a NOT_SUPPORTED status makes the enclosing function return false
// (the caller then runs the fallback); any other failure throws.
#define KILN_CUDNN_TRY(expr, op)                                                                           \
  do {                                                                                                     \
    cudnnStatus_t kiln_try_ = (expr);                                                                      \
    if (declined(kiln_try_)) return false;                                                                 \
    if (kiln_try_ != CUDNN_STATUS_SUCCESS)                                                                 \
      ::kiln::cuda::detail::throw_cudnn_error(__FILE__, __LINE__, op, #expr, static_cast<int>(kiln_try_)); \
  } while (0)

// Owners of the cuDNN descriptors (destroyed on every path, exceptions included).
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d), "conv2d (cuDNN descriptor)"); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() { KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d), "conv2d (cuDNN descriptor)"); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() { KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d), "conv2d (cuDNN descriptor)"); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
};

// The algorithm chosen for one geometry (supported = false: cuDNN offered none; use the fallback).
struct Choice {
  bool supported = false;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};
using Key = std::array<int64_t, 20>;
std::mutex g_cache_mutex;
std::map<Key, Choice> g_cache;

Key key_of(Pass p, int dev, DType t, bool tf32, const Conv2dArgs& a) {
  return {static_cast<int64_t>(p),
          dev,
          static_cast<int64_t>(t),
          tf32,
          a.n,
          a.c_in,
          a.h,
          a.w,
          a.c_out,
          a.kh,
          a.kw,
          a.h_out,
          a.w_out,
          a.stride_h,
          a.stride_w,
          a.pad_h,
          a.pad_w,
          a.dil_h,
          a.dil_w,
          a.groups};
}

// Whether cuDNN can describe the case at all: every dim non-zero and within int, every operand under 2^31
// elements, and the forward output size formula giving exactly (H_out, W_out) for (H, W).
bool describable(const Conv2dArgs& a) {
  const std::array<int64_t, 14> dims = {a.n,     a.c_in,  a.h,      a.w,        a.c_out,    a.kh,    a.kw,
                                        a.h_out, a.w_out, a.groups, a.stride_h, a.stride_w, a.dil_h, a.dil_w};
  for (int64_t d : dims)
    if (d <= 0 || d > INT32_MAX) return false;
  if (a.pad_h > INT32_MAX || a.pad_w > INT32_MAX) return false;
  const int64_t limit = INT32_MAX;
  if (a.n * a.c_in * a.h * a.w > limit || a.n * a.c_out * a.h_out * a.w_out > limit ||
      a.c_out * (a.c_in / a.groups) * a.kh * a.kw > limit)
    return false;
  const int64_t h_out = (a.h + 2 * a.pad_h - a.dil_h * (a.kh - 1) - 1) / a.stride_h + 1;
  const int64_t w_out = (a.w + 2 * a.pad_w - a.dil_w * (a.kw - 1) - 1) / a.stride_w + 1;
  return h_out == a.h_out && w_out == a.w_out;
}

// Picks the algorithm for `pass` from the _v7 heuristics: the first that succeeds within kMaxWorkspace.
// Returns false (with choice.supported = false) where none does.
bool choose(Pass pass, cudnnHandle_t h, const TensorDesc& xd, const FilterDesc& wd, const ConvDesc& cd,
            const TensorDesc& yd, Choice& choice) {
  const char* op = pass_name(pass);
  choice = Choice{};
  auto pick = [&](const auto& perf, int count) {
    for (int i = 0; i < count; ++i) {
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace) {
        choice.supported = true;
        choice.algo = static_cast<int>(perf[i].algo);
        choice.math = perf[i].mathType;
        return;
      }
    }
  };
  int max_count = 0, count = 0;
  if (pass == Pass::forward) {
    KILN_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count), op);
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(max_count, 1));
    KILN_CUDNN_TRY(
        cudnnGetConvolutionForwardAlgorithm_v7(h, xd.d, wd.d, cd.d, yd.d, max_count, &count, perf.data()),
        op);
    pick(perf, count);
  } else if (pass == Pass::backward_data) {
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count), op);
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(max_count, 1));
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, wd.d, yd.d, cd.d, xd.d, max_count, &count,
                                                               perf.data()),
                   op);
    pick(perf, count);
  } else {
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count), op);
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(max_count, 1));
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, xd.d, yd.d, cd.d, wd.d, max_count, &count,
                                                                 perf.data()),
                   op);
    pick(perf, count);
  }
  return choice.supported;
}

// The workspace the chosen algorithm needs with the descriptor's final math type.
bool workspace_size(Pass pass, cudnnHandle_t h, const TensorDesc& xd, const FilterDesc& wd,
                    const ConvDesc& cd, const TensorDesc& yd, Choice& choice) {
  const char* op = pass_name(pass);
  if (pass == Pass::forward) {
    KILN_CUDNN_TRY(cudnnGetConvolutionForwardWorkspaceSize(
                       h, xd.d, wd.d, cd.d, yd.d, static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                       &choice.workspace),
                   op);
  } else if (pass == Pass::backward_data) {
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardDataWorkspaceSize(
                       h, wd.d, yd.d, cd.d, xd.d, static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                       &choice.workspace),
                   op);
  } else {
    KILN_CUDNN_TRY(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                       h, xd.d, yd.d, cd.d, wd.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                       &choice.workspace),
                   op);
  }
  return true;
}

// Runs `pass` through cuDNN: forward y = conv(x, w) (+ bias), backward_data x = D(y, w), backward_filter
// w = W(x, y); the written operand is fully overwritten. Returns false where cuDNN declines the case.
bool run_cudnn(Pass pass, int dev, const Conv2dArgs& a, const Tensor& x, const Tensor& w, const Tensor& y,
               const Tensor& bias) {
  const char* op = pass_name(pass);
  const DType t = y.dtype();
  cudnnDataType_t type;
  if (!cudnn_type(t, type) || !describable(a)) return false;
  const bool reduced = t == DType::f16 || t == DType::bf16;
  const cudnnDataType_t compute = reduced ? CUDNN_DATA_FLOAT : type;
  const bool tf32 = allow_tf32();
  auto h = static_cast<cudnnHandle_t>(cudnn_handle(dev));
  const auto i32 = [](int64_t v) { return static_cast<int>(v); };

  TensorDesc xd, yd;
  FilterDesc wd;
  ConvDesc cd;
  KILN_CUDNN_TRY(
      cudnnSetTensor4dDescriptor(xd.d, CUDNN_TENSOR_NCHW, type, i32(a.n), i32(a.c_in), i32(a.h), i32(a.w)),
      op);
  KILN_CUDNN_TRY(cudnnSetTensor4dDescriptor(yd.d, CUDNN_TENSOR_NCHW, type, i32(a.n), i32(a.c_out),
                                            i32(a.h_out), i32(a.w_out)),
                 op);
  KILN_CUDNN_TRY(cudnnSetFilter4dDescriptor(wd.d, type, CUDNN_TENSOR_NCHW, i32(a.c_out),
                                            i32(a.c_in / a.groups), i32(a.kh), i32(a.kw)),
                 op);
  KILN_CUDNN_TRY(
      cudnnSetConvolution2dDescriptor(cd.d, i32(a.pad_h), i32(a.pad_w), i32(a.stride_h), i32(a.stride_w),
                                      i32(a.dil_h), i32(a.dil_w), CUDNN_CROSS_CORRELATION, compute),
      op);
  KILN_CUDNN_TRY(cudnnSetConvolutionGroupCount(cd.d, i32(a.groups)), op);
  // The math type asked for: no TF32 for f32 unless allowed; tensor cores for f16/bf16.
  const cudnnMathType_t wanted = t == DType::f32 ? (tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH)
                                 : reduced       ? CUDNN_TENSOR_OP_MATH
                                                 : CUDNN_DEFAULT_MATH;
  KILN_CUDNN_TRY(cudnnSetConvolutionMathType(cd.d, wanted), op);

  const Key key = key_of(pass, dev, t, tf32, a);
  Choice choice;
  bool cached = false;
  {
    std::lock_guard lock(g_cache_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) choice = it->second, cached = true;
  }
  if (cached && !choice.supported) return false;
  if (!cached) {
    const bool found = choose(pass, h, xd, wd, cd, yd, choice);
    if (found) {
      // The algorithm's own math type (cuDNN pairs them), except that f32 without TF32 stays on FMA math.
      if (t == DType::f32 && !tf32) choice.math = CUDNN_FMA_MATH;
      KILN_CUDNN_TRY(cudnnSetConvolutionMathType(cd.d, choice.math), op);
      if (!workspace_size(pass, h, xd, wd, cd, yd, choice) || choice.workspace > kMaxWorkspace)
        choice.supported = false;
    }
    std::lock_guard lock(g_cache_mutex);
    g_cache[key] = choice;
    if (!choice.supported) return false;
  } else {
    KILN_CUDNN_TRY(cudnnSetConvolutionMathType(cd.d, choice.math), op);
  }

  DeviceBuffer workspace(choice.workspace, dev);
  // alpha/beta are float for every type but double (cuDNN's scaling-parameter rule).
  const float alpha_f = 1.0f, beta_f = 0.0f, one_f = 1.0f;
  const double alpha_d = 1.0, beta_d = 0.0, one_d = 1.0;
  const bool dbl = t == DType::f64;
  const void* alpha = dbl ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = dbl ? static_cast<const void*>(&beta_d) : &beta_f;
  cudnnStatus_t s;
  if (pass == Pass::forward) {
    s = cudnnConvolutionForward(h, alpha, xd.d, x.data_ptr(), wd.d, w.data_ptr(), cd.d,
                                static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), workspace.get(),
                                choice.workspace, beta, yd.d, y.data_ptr());
  } else if (pass == Pass::backward_data) {
    s = cudnnConvolutionBackwardData(h, alpha, wd.d, w.data_ptr(), yd.d, y.data_ptr(), cd.d,
                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), workspace.get(),
                                     choice.workspace, beta, xd.d, x.data_ptr());
  } else {
    s = cudnnConvolutionBackwardFilter(h, alpha, xd.d, x.data_ptr(), yd.d, y.data_ptr(), cd.d,
                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                                       workspace.get(), choice.workspace, beta, wd.d, w.data_ptr());
  }
  if (declined(s)) {  // nothing was written; remember, and let the fallback run
    std::lock_guard lock(g_cache_mutex);
    g_cache[key].supported = false;
    return false;
  }
  KILN_CUDNN_CHECK(s, op);
  if (pass == Pass::forward && bias.defined()) {
    TensorDesc bd;
    KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bd.d, CUDNN_TENSOR_NCHW, type, 1, i32(a.c_out), 1, 1), op);
    const void* one = dbl ? static_cast<const void*>(&one_d) : &one_f;
    KILN_CUDNN_CHECK(cudnnAddTensor(h, one, bd.d, bias.data_ptr(), one, yd.d, y.data_ptr()), op);
  }
  return true;
}

#undef KILN_CUDNN_TRY

bool use_cudnn() { return !g_fallback_only.load(); }

#else  // without cuDNN every case runs on the fallback

enum class Pass : int { forward, backward_data, backward_filter };
bool run_cudnn(Pass, int, const Conv2dArgs&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  return false;
}
bool use_cudnn() { return false; }

#endif

void check_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    KILN_ASSERT(!t->defined() || t->is_contiguous(), op, " on CUDA: operands must be contiguous");
}

}  // namespace

void conv2d(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
            const Tensor& out) {
  check_operands("conv2d", {&x, &weight, &bias, &out});
  const int dev = device_of(out, "conv2d");
  DeviceGuard guard(dev);
  if (use_cudnn() && run_cudnn(Pass::forward, dev, a, x, weight, out, bias)) return;
  conv2d_fallback(a, x, weight, out);
  if (bias.defined()) add_channel_bias(out, bias);
}

void conv2d_backward_data(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                          const Tensor& grad_x) {
  check_operands("conv2d_backward_data", {&grad_out, &weight, &grad_x});
  const int dev = device_of(grad_x, "conv2d_backward_data");
  DeviceGuard guard(dev);
  if (use_cudnn() && run_cudnn(Pass::backward_data, dev, a, grad_x, weight, grad_out, Tensor())) return;
  conv2d_backward_data_fallback(a, grad_out, weight, grad_x);
}

void conv2d_backward_filter(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                            const Tensor& grad_weight) {
  check_operands("conv2d_backward_filter", {&x, &grad_out, &grad_weight});
  const int dev = device_of(grad_weight, "conv2d_backward_filter");
  DeviceGuard guard(dev);
  if (use_cudnn() && run_cudnn(Pass::backward_filter, dev, a, x, grad_weight, grad_out, Tensor())) return;
  conv2d_backward_filter_fallback(a, x, grad_out, grad_weight);
}

}  // namespace kiln::cuda
