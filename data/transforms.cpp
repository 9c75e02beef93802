// data/transforms.cpp: the transforms (see transforms.h), as plain loops over contiguous CPU buffers
// (data/ sits below autograd, so no tensor ops). Depends on tensor/, dataset.h and rng.h.
#include "kiln/data/transforms.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "kiln/data/rng.h"

namespace kiln::data {
namespace {

Tensor contiguous_cpu(const Tensor& t, const char* who) {
  KILN_CHECK(t.defined(), who, ": undefined tensor");
  KILN_CHECK(t.device().is_cpu(), who, ": tensors on ", t.device(), " are not supported yet");
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.shape(), {.dtype = t.dtype()});
  out.copy_(t);
  return out;
}

// x as (N, C, H, W): a single image (C, H, W) gets N = 1.
Shape as_nchw(const Tensor& x, const char* who) {
  KILN_CHECK(x.dim() == 3 || x.dim() == 4, who, ": expected images (N, C, H, W) or (C, H, W), got ",
             shape_str(x.shape()));
  Shape s = x.shape();
  if (s.size() == 3) s.insert(s.begin(), 1);
  return s;
}

template <class T>
void normalize_loop(const T* in, T* out, int64_t n, int64_t c, int64_t inner, const std::vector<double>& mean,
                    const std::vector<double>& std) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double m = mean.size() == 1 ? mean[0] : mean[ch];
      const double inv = 1.0 / (std.size() == 1 ? std[0] : std[ch]);
      const int64_t base = (i * c + ch) * inner;
      for (int64_t k = 0; k < inner; ++k) out[base + k] = static_cast<T>((in[base + k] - m) * inv);
    }
}

void check_stats(const std::vector<double>& mean, const std::vector<double>& std, const char* who) {
  KILN_CHECK(!mean.empty() && mean.size() == std.size(), who, ": ", mean.size(), " means but ", std.size(),
             " stds");
  for (size_t i = 0; i < std.size(); ++i)
    KILN_CHECK(std[i] > 0 && std::isfinite(std[i]) && std::isfinite(mean[i]), who, ": channel ", i,
               " has mean ", mean[i], " and std ", std[i], "; std must be finite and > 0");
}

// Running per-channel sums over x (N, C, ...) in f64.
void accumulate(const Tensor& x, std::vector<double>& sum, std::vector<double>& sq, int64_t& count) {
  Tensor c = contiguous_cpu(x, "Standardize::fit");
  KILN_CHECK(c.dtype() == DType::f32 || c.dtype() == DType::f64 || c.dtype() == DType::u8,
             "Standardize::fit: x is ", c.dtype(), "; expected f32, f64 or u8");
  KILN_CHECK(c.dim() >= 2, "Standardize::fit: expected x (N, D) or (N, C, ...), got ", shape_str(c.shape()));
  const int64_t n = c.size(0), ch = c.size(1), inner = c.numel() / std::max<int64_t>(n * ch, 1);
  if (sum.empty()) sum.assign(ch, 0), sq.assign(ch, 0);
  KILN_CHECK(static_cast<int64_t>(sum.size()) == ch, "Standardize::fit: batches differ in features");
  std::vector<double> v = c.to_vector<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < ch; ++j)
      for (int64_t k = 0; k < inner; ++k) {
        double e = v[static_cast<size_t>((i * ch + j) * inner + k)];
        sum[j] += e, sq[j] += e * e;
      }
  count += n * inner;
}

}  // namespace

Transform compose(std::vector<Transform> transforms) {
  return [ts = std::move(transforms)](const Tensor& x, uint64_t seed) {
    Tensor out = x;
    for (size_t k = 0; k < ts.size(); ++k) out = ts[k](out, mix_seed(seed, k));
    return out;
  };
}

Tensor to_tensor(const Tensor& images) {
  KILN_CHECK(images.defined() && images.dtype() == DType::u8 && (images.dim() == 3 || images.dim() == 4),
             "to_tensor: expected u8 images (N, H, W) or (N, H, W, C), got ",
             images.defined() ? shape_str(images.shape()) : "an undefined tensor", " ",
             images.defined() ? dtype_name(images.dtype()) : "");
  Tensor in = contiguous_cpu(images, "to_tensor");
  const int64_t n = in.size(0), h = in.size(1), w = in.size(2), c = in.dim() == 4 ? in.size(3) : 1;
  Tensor out = empty({n, c, h, w});
  const uint8_t* src = in.data<uint8_t>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t ch = 0; ch < c; ++ch)
          dst[((i * c + ch) * h + y) * w + x] =
              static_cast<float>(src[((i * h + y) * w + x) * c + ch]) / 255.0f;
  return out;
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  check_stats(mean, std, "normalize");
  Tensor in = contiguous_cpu(x, "normalize");
  KILN_CHECK(in.dtype() == DType::f32 || in.dtype() == DType::f64, "normalize: x is ", in.dtype(),
             "; expected f32 or f64 (use to_tensor for u8 images)");
  KILN_CHECK(in.dim() >= 2, "normalize: expected x (N, C, ...) or (C, H, W), got ", shape_str(in.shape()));
  const bool single = in.dim() == 3;  // one image (C, H, W)
  const int64_t n = single ? 1 : in.size(0), c = single ? in.size(0) : in.size(1);
  KILN_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == c, "normalize: x ",
             shape_str(in.shape()), " has ", c, " channels but ", mean.size(), " means and stds were given");
  const int64_t inner = in.numel() / std::max<int64_t>(n * c, 1);
  Tensor out = empty(in.shape(), {.dtype = in.dtype()});
  if (in.dtype() == DType::f32)
    normalize_loop(in.data<float>(), out.data<float>(), n, c, inner, mean, std);
  else
    normalize_loop(in.data<double>(), out.data<double>(), n, c, inner, mean, std);
  return out;
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  check_stats(mean_, std_, "Normalize");
}

