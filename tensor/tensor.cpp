// Tensor metadata, element access and the copies that never record (copy_, fill_, detach).
#include "kiln/tensor/tensor.h"

#include <sstream>

#include "kiln/tensor/backend.h"
#include "kiln/tensor/checked.h"

namespace kiln {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Shape contiguous_strides(const Shape& shape) {
  checked_numel(shape, "contiguous_strides");  // the strides below are partial products of the sizes
  Shape strides(shape.size());
  int64_t st = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = st;
    st *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) { return checked_numel(shape, "tensor"); }

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  KILN_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " out of range for a tensor with ", ndim,
             " dims (expected in [", lo, ", ", hi, "])");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    KILN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }

bool Tensor::is_contiguous() const {
  const auto& sh = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const auto& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

template <class T>
T* Tensor::data() const {
  KILN_CHECK(dtype() == dtype_of<T>, "data<", dtype_name(dtype_of<T>), ">(): the tensor's dtype is ",
             dtype());
  return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;
template int32_t* Tensor::data<int32_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;
template bool* Tensor::data<bool>() const;
template Half* Tensor::data<Half>() const;
template BFloat16* Tensor::data<BFloat16>() const;

namespace {
// A CPU copy of t (t itself when already there), without autograd: the non-CPU backend's copy kernel
// moves the bytes (backend.h allows copy across devices when one side is the CPU).
Tensor host_tensor(const Tensor& t) {
  if (t.device().is_cpu()) return t;
  Tensor dst = empty(t.shape(), {.dtype = t.dtype()});
  backend(t.device()).copy(t, dst);
  return dst;
}
}  // namespace

template <class T>
T Tensor::item() const {
  KILN_CHECK(numel() == 1, "item(): needs a tensor with one element, got shape ", shape_str(shape()));
  Tensor c = host_tensor(*this);
  return KILN_DISPATCH_WITH_HALF(c.dtype(), "item",
                                 [&] { return static_cast<T>(*static_cast<scalar_t*>(c.data_ptr())); });
}

template <class T>
T& Tensor::at(std::initializer_list<int64_t> index) const {
  KILN_CHECK(device().is_cpu(), "at(): element access needs a CPU tensor, this one is on ", device());
  KILN_CHECK(dtype() == dtype_of<T>, "at<", dtype_name(dtype_of<T>), ">(): the tensor's dtype is ", dtype());
  KILN_CHECK(static_cast<int64_t>(index.size()) == dim(), "at(): ", index.size(),
             " indices for a tensor of shape ", shape_str(shape()));
  int64_t off = 0, d = 0;
  for (int64_t i : index) {
    KILN_CHECK(i >= -shape()[d] && i < shape()[d], "at(): index ", i, " out of range for dim ", d,
               " of shape ", shape_str(shape()));
    off += (i < 0 ? i + shape()[d] : i) * strides()[d];
    ++d;
  }
  return static_cast<T*>(data_ptr())[off];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = host_tensor(*this);
  Tensor dense = empty(c.shape(), {.dtype = dtype_of<T>});
  dense.copy_(c);
  const T* p = dense.data<T>();
  return std::vector<T>(p, p + dense.numel());
}

#define KILN_INSTANTIATE(T)                                        \
  template T Tensor::item<T>() const;                              \
  template T& Tensor::at<T>(std::initializer_list<int64_t>) const; \
  template std::vector<T> Tensor::to_vector<T>() const;
KILN_INSTANTIATE(float)
KILN_INSTANTIATE(double)
KILN_INSTANTIATE(int64_t)
KILN_INSTANTIATE(int32_t)
KILN_INSTANTIATE(uint8_t)
KILN_INSTANTIATE(Half)
KILN_INSTANTIATE(BFloat16)
#undef KILN_INSTANTIATE
template bool Tensor::item<bool>() const;
template bool& Tensor::at<bool>(std::initializer_list<int64_t>) const;
// std::vector<bool> is bit-packed; read bools as uint8_t instead.

Tensor& Tensor::requires_grad_(bool on) {
  KILN_CHECK(is_leaf(),
             "requires_grad_(): only leaf tensors can change requires_grad, and this one was computed "
             "by an op; call detach() first to get a leaf");
  KILN_CHECK(!on || is_floating(dtype()),
             "requires_grad_(): only floating tensors can require gradients, got ", dtype(), " ",
             shape_str(shape()));
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& g = checked().grad;
  return g ? Tensor(g) : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    KILN_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad(): gradient of shape ",
               shape_str(g.shape()), " ", g.dtype(), " for a tensor of shape ", shape_str(shape()), " ",
               dtype());
  impl_->grad = g.impl_ptr();
}

Tensor Tensor::detach() const {
  const auto& t = checked();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->offset = t.offset;
  impl->dtype = t.dtype;
  return Tensor(std::move(impl));
}

void Tensor::set_data(const Tensor& src) const {
  KILN_CHECK(src.defined(), "set_data: the source tensor is undefined");
  KILN_CHECK(is_leaf(), "set_data: only a leaf tensor's data can be replaced (this one was computed by ",
             "an op)");
  const auto& s = src.checked();
  impl_->storage = s.storage;
  impl_->shape = s.shape;
  impl_->strides = s.strides;
  impl_->offset = s.offset;
  impl_->dtype = s.dtype;
  impl_->grad.reset();
}

Tensor& Tensor::copy_(const Tensor& src) {
  KILN_CHECK(src.device() == device(), "copy_: source on ", src.device(), ", destination on ", device(),
             " (use .to(device) first)");
  Shape b = broadcast_shapes(src.shape(), shape(), "copy_");
  KILN_CHECK(b == shape(), "copy_: source of shape ", shape_str(src.shape()), " does not broadcast to ",
             shape_str(shape()));
  if (numel() == 0) return *this;
  // Broadcast the source by giving it zero strides, then let the backend copy and convert.
  Shape strides(dim(), 0);
  int64_t lead = dim() - src.dim();
  for (int64_t i = 0; i < src.dim(); ++i) strides[lead + i] = src.shape()[i] == 1 ? 0 : src.strides()[i];
  Tensor view = as_strided(src, shape(), strides, src.offset());
  backend(device()).copy(view, *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::fill_(double value) {
  if (numel() > 0) backend(device()).fill(*this, value);
  storage()->bump_version();
  return *this;
}

Tensor as_strided(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  KILN_CHECK(shape.size() == strides.size(), "as_strided: ", shape.size(), " sizes but ", strides.size(),
             " strides");
  checked_numel(shape, "as_strided");
  KILN_CHECK(offset >= 0, "as_strided: negative storage offset ", offset);
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) lo = 0, hi = -1;
    if (shape[i] == 0) break;
    // Overflow-checked: a huge stride must be refused, not wrap into the storage's range.
    int64_t span = 0;
    KILN_CHECK(!__builtin_mul_overflow(shape[i] - 1, strides[i], &span) &&
                   !__builtin_add_overflow(span >= 0 ? hi : lo, span, span >= 0 ? &hi : &lo),
               "as_strided: view ", shape_str(shape), " with strides ", shape_str(strides), " at offset ",
               offset, " overflows the index range");
  }
  int64_t capacity = static_cast<int64_t>(t.storage()->nbytes() / dtype_size(t.dtype()));
  KILN_CHECK(hi < lo || (lo >= 0 && hi < capacity), "as_strided: view ", shape_str(shape), " with strides ",
             shape_str(strides), " at offset ", offset, " leaves the storage of ", capacity, " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

}  // namespace kiln
