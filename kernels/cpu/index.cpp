// CPU index_select, gather and scatter_add (index values arrive already range-checked by the ops), the
// index range check itself, and arange.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

// Calls f(position in `shape` as a linear row-major index, coordinates) for every element, in order.
template <class F>
void for_each_coord(const Shape& shape, F f) {
  const int64_t n = shape_numel(shape);
  Shape c(shape.size(), 0);
  for (int64_t p = 0; p < n; ++p) {
    f(p, c);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

int64_t offset_of(const Shape& coord, const Shape& strides, size_t skip_dim, int64_t at_skip) {
  int64_t off = 0;
  for (size_t d = 0; d < coord.size(); ++d) off += (d == skip_dim ? at_skip : coord[d]) * strides[d];
  return off;
}

}  // namespace

void index_select(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out) {
  KILN_ASSERT(src.is_contiguous() && out.is_contiguous() && index.is_contiguous(),
              "index_select: contiguous");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= src.size(d);
  for (int64_t d = dim + 1; d < src.dim(); ++d) inner *= src.size(d);
  const int64_t rows = src.size(dim), picks = index.numel();
  const size_t bytes = inner * dtype_size(src.dtype());
  const char* s = static_cast<const char*>(src.data_ptr());
  char* o = static_cast<char*>(out.data_ptr());
  const int64_t* idx = index.data<int64_t>();
#pragma omp parallel for schedule(static) if (outer * picks * inner > 32768)
  for (int64_t t = 0; t < outer * picks; ++t) {
    int64_t oo = t / picks, j = t % picks;
    std::memcpy(o + t * bytes, s + (oo * rows + idx[j]) * bytes, bytes);
  }
}

void gather(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out) {
  KILN_ASSERT(out.is_contiguous(), "gather: contiguous output");
  const int64_t* idx = static_cast<const int64_t*>(index.data_ptr());
  KILN_DISPATCH_WITH_HALF(src.dtype(), "gather", [&] {
    const scalar_t* s = static_cast<const scalar_t*>(src.data_ptr());
    scalar_t* o = static_cast<scalar_t*>(out.data_ptr());
    for_each_coord(index.shape(), [&](int64_t p, const Shape& c) {
      int64_t j = idx[offset_of(c, index.strides(), SIZE_MAX, 0)];
      o[p] = s[offset_of(c, src.strides(), static_cast<size_t>(dim), j)];
    });
  });
}

void native::scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t* idx = static_cast<const int64_t*>(index.data_ptr());
  KILN_DISPATCH_ALL(dst.dtype(), "scatter_add", [&] {
    scalar_t* d = static_cast<scalar_t*>(dst.data_ptr());
    const scalar_t* s = static_cast<const scalar_t*>(src.data_ptr());
    // Serial: two positions may add into the same destination element.
    for_each_coord(index.shape(), [&](int64_t, const Shape& c) {
      int64_t j = idx[offset_of(c, index.strides(), SIZE_MAX, 0)];
      d[offset_of(c, dst.strides(), static_cast<size_t>(dim), j)] +=
          s[offset_of(c, src.strides(), SIZE_MAX, 0)];
    });
  });
}

}  // namespace kiln::cpu

namespace kiln::cpu {

void check_index(const Tensor& index, const IndexCheck& c) {
  if (index.numel() == 0) return;
  Tensor dense = index;
  if (!index.is_contiguous()) {
    dense = empty(index.shape(), {.dtype = DType::i64});
    copy(index, dense);
  }
  const int64_t* p = dense.data<int64_t>();
  // The smallest and largest value that is not the allowed one; the message names the smallest when it is
  // too small, else the largest (what the former amin/amax check reported).
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t i = 0; i < dense.numel(); ++i) {
    if (c.has_allowed && p[i] == c.allowed) continue;
    lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
  }
  if (lo > hi) return;  // every value is the allowed one
  KILN_CHECK(lo >= c.lo && hi < c.hi, index_range_message(c, lo < c.lo ? lo : hi));
}

void arange(const Tensor& out, double start, double step) {
  // Values in f64 then one conversion by the copy kernel: the same numbers the host-built range had.
  Tensor values = empty(out.shape(), {.dtype = DType::f64});
  double* v = values.data<double>();
  for (int64_t i = 0; i < values.numel(); ++i) v[i] = start + static_cast<double>(i) * step;
  copy(values, out);
}

}  // namespace kiln::cpu