Standardize Standardize::fit(const Tensor& x_train) {
  std::vector<double> sum, sq;
  int64_t count = 0;
  accumulate(x_train, sum, sq, count);
  KILN_CHECK(count > 0, "Standardize::fit: no training examples");
  Standardize s;
  for (size_t j = 0; j < sum.size(); ++j) {
    double m = sum[j] / static_cast<double>(count);
    double var = std::max(sq[j] / static_cast<double>(count) - m * m, 0.0);
    s.mean_.push_back(m);
    s.std_.push_back(var > 0 ? std::sqrt(var) : 1.0);
  }
  return s;
}

Standardize Standardize::fit(const Dataset& train, int64_t batch_size) {
  KILN_CHECK(batch_size > 0, "Standardize::fit: batch_size must be > 0");
  std::vector<double> sum, sq;
  int64_t count = 0;
  for (int64_t start = 0; start < train.size(); start += batch_size) {
    std::vector<int64_t> idx(static_cast<size_t>(std::min(batch_size, train.size() - start)));
    std::iota(idx.begin(), idx.end(), start);
    accumulate(train.get_batch(idx).x, sum, sq, count);
  }
  KILN_CHECK(count > 0, "Standardize::fit: no training examples");
  Standardize s;
  for (size_t j = 0; j < sum.size(); ++j) {
    double m = sum[j] / static_cast<double>(count);
    double var = std::max(sq[j] / static_cast<double>(count) - m * m, 0.0);
    s.mean_.push_back(m);
    s.std_.push_back(var > 0 ? std::sqrt(var) : 1.0);
  }
  return s;
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  KILN_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p);
}

Tensor RandomHorizontalFlip::operator()(const Tensor& x, uint64_t seed) const {
  const Shape s = as_nchw(x, "RandomHorizontalFlip");
  Tensor in = contiguous_cpu(x, "RandomHorizontalFlip");
  Tensor out = empty(in.shape(), {.dtype = in.dtype()});
  const size_t es = dtype_size(in.dtype());
  const int64_t n = s[0], rows = s[1] * s[2], w = s[3];
  const char* src = static_cast<const char*>(in.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    Rng rng(seed, static_cast<uint64_t>(i));
    const bool flip = rng.uniform() < p_;
    for (int64_t r = 0; r < rows; ++r) {
      const size_t row = static_cast<size_t>((i * rows + r) * w) * es;
      if (!flip) {
        std::memcpy(dst + row, src + row, static_cast<size_t>(w) * es);
        continue;
      }
      for (int64_t k = 0; k < w; ++k) std::memcpy(dst + row + k * es, src + row + (w - 1 - k) * es, es);
    }
  }
  return out;
}

RandomCrop::RandomCrop(std::array<int64_t, 2> size, int64_t padding, double fill)
    : height_(size[0]), width_(size[1]), padding_(padding), fill_(fill) {
  KILN_CHECK(height_ > 0 && width_ > 0 && padding >= 0, "RandomCrop: size (", height_, ", ", width_,
             ") must be positive and padding ", padding, " >= 0");
}

Tensor RandomCrop::operator()(const Tensor& x, uint64_t seed) const {
  const Shape s = as_nchw(x, "RandomCrop");
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  const int64_t ph = h + 2 * padding_, pw = w + 2 * padding_;
  KILN_CHECK(height_ <= ph && width_ <= pw, "RandomCrop: crop (", height_, ", ", width_,
             ") is larger than the padded image (", ph, ", ", pw, ") of x ", shape_str(x.shape()));
  Tensor in = contiguous_cpu(x, "RandomCrop");
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 2] = height_;
  out_shape[out_shape.size() - 1] = width_;
  Tensor out = full(out_shape, fill_, {.dtype = in.dtype()});
  const size_t es = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    Rng rng(seed, static_cast<uint64_t>(i));
    const int64_t top = rng.below(ph - height_ + 1) - padding_, left = rng.below(pw - width_ + 1) - padding_;
    // Output pixel (y, x) comes from input (top + y, left + x) where that lies inside the image.
    const int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(width_, w - left);
    if (x1 <= x0) continue;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = std::max<int64_t>(0, -top); y < std::min(height_, h - top); ++y) {
        const char* from = src + static_cast<size_t>(((i * c + ch) * h + top + y) * w + left + x0) * es;
        char* to = dst + static_cast<size_t>(((i * c + ch) * height_ + y) * width_ + x0) * es;
        std::memcpy(to, from, static_cast<size_t>(x1 - x0) * es);
      }
  }
  return out;
}

}  // namespace kiln::data
