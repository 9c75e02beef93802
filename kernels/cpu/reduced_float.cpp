// CPU f16/bf16 compute kernels, the reference the CUDA kernels are checked against: every operand is
// converted to a dense f32 tensor (exact), the f32 kernel runs, and the result is rounded once on store
// (copy rounds to nearest even). Simple and slow by design. Entries for other dtypes pass straight through
// to the f32/f64/integer kernels (cpu::native); these are the table's entries. Depends on cpu_kernels.h.
#include <algorithm>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

// A dense f32 copy of t (a strided or broadcast view is materialized).
Tensor to_f32(const Tensor& t) {
  Tensor f = empty(t.shape(), {.dtype = DType::f32});
  copy(t, f);
  return f;
}

Tensor f32_like(const Tensor& t) { return empty(t.shape(), {.dtype = DType::f32}); }

// Runs `kernel` (which writes its f32 result into the tensor it is given) and rounds that result into out.
template <class Kernel>
void via_f32(const Tensor& out, Kernel kernel) {
  Tensor fo = f32_like(out);
  kernel(fo);
  copy(fo, out);
}

// One GEMM operand or result as a flat f32 buffer covering its element span, addressed with the original
// leading dimension and batch stride. Gaps between rows are converted too (harmlessly: never written back).
struct FloatSpan {
  Tensor buf;
  int64_t span = 0;
};

int64_t span_of(int64_t batch, int64_t batch_stride, int64_t rows, int64_t ld, int64_t cols) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return (batch - 1) * batch_stride + (rows - 1) * ld + cols;
}

FloatSpan span_to_f32(const void* p, DType dtype, int64_t span) {
  FloatSpan s{empty({span}, {.dtype = DType::f32}), span};
  if (span > 0) copy(from_blob(const_cast<void*>(p), {span}, dtype), s.buf);
  return s;
}

}  // namespace

void unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha) {
  if (!is_reduced_float(out.dtype())) return native::unary(k, in, out, alpha);
  via_f32(out, [&](const Tensor& fo) { native::unary(k, to_f32(in), fo, alpha); });
}

void binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!is_reduced_float(a.dtype())) return native::binary(k, a, b, out);
  if (writes_bool(k)) return native::binary(k, to_f32(a), to_f32(b), out);
  via_f32(out, [&](const Tensor& fo) { native::binary(k, to_f32(a), to_f32(b), fo); });
}

void reduce(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices) {
  if (!is_reduced_float(in.dtype())) return native::reduce(k, in, out, indices);
  // Sums accumulate in f32; max/min are exact either way. argmax/argmin write i64 straight into out.
  if (k == ReduceKernel::argmax || k == ReduceKernel::argmin)
    return native::reduce(k, to_f32(in), out, indices);
  via_f32(out, [&](const Tensor& fo) { native::reduce(k, to_f32(in), fo, indices); });
}

void gemm(const GemmArgs& g) {
  if (!is_reduced_float(g.dtype)) return native::gemm(g);
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  FloatSpan a = span_to_f32(g.a, g.dtype, span_of(g.batch, g.stride_a, a_rows, g.lda, a_cols));
  FloatSpan b = span_to_f32(g.b, g.dtype, span_of(g.batch, g.stride_b, b_rows, g.ldb, b_cols));
  const int64_t c_span = span_of(g.batch, g.stride_c, g.m, g.ldc, g.n);
  FloatSpan c = g.beta != 0 ? span_to_f32(g.c, g.dtype, c_span) : FloatSpan{empty({c_span}), c_span};
  if (c_span == 0) return;
  GemmArgs f = g;
  f.dtype = DType::f32;
  f.a = a.buf.data_ptr(), f.b = b.buf.data_ptr(), f.c = c.buf.data_ptr();
  // Operands with a zero-sized dimension have an empty span; any valid pointer does for them.
  if (a.span == 0) f.a = c.buf.data_ptr();
  if (b.span == 0) f.b = c.buf.data_ptr();
  native::gemm(f);
  // Write back only C's elements (its row gaps may belong to other data): one strided copy.
  Tensor dst = as_strided(from_blob(g.c, {c_span}, g.dtype), {g.batch, g.m, g.n}, {g.stride_c, g.ldc, 1}, 0);
  copy(as_strided(c.buf, {g.batch, g.m, g.n}, {g.stride_c, g.ldc, 1}, 0), dst);
}

void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  if (!is_reduced_float(dst.dtype())) return native::scatter_add(dst, dim, index, src);
  // Accumulate every addition in f32 and round once at the end.
  Tensor fd = to_f32(dst);
  native::scatter_add(fd, dim, index, to_f32(src));
  copy(fd, dst);
}

void random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b) {
  if (!is_reduced_float(out.dtype())) return native::random(k, out, seed, offset, a, b);
  // The f32 draw rounded: the same stream as an f32 tensor of the same seed, as on CUDA.
  via_f32(out, [&](const Tensor& fo) { native::random(k, fo, seed, offset, a, b); });
}

void conv2d(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
            const Tensor& out) {
  if (!is_reduced_float(out.dtype())) return native::conv2d(a, x, weight, bias, out);
  via_f32(out, [&](const Tensor& fo) {
    native::conv2d(a, to_f32(x), to_f32(weight), bias.defined() ? to_f32(bias) : bias, fo);
  });
}

void conv2d_backward_data(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                          const Tensor& grad_x) {
  if (!is_reduced_float(grad_x.dtype())) return native::conv2d_backward_data(a, grad_out, weight, grad_x);
  via_f32(grad_x,
          [&](const Tensor& fo) { native::conv2d_backward_data(a, to_f32(grad_out), to_f32(weight), fo); });
}

void conv2d_backward_filter(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                            const Tensor& grad_weight) {
  if (!is_reduced_float(grad_weight.dtype()))
    return native::conv2d_backward_filter(a, x, grad_out, grad_weight);
  via_f32(grad_weight,
          [&](const Tensor& fo) { native::conv2d_backward_filter(a, to_f32(x), to_f32(grad_out), fo); });
}

void max_pool2d(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices) {
  if (!is_reduced_float(out.dtype())) return native::max_pool2d(a, x, out, indices);
  via_f32(out, [&](const Tensor& fo) { native::max_pool2d(a, to_f32(x), fo, indices); });
}

void max_pool2d_backward(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                         const Tensor& grad_x) {
  if (!is_reduced_float(grad_x.dtype())) return native::max_pool2d_backward(a, grad_out, indices, grad_x);
  via_f32(grad_x, [&](const Tensor& fo) { native::max_pool2d_backward(a, to_f32(grad_out), indices, fo); });
}

}  // namespace kiln::cpu
