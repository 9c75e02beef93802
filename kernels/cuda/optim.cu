// CUDA optimizer steps and GradScaler's unscale-and-check (backend.h, family 'p') as multi-tensor kernels:
// ONE launch updates every tensor of a call. The host writes a small argument buffer (one TensorArgs per
// tensor: data pointers, size, per-tensor scalars; then one ChunkArgs per kChunk-element slice of a
// tensor), copies it to a device buffer from the caching allocator on the device's stream, and each block
// walks chunks with a grid-stride loop. Kernels are templates on the element type T with math in Acc
// (float for f16/bf16, else T itself); f32 and f64 are dispatched. The update formulas are the CPU loops'
// (kernels/cpu/optim_step.cpp), operation for operation. Depends on cuda_kernels.h.
#include <cstring>
#include <vector>

#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/tensor/error.h"

namespace kiln::cuda {
namespace {

constexpr int kOperands = 5;                  // param (or grad), grad, three state buffers
constexpr int64_t kChunk = int64_t{1} << 16;  // elements per chunk (a block's unit of work)
constexpr int kStepThreads = 256;
constexpr int64_t kMaxBlocks = 4096;  // more chunks than this loop inside the blocks

// One tensor of a launch. ptr: param, grad, state[0..2] for the steps; grad alone for unscale.
struct TensorArgs {
  void* ptr[kOperands];
  int64_t numel;
  double scalar[4];
};
struct ChunkArgs {
  int64_t tensor;
  int64_t start;
};

template <class T>
struct AccType {
  using type = T;
};
template <class T>
using Acc = typename AccType<T>::type;

template <class T>
__device__ T* at(const TensorArgs& t, int k) {
  return static_cast<T*>(t.ptr[k]);
}

template <class Op>
__global__ void multi_tensor_kernel(const TensorArgs* tensors, const ChunkArgs* chunks, int64_t num_chunks,
                                    Op op) {
  for (int64_t c = blockIdx.x; c < num_chunks; c += gridDim.x) {
    const ChunkArgs ch = chunks[c];
    const TensorArgs& t = tensors[ch.tensor];
    const int64_t end = ch.start + kChunk < t.numel ? ch.start + kChunk : t.numel;
    for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) op(t, i);
  }
}

// Uploads the argument buffer and runs op over every element of every tensor in one launch.
template <class Op>
void launch_multi_tensor(const char* name, int dev, const std::vector<TensorArgs>& tensors, const Op& op) {
  std::vector<ChunkArgs> chunks;
  for (size_t k = 0; k < tensors.size(); ++k)
    for (int64_t start = 0; start < tensors[k].numel; start += kChunk)
      chunks.push_back({static_cast<int64_t>(k), start});
  if (chunks.empty()) return;
  const size_t tensor_bytes = tensors.size() * sizeof(TensorArgs);
  const size_t chunk_bytes = chunks.size() * sizeof(ChunkArgs);
  std::vector<char> host(tensor_bytes + chunk_bytes);
  std::memcpy(host.data(), tensors.data(), tensor_bytes);
  std::memcpy(host.data() + tensor_bytes, chunks.data(), chunk_bytes);
  DeviceGuard guard(dev);
  // Freed back to the cache on return; the next user of the block runs after this kernel on the same
  // stream. From pageable memory the copy returns once the bytes are staged, so `host` may die here.
  DeviceBuffer buffer(host.size(), dev);
  KILN_CUDA_CHECK(
      cudaMemcpyAsync(buffer.get(), host.data(), host.size(), cudaMemcpyHostToDevice, stream(dev)), name);
  auto* base = static_cast<char*>(buffer.get());
  const auto num_chunks = static_cast<int64_t>(chunks.size());
  const auto blocks = static_cast<unsigned>(num_chunks < kMaxBlocks ? num_chunks : kMaxBlocks);
  multi_tensor_kernel<<<blocks, kStepThreads, 0, stream(dev)>>>(
      reinterpret_cast<const TensorArgs*>(base), reinterpret_cast<const ChunkArgs*>(base + tensor_bytes),
      num_chunks, op);
  KILN_CUDA_CHECK_LAUNCH(name);
}

// ---- the update rules (each mirrors its CPU loop) ----

template <class T>
struct SgdOp {
  using A = Acc<T>;
  A neg_lr, mom, keep, decay, sign;
  bool has_wd, has_mom, nesterov;
  explicit SgdOp(const OptimStepArgs& a)
      : neg_lr(static_cast<A>(-a.lr)),
        mom(static_cast<A>(a.momentum)),
        keep(static_cast<A>(1.0 - a.dampening)),
        decay(static_cast<A>(a.weight_decay)),
        sign(a.maximize ? A(-1) : A(1)),
        has_wd(a.weight_decay != 0.0),
        has_mom(a.momentum != 0.0),
        nesterov(a.nesterov) {}
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T* buf = at<T>(t, 2);
    const A pi = static_cast<A>(p[i]);
    A d = sign * static_cast<A>(g[i]);
    if (has_wd) d = d + decay * pi;
    if (has_mom) {
      const A b = t.scalar[0] != 0.0 ? d : static_cast<A>(buf[i]) * mom + keep * d;
      buf[i] = static_cast<T>(b);
      d = nesterov ? d + mom * b : b;
    }
    p[i] = static_cast<T>(pi + neg_lr * d);
  }
};

