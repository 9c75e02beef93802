// The table's gemm on CUDA through cuBLAS (one strided-batched call). kiln's matrices are row-major and
// cuBLAS's column-major, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: the same bytes, the
// operands swapped, each transpose flag kept. f32 may use TF32 tensor cores when set_allow_tf32(true);
// f16/bf16 operands and result compute and accumulate in f32 (CUBLAS_COMPUTE_32F, tensor cores).
#include <cublas_v2.h>

#include <algorithm>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

// cuBLAS checks ld >= rows of the column-major view even for a single-row operand, where kiln's callers
// may pass any row stride; the stride is never used there, so raising it is harmless. ld >= 1 always
// (k = 0 gives 0-column operands, for which cuBLAS computes C = beta C).
int64_t leading(int64_t ld, int64_t rows_stored, int64_t cols_stored) {
  return rows_stored <= 1 ? std::max<int64_t>({ld, cols_stored, 1}) : std::max<int64_t>(ld, 1);
}

}  // namespace

void gemm(const GemmArgs& g) {
  KILN_ASSERT(g.dtype == DType::f32 || g.dtype == DType::f64 || is_reduced_float(g.dtype),
              "CUDA gemm called for ", g.dtype);
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  int dev = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&dev), "gemm");
  cudaPointerAttributes attr{};
  KILN_CUDA_CHECK(cudaPointerGetAttributes(&attr, g.c), "gemm");
  if (attr.type == cudaMemoryTypeDevice) dev = attr.device;
  DeviceGuard guard(dev);
  auto handle = static_cast<cublasHandle_t>(cublas_handle(dev));

  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Stored shapes (row-major): A is m x k, or k x m when transposed; B is k x n, or n x k.
  const int64_t lda = leading(g.lda, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k);
  const int64_t ldb = leading(g.ldb, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n);
  const int64_t ldc = leading(g.ldc, g.m, g.n);
  KILN_CHECK(std::max({g.m, g.n, g.k, lda, ldb, ldc, g.batch}) <= INT32_MAX,
             "matmul on CUDA: a dimension exceeds cuBLAS's 32-bit limit (m=", g.m, " n=", g.n, " k=", g.k,
             " batch=", g.batch, ")");
  const auto i32 = [](int64_t v) { return static_cast<int>(v); };

  if (is_reduced_float(g.dtype)) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    const cudaDataType_t type = g.dtype == DType::f16 ? CUDA_R_16F : CUDA_R_16BF;
    KILN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, i32(g.n), i32(g.m), i32(g.k), &alpha,
                                                 g.b, type, i32(ldb), g.stride_b, g.a, type, i32(lda),
                                                 g.stride_a, &beta, g.c, type, i32(ldc), g.stride_c,
                                                 i32(g.batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                      g.dtype == DType::f16 ? "matmul (cublasGemmStridedBatchedEx f16)"
                                            : "matmul (cublasGemmStridedBatchedEx bf16)");
  } else if (g.dtype == DType::f32) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    const cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    KILN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, i32(g.n), i32(g.m), i32(g.k), &alpha,
                                                 g.b, CUDA_R_32F, i32(ldb), g.stride_b, g.a, CUDA_R_32F,
                                                 i32(lda), g.stride_a, &beta, g.c, CUDA_R_32F, i32(ldc),
                                                 g.stride_c, i32(g.batch), compute, CUBLAS_GEMM_DEFAULT),
                      "matmul (cublasGemmStridedBatchedEx f32)");
  } else {
    const double alpha = g.alpha, beta = g.beta;
    KILN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                          handle, op_b, op_a, i32(g.n), i32(g.m), i32(g.k), &alpha, g.b, CUDA_R_64F, i32(ldb),
                          g.stride_b, g.a, CUDA_R_64F, i32(lda), g.stride_a, &beta, g.c, CUDA_R_64F, i32(ldc),
                          g.stride_c, i32(g.batch), CUBLAS_COMPUTE_64F, CUBLAS_GEMM_DEFAULT),
                      "matmul (cublasGemmStridedBatchedEx f64)");
  }
}

}  // namespace kiln::cuda
