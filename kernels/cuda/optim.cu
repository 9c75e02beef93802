// CUDA optimizer steps and GradScaler's unscale-and-check (backend.h, family 'p') as multi-tensor kernels:
// ONE launch updates every tensor of a call. The host writes a small argument buffer in pinned memory (one
// TensorArgs per tensor: data pointers, size, per-tensor scalars; then one ChunkArgs per kChunk-element
// slice of a tensor), copies it to a device buffer from the caching allocator on the device's stream
// (cuda::copy keeps the pinned source alive until the transfer is done), and each block
// walks chunks with a grid-stride loop. Every step runs the update functor the CPU loop runs
// (kernels/shared/optim_math.h) in the element type (f32 or f64); nvcc may fuse a multiply-add, so results
// agree with the CPU's to rounding, not bit for bit. A step cannot be captured into a CUDA Graph (its
// arguments are a host-to-device copy of this step's scalars): it throws during capture. Depends on
// cuda_kernels.h.
#include <cstring>
#include <utility>
#include <vector>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/kernels/shared/optim_math.h"
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
__device__ T* at(const TensorArgs& t, int k) {
  return static_cast<T*>(t.ptr[k]);
}

// Each block takes whole chunks; op(t, begin, end) runs the block's threads over [begin, end) of tensor t.
template <class Op>
__global__ void multi_tensor_kernel(const TensorArgs* tensors, const ChunkArgs* chunks, int64_t num_chunks,
                                    Op op) {
  for (int64_t c = blockIdx.x; c < num_chunks; c += gridDim.x) {
    const ChunkArgs ch = chunks[c];
    const TensorArgs& t = tensors[ch.tensor];
    op(t, ch.start, ch.start + kChunk < t.numel ? ch.start + kChunk : t.numel);
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
  // A host-to-device copy cannot be captured into a CUDA Graph, and the per-tensor scalars in it are this
  // step's values: a replay would repeat them. Refuse clearly instead of failing the capture.
  check_not_capturing(dev, name);
  // The arguments go through page-locked memory: cuda::copy keeps a pinned source alive until the
  // transfer's event completes. (From pageable memory CUDA only says the call "might be synchronous", so
  // a host buffer that dies on return could be read after it is freed.)
  Tensor pinned =
      cuda::pin_memory(empty({static_cast<int64_t>(tensor_bytes + chunk_bytes)}, {.dtype = DType::u8}));
  auto* host = static_cast<char*>(pinned.data_ptr());
  std::memcpy(host, tensors.data(), tensor_bytes);
  std::memcpy(host + tensor_bytes, chunks.data(), chunk_bytes);
  // Freed back to the cache on return; the next user of the block runs after this kernel on the same
  // stream.
  Tensor buffer = empty(pinned.shape(), {.dtype = DType::u8, .device = Device::cuda(dev)});
  cuda::copy(pinned, buffer);
  DeviceGuard guard(dev);
  auto* base = static_cast<char*>(buffer.data_ptr());
  const auto num_chunks = static_cast<int64_t>(chunks.size());
  const auto blocks = static_cast<unsigned>(num_chunks < kMaxBlocks ? num_chunks : kMaxBlocks);
  multi_tensor_kernel<<<blocks, kStepThreads, 0, stream(dev)>>>(
      reinterpret_cast<const TensorArgs*>(base), reinterpret_cast<const ChunkArgs*>(base + tensor_bytes),
      num_chunks, op);
  KILN_CUDA_CHECK_LAUNCH(name);
}

// The generic step: one update functor (kernels/shared/optim_math.h) over a chunk. The functor and its
// choices are made per chunk from the tensor's own scalars, and the choices stay runtime bools: one launch
// carries tensors whose choices differ (SGD's first momentum step, RAdam's rectification).
template <template <class> class Update, class T>
struct StepChunk {
  OptimStepArgs args;
  template <int N, size_t... K>
  __device__ void run(const Update<T>& op, const optim_math::Branches<N>& b, const TensorArgs& t,
                      int64_t begin, int64_t end, std::index_sequence<K...>) const {
    T* p = at<T>(t, 0);
    const T* g = at<T>(t, 1);
    T *s0 = at<T>(t, 2), *s1 = at<T>(t, 3), *s2 = at<T>(t, 4);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) op(i, p, g, s0, s1, s2, b.on[K]...);
  }
  template <int N>
  __device__ void run(const Update<T>& op, const optim_math::Branches<N>& b, const TensorArgs& t,
                      int64_t begin, int64_t end) const {
    run(op, b, t, begin, end, std::make_index_sequence<N>{});
  }
  __device__ void operator()(const TensorArgs& t, int64_t begin, int64_t end) const {
    run(Update<T>(args, t.scalar), Update<T>::branches(args, t.scalar), t, begin, end);
  }
};

// Non-finite values are detected before scaling (inf * 0 would hide them); every thread that sees one
// stores the same 1, so the race is benign.
template <class T>
struct UnscaleChunk {
  const float* inv_scale;
  float* found_inf;
  __device__ void operator()(const TensorArgs& t, int64_t begin, int64_t end) const {
    T* g = at<T>(t, 0);
    const T inv = static_cast<T>(*inv_scale);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      const T x = g[i];
      if (!isfinite(x)) *found_inf = 1.0f;
      g[i] = x * inv;
    }
  }
};

void* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// One launch of the step kernel's update functor (optim_math.h) over every tensor of `list`.
template <class T>
void launch_step(const char* name, int dev, const std::vector<TensorArgs>& list, const OptimStepArgs& args) {
  switch (args.kernel) {
#define KILN_OPTIM_CASE(kernel, Functor) \
  case OptimKernel::kernel:              \
    return launch_multi_tensor(name, dev, list, StepChunk<optim_math::Functor, T>{args});
    KILN_OPTIM_UPDATES(KILN_OPTIM_CASE)
#undef KILN_OPTIM_CASE
    case OptimKernel::unscale:
      break;
  }
  KILN_CHECK(false, "optim_step: kernel ", name, " is not an optimizer step");
}

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
  KILN_DISPATCH_FLOAT(dtype, name, [&] { launch_step<scalar_t>(name, dev, list, args); });
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
      launch_multi_tensor(name, dev, list, UnscaleChunk<T>{inv, found});
    });
  }
}

}  // namespace kiln::cuda