template <class T>
struct AdamOp {
  using A = Acc<T>;
  A b1, b2, one_b1, one_b2, e, l2, keep, sign;
  bool coupled_wd, amsgrad;
  explicit AdamOp(const OptimStepArgs& a)
      : b1(static_cast<A>(a.beta1)),
        b2(static_cast<A>(a.beta2)),
        one_b1(static_cast<A>(1.0 - a.beta1)),
        one_b2(static_cast<A>(1.0 - a.beta2)),
        e(static_cast<A>(a.eps)),
        l2(static_cast<A>(a.weight_decay)),
        keep(a.decoupled ? static_cast<A>(1.0 - a.lr * a.weight_decay) : A(1)),
        sign(a.maximize ? A(-1) : A(1)),
        coupled_wd(!a.decoupled && a.weight_decay != 0.0),
        amsgrad(a.amsgrad) {}
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T *m = at<T>(t, 2), *v = at<T>(t, 3), *vmax = at<T>(t, 4);
    const A neg_step = static_cast<A>(-t.scalar[0]), bias2_sqrt = static_cast<A>(t.scalar[1]);
    const A p0 = static_cast<A>(p[i]);
    A gi = sign * static_cast<A>(g[i]);
    const A pi = p0 * keep;
    if (coupled_wd) gi = gi + l2 * p0;
    const A mi = static_cast<A>(m[i]) * b1 + one_b1 * gi;
    const A vi = static_cast<A>(v[i]) * b2 + one_b2 * gi * gi;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    A second = vi;
    if (amsgrad) {
      const A prev = static_cast<A>(vmax[i]);
      second = (prev != prev || prev > vi) ? prev : vi;  // torch.maximum: NaN wins
      vmax[i] = static_cast<T>(second);
    }
    const A denom = sqrt(second) / bias2_sqrt + e;
    p[i] = static_cast<T>(pi + neg_step * mi / denom);
  }
};

