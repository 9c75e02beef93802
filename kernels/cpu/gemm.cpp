// CPU GEMM through Eigen (its AVX-512 GEBP kernels with -march=native). Small batched products are
// spread over threads by batch; a single large product uses Eigen's own OpenMP parallelism.
#include <omp.h>

#include <Eigen/Core>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMajor<T>, 0, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMajor<T>, 0, Eigen::OuterStride<>>;

template <class T>
void one_gemm(const GemmArgs& g, const T* a, const T* b, T* c) {
  // A stored as (M x K), or (K x M) when transposed; likewise B.
  ConstMap<T> A(a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, Eigen::OuterStride<>(g.lda));
  ConstMap<T> B(b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, Eigen::OuterStride<>(g.ldb));
  MutMap<T> C(c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
  const T alpha = static_cast<T>(g.alpha);
  if (g.beta == 0) {
    C.setZero();
  } else if (g.beta != 1) {
    C *= static_cast<T>(g.beta);
  }
  if (g.k == 0) return;
  if (!g.trans_a && !g.trans_b) {
    C.noalias() += alpha * A * B;
  } else if (g.trans_a && !g.trans_b) {
    C.noalias() += alpha * A.transpose() * B;
  } else if (!g.trans_a && g.trans_b) {
    C.noalias() += alpha * A * B.transpose();
  } else {
    C.noalias() += alpha * A.transpose() * B.transpose();
  }
}

template <class T>
void gemm_typed(const GemmArgs& g) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
  const int64_t flops_per = g.m * g.n * g.k;
  // Many small products: one per thread (Eigen stays serial inside a parallel region).
  if (g.batch > 1 && flops_per < (1 << 22)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < g.batch; ++i)
      one_gemm<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c);
    return;
  }
  for (int64_t i = 0; i < g.batch; ++i)
    one_gemm<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c);
}

}  // namespace

void gemm(const GemmArgs& g) {
  switch (g.dtype) {
    case DType::f32:
      return gemm_typed<float>(g);
    case DType::f64:
      return gemm_typed<double>(g);
    default:
      KILN_ASSERT(false, "gemm kernel called for ", g.dtype);
  }
}

}  // namespace kiln::cpu
