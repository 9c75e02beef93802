// matmul (torch.matmul semantics, batched and broadcasting) and linear. Transposed operands are passed
// to GEMM as transpose flags, so x.t() @ g in the backward pass never copies.
#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

// One GEMM operand: a (batch..., rows, cols) view described by base pointer, transpose flag, leading
// dimension and a single batch stride (copying to contiguous when the view has no such description).
struct MatrixOperand {
  Tensor t;
  bool trans = false;
  int64_t ld = 0, batch_stride = 0;
};

MatrixOperand matrix_operand(const Tensor& x) {
  const int64_t nd = x.dim();
  auto describe = [&](const Tensor& t, MatrixOperand& m) {
    const Shape& st = t.strides();
    const Shape& sh = t.shape();
    const int64_t R = sh[nd - 2], C = sh[nd - 1], rs = st[nd - 2], cs = st[nd - 1];
    if ((cs == 1 || C == 1) && (R == 1 || rs >= C)) {
      m.trans = false, m.ld = R == 1 ? std::max<int64_t>(C, 1) : rs;  // rows of length C, rs apart
    } else if ((rs == 1 || R == 1) && (C == 1 || cs >= R)) {
      m.trans = true, m.ld = C == 1 ? std::max<int64_t>(R, 1) : cs;  // stored as C rows of length R
    } else {
      return false;
    }
    // Batch dims must collapse to one stride (or all be broadcast with stride 0).
    int64_t batch = 1;
    for (int64_t d = 0; d < nd - 2; ++d) batch *= sh[d];
    if (batch <= 1) return m.batch_stride = 0, true;
    bool all_zero = true, chain = true;
    int64_t expect = -1;
    for (int64_t d = nd - 3; d >= 0; --d) {
      if (sh[d] == 1) continue;
      all_zero = all_zero && st[d] == 0;
      if (expect >= 0 && st[d] != expect) chain = false;
      if (expect < 0) m.batch_stride = st[d];
      expect = st[d] * sh[d];
    }
    if (all_zero) return m.batch_stride = 0, true;
    return chain;
  };
  MatrixOperand m;
  m.t = x;
  if (!describe(x, m)) {
    m.t = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
    m.t.copy_(x);
    m = MatrixOperand{m.t};
    describe(m.t, m);
  }
  return m;
}

// The forward product of two >= 2-D tensors with broadcast batch dims, without recording.
Tensor batched_product(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  KILN_CHECK(b.size(-2) == K, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " cannot be multiplied (", K, " columns vs ", b.size(-2), " rows)");
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), "matmul");
  Shape a_shape = batch, b_shape = batch, out_shape = batch;
  a_shape.insert(a_shape.end(), {M, K});
  b_shape.insert(b_shape.end(), {K, N});
  out_shape.insert(out_shape.end(), {M, N});
  Tensor out = empty(out_shape, {.dtype = a.dtype(), .device = a.device()});
  if (out.numel() == 0) return out;
  MatrixOperand ma = matrix_operand(broadcast_view(a, a_shape));
  MatrixOperand mb = matrix_operand(broadcast_view(b, b_shape));
  GemmArgs g;
  g.trans_a = ma.trans, g.trans_b = mb.trans;
  g.m = M, g.n = N, g.k = K, g.batch = shape_numel(batch);
  g.a = ma.t.data_ptr(), g.lda = ma.ld, g.stride_a = ma.batch_stride;
  g.b = mb.t.data_ptr(), g.ldb = mb.ld, g.stride_b = mb.batch_stride;
  g.c = out.data_ptr(), g.ldc = N, g.stride_c = M * N;
  g.dtype = a.dtype();
  // A batch of rows times one shared matrix is a single taller GEMM.
  if (g.batch > 1 && g.stride_b == 0 && !g.trans_a && g.lda == K && g.stride_a == M * K) {
    g.m = M * g.batch, g.batch = 1;
  }
  backend(a.device()).gemm(g);
  return out;
}
}  // namespace

// The gradient of a shared (K, N) matrix b in a @ b, with a (..., M, K) and g (..., M, N): the batch rows
// are folded into one GEMM, and the result has b's own memory layout. That matters for linear(), whose
// weight enters as a transposed view: computing (g^T a)^T hands the optimizer a contiguous (N, K) gradient
// instead of a transposed one that the engine would then copy element by element.
Tensor matrix_grad(const Tensor& a, const Tensor& b, const Tensor& g) {
  const int64_t K = b.size(0), N = b.size(1);
  Tensor a2 = a.dim() == 2 ? a : reshape(a, {-1, K});
  Tensor g2 = g.dim() == 2 ? g : reshape(g, {-1, N});
  const bool column_major = b.stride(0) == 1 && b.stride(1) != 1;
  if (column_major) return transpose(matmul(transpose(g2, 0, 1), a2), 0, 1);
  return matmul(transpose(a2, 0, 1), g2);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "first operand");
  check_defined("matmul", b, "second operand");
  check_same_device("matmul", {&a, &b});
  if (autocast::needs_lower({&a, &b})) return matmul(autocast::lower(a), autocast::lower(b));
  check_same_dtype("matmul", a, b);
  KILN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least one dimension, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  check_supported(GemmKernel::gemm, a.dtype(), a.device(), "matmul");
  if (a.dim() == 1 && b.dim() == 1) {
    KILN_CHECK(a.size(0) == b.size(0), "matmul: dot product of shapes ", shape_str(a.shape()), " and ",
               shape_str(b.shape()));
    return sum(a * b);
  }
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  Tensor out = batched_product(a, b);
  if (autograd::needs_grad({&a, &b})) {
    record(
        "matmul", {a, b}, out,
        [a, b](const Tensor& g, const Tensor&) {
          Tensor ga = a.requires_grad() ? sum_to(matmul(g, transpose(b, -1, -2)), a.shape()) : Tensor();
          Tensor gb;
          if (b.requires_grad())
            gb = b.dim() == 2 ? matrix_grad(a, b, g) : sum_to(matmul(transpose(a, -1, -2), g), b.shape());
          return Grads{ga, gb};
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return out;
}

}  // namespace kiln