template <class T>
struct RmspropOp {
  using A = Acc<T>;
  A a, one_a, e, decay, mom, neg_lr, sign;
  bool has_wd, centered, has_mom;
  explicit RmspropOp(const OptimStepArgs& o)
      : a(static_cast<A>(o.alpha)),
        one_a(static_cast<A>(1.0 - o.alpha)),
        e(static_cast<A>(o.eps)),
        decay(static_cast<A>(o.weight_decay)),
        mom(static_cast<A>(o.momentum)),
        neg_lr(static_cast<A>(-o.lr)),
        sign(o.maximize ? A(-1) : A(1)),
        has_wd(o.weight_decay != 0.0),
        centered(o.centered),
        has_mom(o.momentum > 0.0) {}
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T *sq = at<T>(t, 2), *buf = at<T>(t, 3), *ga = at<T>(t, 4);
    const A pi = static_cast<A>(p[i]);
    A gi = sign * static_cast<A>(g[i]);
    if (has_wd) gi = gi + decay * pi;
    const A s = static_cast<A>(sq[i]) * a + one_a * gi * gi;
    sq[i] = static_cast<T>(s);
    A avg;
    if (centered) {
      const A m = static_cast<A>(ga[i]) * a + one_a * gi;
      ga[i] = static_cast<T>(m);
      avg = sqrt(s + A(-1) * m * m);
    } else {
      avg = sqrt(s);
    }
    avg = avg + e;
    if (has_mom) {
      const A b = static_cast<A>(buf[i]) * mom + gi / avg;
      buf[i] = static_cast<T>(b);
      p[i] = static_cast<T>(pi + neg_lr * b);
    } else {
      p[i] = static_cast<T>(pi + neg_lr * gi / avg);
    }
  }
};

template <class T>
struct AdagradOp {
  using A = Acc<T>;
  A e, decay, sign;
  bool has_wd;
  explicit AdagradOp(const OptimStepArgs& a)
      : e(static_cast<A>(a.eps)),
        decay(static_cast<A>(a.weight_decay)),
        sign(a.maximize ? A(-1) : A(1)),
        has_wd(a.weight_decay != 0.0) {}
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T* sum = at<T>(t, 2);
    const A neg_clr = static_cast<A>(-t.scalar[0]);
    const A pi = static_cast<A>(p[i]);
    A gi = sign * static_cast<A>(g[i]);
    if (has_wd) gi = gi + decay * pi;
    const A s = static_cast<A>(sum[i]) + A(1) * gi * gi;
    sum[i] = static_cast<T>(s);
    p[i] = static_cast<T>(pi + neg_clr * gi / (sqrt(s) + e));
  }
};

// NAdam and RAdam share the moment updates.
template <class T>
struct MomentsOp {
  using A = Acc<T>;
  A b1, b2, one_b1, one_b2, e, decay, lr;
  bool has_wd, radam;
  MomentsOp(const OptimStepArgs& a, bool is_radam)
      : b1(static_cast<A>(a.beta1)),
        b2(static_cast<A>(a.beta2)),
        one_b1(static_cast<A>(1.0 - a.beta1)),
        one_b2(static_cast<A>(1.0 - a.beta2)),
        e(static_cast<A>(a.eps)),
        decay(static_cast<A>(a.weight_decay)),
        lr(static_cast<A>(a.lr)),
        has_wd(a.weight_decay != 0.0),
        radam(is_radam) {}
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T *m = at<T>(t, 2), *v = at<T>(t, 3);
    const A pi = static_cast<A>(p[i]);
    A gi = static_cast<A>(g[i]);
    if (has_wd) gi = gi + decay * pi;
    const A mi = static_cast<A>(m[i]) * b1 + one_b1 * gi;
    const A vi = static_cast<A>(v[i]) * b2 + one_b2 * gi * gi;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    if (radam) {
      const A bc1 = static_cast<A>(t.scalar[0]), bc2_sqrt = static_cast<A>(t.scalar[1]);
      const A r = static_cast<A>(t.scalar[2]);
      const A corrected = mi / bc1;
      const A update = t.scalar[3] != 0.0 ? corrected * lr * (bc2_sqrt / (sqrt(vi) + e)) * r : corrected * lr;
      p[i] = static_cast<T>(pi + A(-1) * update);
    } else {
      const A bc2 = static_cast<A>(t.scalar[0]), sg = static_cast<A>(t.scalar[1]);
      const A sm = static_cast<A>(t.scalar[2]);
      const A denom = sqrt(vi / bc2) + e;
      const A stepped = pi + sg * gi / denom;
      p[i] = static_cast<T>(stepped + sm * mi / denom);
    }
  }
};

