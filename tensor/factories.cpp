// Tensor factories: empty/zeros/ones/full, ranges, eye, from_blob/from_vector and the random draws.
#include <algorithm>
#include <cmath>

#include "kiln/tensor/backend.h"
#include "kiln/tensor/checked.h"
#include "kiln/tensor/random.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

namespace {
// Every factory and kernel output allocates here: a failure names the shape, dtype and bytes.
Storage allocate_storage(size_t nbytes, Device device, const Shape& shape, DType dtype) {
  const auto describe = [&] {
    return detail::cat_message("a ", dtype, " tensor of shape ", shape_str(shape), " (", nbytes,
                               " bytes) on ", device);
  };
  if (device.is_cpu()) {
    const size_t ram = physical_memory_bytes();
    KILN_CHECK(ram == 0 || nbytes <= ram, "empty: ", describe(), " is larger than this machine's ", ram,
               " bytes of memory");
  }
  try {
    return std::make_shared<StorageImpl>(nbytes, device);
  } catch (const std::bad_alloc&) {
    KILN_CHECK(false, "empty: out of memory allocating ", describe());
  } catch (const Error& e) {
    KILN_CHECK(false, "empty: cannot allocate ", describe(), ": ", e.what());
  }
  return nullptr;
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  const size_t nbytes = checked_nbytes(shape, options.dtype, "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = allocate_storage(nbytes, options.device, shape, options.dtype);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  Tensor t(std::move(impl));
  if (options.requires_grad) t.requires_grad_();
  return t;
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  t.fill_(value);
  if (rg) t.requires_grad_();
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, {.dtype = t.dtype(), .device = t.device()});
}
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

namespace {
// Builds small host-computed tensors (ranges, eye) in f64 and converts to the requested dtype/device.
Tensor from_host_tensor(const Tensor& host, TensorOptions options) {
  const Shape& shape = host.shape();
  Tensor out = empty(shape, {.dtype = options.dtype, .device = options.device});
  if (options.device.is_cpu()) {
    out.copy_(host);
  } else {
    Tensor staged = empty(shape, {.dtype = options.dtype});
    staged.copy_(host);
    backend(options.device).copy(staged, out);
  }
  if (options.requires_grad) out.requires_grad_();
  return out;
}
}  // namespace

Tensor arange(double start, double end, double step, TensorOptions options) {
  KILN_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: start ", start,
             ", end ", end, " and step ", step, " must be finite");
  KILN_CHECK(step != 0, "arange: step must be nonzero");
  KILN_CHECK((end - start) / step >= 0 || start == end, "arange: start ", start, " end ", end, " step ", step,
             " is an empty or unbounded range (step has the wrong sign)");
  const double count = std::ceil((end - start) / step);
  const int64_t n = to_int64(count, "arange", "the element count (end - start) / step");
  // Written by the device's own kernel: no host copy (one_hot builds its classes this way every step).
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor out = empty({n}, options);
  if (n > 0) backend(options.device).arange(out, start, step);
  if (rg) out.requires_grad_();
  return out;
}
Tensor arange(int64_t end, TensorOptions options) {
  return arange(0.0, static_cast<double>(end), 1.0, options);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  KILN_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  KILN_CHECK(std::isfinite(start) && std::isfinite(end), "linspace: start ", start, " and end ", end,
             " must be finite");
  // The f64 staging tensor is allocated (and its size checked) before any value is computed.
  Tensor host = empty({steps}, {.dtype = DType::f64});
  double* v = host.data<double>();
  for (int64_t i = 0; i < steps; ++i)
    v[i] =
        steps == 1 ? start : start + (end - start) * static_cast<double>(i) / static_cast<double>(steps - 1);
  return from_host_tensor(host, options);
}

