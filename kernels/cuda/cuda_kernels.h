// kiln/kernels/cuda/cuda_kernels.h: internals of the CUDA backend, shared by its .cpp and .cu files: the
// check macros, the per-device stream, cuBLAS and cuDNN handles, the strided-operand description the
// elementwise kernels take, and the kernel entry points behind the table (each has the contract of the table
// entry of the same name in tensor/backend.h). Depends on the CUDA runtime and tensor/.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor/backend.h"

namespace kiln::cuda {

namespace detail {
[[noreturn]] void throw_cuda_error(const char* file, int line, const char* op, const char* expr,
                                   cudaError_t status);
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* op, const char* expr,
                                     int status);
// Defined only in builds with cuDNN (conv_cudnn.cpp); the macro below is used only there.
[[noreturn]] void throw_cudnn_error(const char* file, int line, const char* op, const char* expr, int status);
}  // namespace detail

// Every CUDA runtime call goes through this: a failure throws kiln::Error naming `op` (the kiln op or
// kernel), the call, and CUDA's own name and text for the status.
#define KILN_CUDA_CHECK(expr, op)                                                          \
  do {                                                                                     \
    cudaError_t kiln_status_ = (expr);                                                     \
    if (kiln_status_ != cudaSuccess) [[unlikely]]                                          \
      ::kiln::cuda::detail::throw_cuda_error(__FILE__, __LINE__, op, #expr, kiln_status_); \
  } while (0)
// The same for cuBLAS calls (status text from cublasGetStatusName / cublasGetStatusString).
#define KILN_CUBLAS_CHECK(expr, op)                                                          \
  do {                                                                                       \
    int kiln_status_ = static_cast<int>(expr);                                               \
    if (kiln_status_ != 0) [[unlikely]]                                                      \
      ::kiln::cuda::detail::throw_cublas_error(__FILE__, __LINE__, op, #expr, kiln_status_); \
  } while (0)
// The same for cuDNN calls (status text from cudnnGetErrorString).
#define KILN_CUDNN_CHECK(expr, op)                                                          \
  do {                                                                                      \
    int kiln_status_ = static_cast<int>(expr);                                              \
    if (kiln_status_ != 0) [[unlikely]]                                                     \
      ::kiln::cuda::detail::throw_cudnn_error(__FILE__, __LINE__, op, #expr, kiln_status_); \
  } while (0)
// After a kernel launch: launch-configuration errors surface here, execution errors at the next sync.
#define KILN_CUDA_CHECK_LAUNCH(op) KILN_CUDA_CHECK(cudaGetLastError(), op)

// Makes device `index` current for the scope (restores the previous one).
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The one stream of device `index` (created on first use; kernels of a device run in order on it).
cudaStream_t stream(int index);
// The cuBLAS handle of device `index`, bound to stream(index).
void* cublas_handle(int index);
// The cuDNN handle of device `index` (a cudnnHandle_t), bound to stream(index); only in builds with cuDNN.
void* cudnn_handle(int index);
// Waits for device `index`'s stream; `op` names the reader for error messages.
void sync_stream(int index, const char* op);

// A device buffer from the caching allocator that lives for one kernel call (temporaries).
class DeviceBuffer {
 public:
  DeviceBuffer(size_t nbytes, int device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  int device_ = 0;
};
void* allocate(size_t nbytes, int device);
void deallocate(void* ptr, size_t nbytes, int device);

// CUDA Graph support (runtime.cpp; graph.h describes the rules). A private pool is a set of blocks that
// belong to one Graph. While it is device `index`'s capture pool, allocate() serves from it (a block taken
// from the shared cache then belongs to it) and a freed block that belongs to no live pool joins it; a
// pool's block freed at any time goes back to that pool. release_private_pool() gives its free blocks to
// the shared cache; its live blocks go there when freed.
struct PrivatePool;
std::shared_ptr<PrivatePool> new_private_pool();
void set_capture_pool(int index, std::shared_ptr<PrivatePool> pool);  // nullptr: capture over
void release_private_pool(int index, const std::shared_ptr<PrivatePool>& pool);
int64_t private_pool_bytes(const PrivatePool& pool);
// Whether device `index`'s stream is capturing, and a kiln::Error naming `what` (an operation that cannot
// be captured, with the reason) if it is.
bool stream_capturing(int index);
void check_not_capturing(int index, const char* what);

// ---- index checks without a host synchronization, and capture-safe random numbers ----
// The device's error word (device memory, made with the stream): the first out-of-range index a check
// kernel met since it was last read. sync_stream reads it when checks may have run since then
// (note_index_checks), clears it, and throws the check's message.
struct IndexErrorWord {
  int flag;      // 0: no error; set once by atomicCAS
  int check_id;  // index_check_id() of the failed check
  int64_t value, lo, hi;
};
IndexErrorWord* index_error_word(int index);
void note_index_checks(int index);
// Check messages by id (the device records the id): op and what of `check`, kept for the process.
int index_check_id(const IndexCheck& check);
std::string index_check_message(int id, int64_t value, int64_t lo, int64_t hi);
// While device `index` captures into a Graph, random draws take (seed, base counter) from the 2 uint64
// at `state` on the device (written by each replay) and use counters relative to `start_offset`, the host
// generator's offset when the capture began; `seed` is the seed the capture began with (graph.cpp).
struct CaptureRandom {
  uint64_t* state = nullptr;
  uint64_t seed = 0, start_offset = 0;
};
void set_capture_random(int index, const CaptureRandom& r);  // state nullptr: none
CaptureRandom capture_random(int index);
// One tiny kernel on the stream: state[0] = seed, state[1] = offset (before a replay's launch).
void write_philox_state(uint64_t* state, uint64_t seed, uint64_t offset, int index);

// Up to kMaxDims dims after merging the ones contiguous in every operand (elementwise kernels).
inline constexpr int kMaxDims = 10;
template <int N>
struct Strided {
  int nd = 0;
  int64_t numel = 0;
  bool contiguous = false;  // every operand dense in order: index i is element i
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};  // in elements
  char* data[N] = {};
};

// The table's entries, one per slot, each with the contract of its slot (elementwise.cu: unary, binary,
// where, copy, fill; reduce_index.cu: reduce, the index kernels; register.cpp: random; fused.cu,
// batch_norm.cu, gemm.cpp, conv_cudnn.cpp, pool.cu, optim.cu, index_check.cu, runtime.cpp: the rest).
KILN_DECLARE_BACKEND_KERNELS()

// copy handles device <-> device only (both on one device); the copy entry adds the host <-> device
// transfers (copy.cpp).
void copy_on_device(const Tensor& src, const Tensor& dst);
// The random entry's draw (reduce_index.cu). With `state` (a capture, see CaptureRandom) the kernel uses
// seed state[0] and counters state[1] + offset; without it, seed and offset.
void draw_random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b,
                 const uint64_t* state);
// conv_fallback.cu: the im2col + cuBLAS fallback (f32/f64) behind the conv2d entries (conv_cudnn.cpp uses
// cuDNN where built with it and it takes the case), and the bias addition both use.
void conv2d_fallback(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& out);
void conv2d_backward_data_fallback(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                                   const Tensor& grad_x);
void conv2d_backward_filter_fallback(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                     const Tensor& grad_weight);
// out (N, C, H, W) += bias (C) broadcast over N, H, W.
void add_channel_bias(const Tensor& out, const Tensor& bias);
// The optimizer steps' dtypes (optim.cu), by OptimKernel code.
bool optim_supports(int code, DType t);
// The device of a CUDA tensor (checks it is one).
int device_of(const Tensor& t, const char* op);

}  // namespace kiln::cuda
