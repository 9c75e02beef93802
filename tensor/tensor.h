// kiln/tensor/tensor.h: Tensor, a cheap handle to (storage, shape, strides, offset, dtype) plus autograd
// metadata. Shapes use N batch, C channels, H/W spatial, D features, K classes in comments.
//
// Layering: tensor/ owns the data structure, element access, copies and the kernel table. The
// differentiable methods declared in the second half of `class Tensor` (reshape, sum, exp, backward, ...)
// are thin forwards to the ops in autograd/ and are defined there (autograd/tensor_methods.cpp); the
// tensor library itself never calls them. Depends on dtype.h, device.h, storage.h, error.h.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor/device.h"
#include "kiln/tensor/dtype.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/storage.h"

namespace kiln {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3]"

namespace autograd {
class Node;
}
class Tensor;

// Everything a Tensor handle points to. Views share `storage` and differ in shape/strides/offset.
struct TensorImpl {
  Storage storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // autograd metadata
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;         // set on results of recorded ops
  std::shared_ptr<TensorImpl> grad;                // accumulated gradient of a leaf
  std::weak_ptr<autograd::Node> grad_accumulator;  // a leaf's accumulation node, while a graph uses it
};

struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

// The result of max/min along a dimension.
struct ValuesIndices;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (like a null handle)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- metadata (tensor/) ----
  const Shape& shape() const { return checked().shape; }
  const Shape& sizes() const { return shape(); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  const Shape& strides() const { return checked().strides; }
  int64_t stride(int64_t dim) const;
  int64_t offset() const { return checked().offset; }
  int64_t numel() const;
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  bool is_contiguous() const;
  const Storage& storage() const { return checked().storage; }
  void* data_ptr() const;  // the first element (storage + offset)
  template <class T>
  T* data() const;          // checks that T matches dtype()
  std::string str() const;  // readable printing, as operator<<

  // ---- element access for tests and small programs (CPU tensors) ----
  template <class T>
  T item() const;  // the single element, converted to T
  template <class T>
  T& at(std::initializer_list<int64_t> index) const;  // a reference into storage
  template <class T>
  std::vector<T> to_vector() const;  // row-major copy, converted to T

  // ---- autograd metadata ----
  bool requires_grad() const { return checked().requires_grad; }
  Tensor& requires_grad_(bool on = true);  // only on leaves
  Tensor grad() const;  // the accumulated gradient of a leaf (undefined before the first backward)
  void set_grad(const Tensor& g) const;
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked().grad_fn; }
  // A tensor sharing storage, with no history and requires_grad false.
  Tensor detach() const;

  // ---- copies that never record (tensor/) ----
  // Copies src (broadcast to this shape, any dtype) into this tensor in place.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  // Makes this tensor (every handle to it) hold src's data, shape and dtype, keeping its own identity and
  // requires_grad: how Module::to(dtype/device) converts parameters that optimizers already hold. Only for
  // leaves; any accumulated gradient is dropped. Like PyTorch's `param.data = new`.
  void set_data(const Tensor& src) const;
  // Refills in place from the default generator (initializers use these).
  Tensor& uniform_(double low = 0.0, double high = 1.0);
  Tensor& normal_(double mean = 0.0, double std = 1.0);

  // ---- differentiable methods, defined in autograd/ (see the layering note above) ----
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;

  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;  // like reshape, but requires a copy-free view
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;

  Tensor sum(const Shape& dims = {}, bool keepdim = false) const;
  Tensor mean(const Shape& dims = {}, bool keepdim = false) const;
  Tensor max() const;
  ValuesIndices max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  ValuesIndices min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;

  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor square() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;

  // In-place arithmetic (autograd/): allowed on tensors outside a recorded graph, or under NoGradGuard
  // (the optimizer's case); bumps the storage version.
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value);

 private:
  const TensorImpl& checked() const {
    KILN_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- construction (tensor/) ----
// A new tensor with its own contiguous storage (uninitialized for empty()).
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor empty_like(const Tensor& t);
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor ones_like(const Tensor& t);
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, TensorOptions options = {});  // 0-d
// [start, end) in steps of `step`; dtype i64 unless options say otherwise.
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {.dtype = DType::i64});
Tensor arange(int64_t end, TensorOptions options = {.dtype = DType::i64});
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, TensorOptions options = {});
// Random tensors from the default generator (tensor/random.h): U[low, high), N(0, 1), integers in
// [low, high), and 0/1 draws with probability p (per element when given a tensor of probabilities).
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = DType::i64});
Tensor bernoulli(const Shape& shape, double p, TensorOptions options = {});
Tensor bernoulli(const Tensor& probs);
// Wraps memory owned by the caller (no copy); `deleter` runs when the last view goes away.
Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter = {});
// Copies `values` into a new tensor of `shape` (1-D by default) and dtype (T's by default).
template <class T>
Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape = std::nullopt,
                   std::optional<DType> dtype = std::nullopt);
// std::vector<bool> stores bits, so bools get their own definition (a bool tensor by default).
template <>
Tensor from_vector(const std::vector<bool>& values, std::optional<Shape> shape, std::optional<DType> dtype);
// A strided view of t's storage; the caller guarantees it stays in bounds (checked).
Tensor as_strided(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);

// Tensor metadata helpers shared by kernels and ops.
Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);  // negative dims; checks range
// NumPy broadcasting of two shapes; throws kiln::Error naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- explicit template instantiations live in tensor.cpp ----
extern template float* Tensor::data<float>() const;
extern template double* Tensor::data<double>() const;
extern template int64_t* Tensor::data<int64_t>() const;
extern template int32_t* Tensor::data<int32_t>() const;
extern template uint8_t* Tensor::data<uint8_t>() const;
extern template bool* Tensor::data<bool>() const;
extern template Half* Tensor::data<Half>() const;
extern template BFloat16* Tensor::data<BFloat16>() const;

}  // namespace kiln
