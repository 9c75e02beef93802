// kiln/kernels/cuda/cuda_kernels.h: internals of the CUDA backend, shared by its .cpp and .cu files: the
// check macros, the per-device stream and cuBLAS handle, the strided-operand description the elementwise
// kernels take, and the kernel entry points behind the table (each has the contract of the table entry
// of the same name in tensor/backend.h). Depends on the CUDA runtime and tensor/.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>

#include "kiln/tensor/backend.h"

namespace kiln::cuda {

namespace detail {
[[noreturn]] void throw_cuda_error(const char* file, int line, const char* op, const char* expr,
                                   cudaError_t status);
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* op, const char* expr,
                                     int status);
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

// The elementwise kernels (elementwise.cu). copy handles device <-> device only (both on one device);
// copy_table adds the host <-> device transfers (copy.cpp).
void unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha);
bool unary_supports(UnaryKernel k, DType t);
void binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out);
bool binary_supports(BinaryKernel k, DType t);
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
void copy_on_device(const Tensor& src, const Tensor& dst);
void copy(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, double value);
// reduce_index.cu
void reduce(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices);
void index_select(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
void gather(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
void random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b);
// batch_norm.cu
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps,
                        const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd);
void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
// gemm.cpp
void gemm(const GemmArgs& args);
// The device of a CUDA tensor (checks it is one).
int device_of(const Tensor& t, const char* op);

}  // namespace kiln::cuda