// Non-finite values are detected before scaling (inf * 0 would hide them); every thread that sees one
// stores the same 1, so the race is benign.
template <class T>
struct UnscaleOp {
  using A = Acc<T>;
  const float* inv_scale;
  float* found_inf;
  __device__ void operator()(const TensorArgs& t, int64_t i) const {
    T* g = at<T>(t, 0);
    const A x = static_cast<A>(g[i]);
    if (!isfinite(x)) *found_inf = 1.0f;
    g[i] = static_cast<T>(x * static_cast<A>(*inv_scale));
  }
};

void* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

}  // namespace

bool optim_supports(int code, DType t) {
  return code >= 0 && code <= static_cast<int>(OptimKernel::unscale) && (t == DType::f32 || t == DType::f64);
}

void optim_step(const OptimStepArgs& args, const std::vector<OptimTensor>& tensors) {
  const char* name = kernel_name(args.kernel);
  if (tensors.empty()) return;
  const int dev = device_of(tensors[0].param, name);
  const DType dtype = tensors[0].param.dtype();
  std::vector<TensorArgs> list;
  for (const OptimTensor& x : tensors) {
    KILN_ASSERT(device_of(x.param, name) == dev && x.param.dtype() == dtype, name,
                ": one call takes parameters of one device and dtype");
    TensorArgs t{};
    t.ptr[0] = x.param.data_ptr();
    t.ptr[1] = x.grad.data_ptr();
    for (int k = 0; k < 3; ++k) t.ptr[2 + k] = data_or_null(x.state[k]);
    t.numel = x.param.numel();
    for (int k = 0; k < 4; ++k) t.scalar[k] = x.scalar[k];
    list.push_back(t);
  }
  KILN_DISPATCH_FLOAT(dtype, name, [&] {
    using T = scalar_t;
    switch (args.kernel) {
      case OptimKernel::sgd:
        return launch_multi_tensor(name, dev, list, SgdOp<T>(args));
      case OptimKernel::adam:
        return launch_multi_tensor(name, dev, list, AdamOp<T>(args));
      case OptimKernel::rmsprop:
        return launch_multi_tensor(name, dev, list, RmspropOp<T>(args));
      case OptimKernel::adagrad:
        return launch_multi_tensor(name, dev, list, AdagradOp<T>(args));
      case OptimKernel::nadam:
        return launch_multi_tensor(name, dev, list, MomentsOp<T>(args, false));
      case OptimKernel::radam:
        return launch_multi_tensor(name, dev, list, MomentsOp<T>(args, true));
      case OptimKernel::unscale:
        break;
    }
    KILN_CHECK(false, "optim_step: kernel ", name, " is not an optimizer step");
  });
}

void unscale_check(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& inv_scale) {
  const char* name = "unscale_check";
  KILN_CHECK(found_inf.dtype() == DType::f32 && inv_scale.dtype() == DType::f32, name,
             ": found_inf and inv_scale must be f32, got ", found_inf.dtype(), " and ", inv_scale.dtype());
  const int dev = device_of(found_inf, name);
  KILN_ASSERT(device_of(inv_scale, name) == dev, name, ": inv_scale on another device");
  for (DType dtype : {DType::f32, DType::f64}) {  // one launch per dtype present
    std::vector<TensorArgs> list;
    for (const Tensor& g : grads) {
      KILN_ASSERT(device_of(g, name) == dev, name, ": a gradient on another device than found_inf");
      KILN_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, name,
                 ": gradients must be f32 or f64, got ", g.dtype());
      if (g.dtype() != dtype) continue;
      TensorArgs t{};
      t.ptr[0] = g.data_ptr();
      t.numel = g.numel();
      list.push_back(t);
    }
    if (list.empty()) continue;
    const auto* inv = static_cast<const float*>(inv_scale.data_ptr());
    auto* found = static_cast<float*>(found_inf.data_ptr());
    KILN_DISPATCH_FLOAT(dtype, name, [&] {
      using T = scalar_t;
      launch_multi_tensor(name, dev, list, UnscaleOp<T>{inv, found});
    });
  }
}

}  // namespace kiln::cuda
