// Indexing ops: index_select, gather, scatter_add, one_hot. Index values are range-checked here (on the
// host for CPU tensors; on CUDA by a queued check reported at the next synchronization, while the kernels
// skip bad values), so kernels never read or write out of bounds.
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

// gather/scatter_add: index has the input's rank and no larger size in any dim but `dim`.
void check_gather_shapes(const char* op, const Tensor& x, int64_t d, const Tensor& index) {
  KILN_CHECK(index.dim() == x.dim(), op, ": index ", shape_str(index.shape()),
             " must have as many dims as input ", shape_str(x.shape()));
  for (int64_t k = 0; k < x.dim(); ++k)
    KILN_CHECK(k == d || index.shape()[k] <= x.shape()[k], op, ": index ", shape_str(index.shape()),
               " is larger than input ", shape_str(x.shape()), " in dim ", k);
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("index_select", x);
  check_defined("index_select", index, "index");
  check_same_device("index_select", {&x, &index});
  KILN_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got ", shape_str(index.shape()));
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  check_index_range(index, 0, x.dim() ? x.shape()[d] : 1, "index_select");
  Shape shape = x.shape();
  if (!shape.empty()) shape[d] = index.numel();
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() > 0)
    backend(x.device()).index_select(contiguous(x.detach()), d, contiguous(reshape(index, {-1})), out);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    Tensor idx = reshape(index, {-1});
    record("index_select", {x}, out, [in_shape, d, idx](const Tensor& g, const Tensor&) {
      // Scatter rows back; repeated indices accumulate. The 1-D index is broadcast to g's shape.
      Shape view(g.dim(), 1);
      view[d] = idx.numel();
      Tensor full_index = contiguous(expand(reshape(idx, view), g.shape()));
      return Grads{
          scatter_add(zeros(in_shape, {.dtype = g.dtype(), .device = g.device()}), d, full_index, g)};
    });
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("gather", x);
  check_defined("gather", index, "index");
  check_same_device("gather", {&x, &index});
  int64_t d = wrap_dim(dim, x.dim(), "gather");
  check_gather_shapes("gather", x, d, index);
  check_index_range(index, 0, x.shape()[d], "gather");
  Tensor out = empty(index.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() > 0) backend(x.device()).gather(x.detach(), d, index, out);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    record("gather", {x}, out, [in_shape, d, index](const Tensor& g, const Tensor&) {
      return Grads{scatter_add(zeros(in_shape, {.dtype = g.dtype(), .device = g.device()}), d, index, g)};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("scatter_add", x);
  check_defined("scatter_add", index, "index");
  check_defined("scatter_add", src, "src");
  check_same_device("scatter_add", {&x, &index, &src});
  check_same_dtype("scatter_add", x, src);
  int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
  check_gather_shapes("scatter_add", x, d, index);
  KILN_CHECK(index.shape() == src.shape(), "scatter_add: index ", shape_str(index.shape()), " and src ",
             shape_str(src.shape()), " must have the same shape");
  check_index_range(index, 0, x.shape()[d], "scatter_add");
  Tensor out = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  out.copy_(x.detach());
  if (index.numel() > 0) backend(x.device()).scatter_add(out, d, index, src.detach());
  if (autograd::needs_grad({&x, &src})) {
    record("scatter_add", {x, src}, out, [d, index](const Tensor& g, const Tensor&) {
      return Grads{g, gather(g, d, index)};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  check_defined("one_hot", labels);
  KILN_CHECK(labels.dtype() == DType::i64, "one_hot: labels must be i64, got ", labels.dtype());
  KILN_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  check_index_range(labels, 0, num_classes, "one_hot");
  Tensor classes = arange(num_classes, {.dtype = DType::i64, .device = labels.device()});
  return cast(eq(unsqueeze(labels, -1), classes), DType::i64);
}

}  // namespace kiln