Tensor eye(int64_t n, TensorOptions options) {
  KILN_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  checked_numel({n, n}, "eye");
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor out = zeros({n, n}, options);
  // The diagonal is the view with stride n + 1; the device's own fill writes it.
  if (n > 0) as_strided(out, {n}, {n + 1}, 0).fill_(1.0);
  if (rg) out.requires_grad_();
  return out;
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter) {
  auto impl = std::make_shared<TensorImpl>();
  KILN_CHECK(data != nullptr || shape_numel(shape) == 0, "from_blob: null data for shape ", shape_str(shape));
  impl->storage = std::make_shared<StorageImpl>(data, checked_nbytes(shape, dtype, "from_blob"),
                                                Device::cpu(), std::move(deleter));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

template <class T>
Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape, std::optional<DType> dtype) {
  Shape s = shape.value_or(Shape{static_cast<int64_t>(values.size())});
  KILN_CHECK(shape_numel(s) == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
             " values for shape ", shape_str(s));
  Tensor t = empty(s, {.dtype = dtype_of<T>});
  std::copy(values.begin(), values.end(), t.data<T>());
  if (dtype && *dtype != dtype_of<T>) {
    Tensor converted = empty(s, {.dtype = *dtype});
    converted.copy_(t);
    return converted;
  }
  return t;
}
template Tensor from_vector(const std::vector<float>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<double>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<int64_t>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<int32_t>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<uint8_t>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<Half>&, std::optional<Shape>, std::optional<DType>);
template Tensor from_vector(const std::vector<BFloat16>&, std::optional<Shape>, std::optional<DType>);

// std::vector<bool> has no contiguous storage; copy element by element.
template <>
Tensor from_vector(const std::vector<bool>& values, std::optional<Shape> shape, std::optional<DType> dtype) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return from_vector(bytes, shape, dtype.value_or(DType::boolean));
}

// ---- random draws ----
namespace {
Tensor draw(RandomKernel k, const Shape& shape, TensorOptions options, double a, double b) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  const Backend& be = backend(options.device);
  check_supported(k, options.dtype, options.device, kernel_name(k));
  Generator& g = default_generator();
  uint64_t offset = g.advance(static_cast<uint64_t>(t.numel()));
  if (t.numel() > 0) be.random(k, t, g.seed(), offset, a, b);
  if (rg) t.requires_grad_();
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions options) {
  return draw(RandomKernel::uniform, shape, options, 0, 1);
}
Tensor randn(const Shape& shape, TensorOptions options) {
  return draw(RandomKernel::normal, shape, options, 0, 1);
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options) {
  KILN_CHECK(low < high, "randint: low (", low, ") must be below high (", high, ")");
  return draw(RandomKernel::randint, shape, options, static_cast<double>(low), static_cast<double>(high));
}
Tensor bernoulli(const Shape& shape, double p, TensorOptions options) {
  KILN_CHECK(p >= 0 && p <= 1, "bernoulli: p must lie in [0, 1], got ", p);
  return draw(RandomKernel::bernoulli, shape, options, p, 0);
}
Tensor bernoulli(const Tensor& probs) {
  Tensor u = rand(probs.shape(), {.dtype = probs.dtype(), .device = probs.device()});
  // 1 where u < p, computed by the backend's comparison and cast.
  Tensor below = empty(probs.shape(), {.dtype = DType::boolean, .device = probs.device()});
  backend(probs.device()).binary(BinaryKernel::lt, u, probs.detach(), below);
  Tensor out = empty(probs.shape(), {.dtype = probs.dtype(), .device = probs.device()});
  out.copy_(below);
  return out;
}

Tensor& Tensor::uniform_(double low, double high) {
  Tensor r = draw(RandomKernel::uniform, shape(), {.dtype = dtype(), .device = device()}, low, high);
  return copy_(r);
}
Tensor& Tensor::normal_(double mean, double std) {
  Tensor r = draw(RandomKernel::normal, shape(), {.dtype = dtype(), .device = device()}, mean, std);
  return copy_(r);
}

}  // namespace kiln
