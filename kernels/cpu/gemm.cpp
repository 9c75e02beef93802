// CPU GEMM through Eigen (its AVX-512 GEBP kernels with -march=native), parallelized by kiln over fixed
// panels of C (see gemm_typed).
#include <algorithm>

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

// Splits C into column (or row) panels chosen from the shape alone, each computed by single-threaded
// Eigen. Eigen's own parallel GEMM picks its blocking from the thread count, which changes the summation
// order and so the bits of the result; fixed panels keep results identical for any thread count, and
// let a thread that is descheduled on a busy machine delay only its own panels.
constexpr int64_t kPanelFlops = int64_t{1} << 22;  // below this a panel is not worth a task
constexpr int64_t kMaxPanels = 16;
constexpr int64_t kMinPanel = 128;

template <class T>
void gemm_typed(const GemmArgs& g) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
  const int64_t flops = g.m * g.n * g.k;
  const bool split_columns = g.n >= g.m;
  const int64_t extent = split_columns ? g.n : g.m;
  // Panels of a multiple of 16 columns/rows (one AVX-512 f32 vector), at least kPanelFlops each.
  // Each panel re-packs the shared operand, so panels stay at least kMinPanel wide.
  int64_t panels = std::clamp<int64_t>(flops / kPanelFlops, 1, kMaxPanels);
  panels = std::max<int64_t>(1, std::min(panels, extent / kMinPanel));
  int64_t width = (extent + panels - 1) / panels;
  width = std::max<int64_t>(16, (width + 15) / 16 * 16);
  panels = (extent + width - 1) / width;
  const int64_t tasks = g.batch * panels;
  auto run = [&](int64_t t) {
    int64_t i = t / panels, p = t % panels, start = p * width, len = std::min(width, extent - start);
    GemmArgs sub = g;
    const T* ai = a + i * g.stride_a;
    const T* bi = b + i * g.stride_b;
    T* ci = c + i * g.stride_c + (split_columns ? start : start * g.ldc);
    if (split_columns) {
      sub.n = len;  // columns [start, start + len) of op(B)
      bi += g.trans_b ? start * g.ldb : start;
    } else {
      sub.m = len;  // rows [start, start + len) of op(A)
      ai += g.trans_a ? start : start * g.lda;
    }
    one_gemm<T>(sub, ai, bi, ci);
  };
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) run(t);
}

}  // namespace

void native::gemm(const GemmArgs& g) {
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
