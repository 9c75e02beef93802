// CPU fused kernels (FusedKernel in tensor/backend.h): row-wise softmax / log_softmax, softmax +
// cross-entropy from logits (forward and backward), and bias + activation (forward and backward).
// Rows are independent and each is computed by one thread, so results never depend on the thread count.
// Contiguous rows run as Eigen array expressions in the element type (mixing in double would stop Eigen
// vectorizing the exps); the saved logsumexp is f64 and the shifts against it are taken from the row max.
// Depends on Eigen (vectorized row loops), OpenMP and cpu_kernels.h.
#include <Eigen/Core>
#include <cmath>
#include <vector>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/cpu/eigen_rows.h"
#include "kiln/kernels/shared/activation_math.h"

namespace kiln::cpu {
namespace {

// Below this many elements a kernel runs on one thread (forking costs more than it saves).
constexpr int64_t kSerialBelow = 32768;

// ---- softmax over R of (O, R, I) ----

// One contiguous row of R (I == 1): max, exp(x - max) and its sum, then scale or shift.
template <class T>
void softmax_row(const T* x, T* y, int64_t r, bool log) {
  ConstRow<T> in(x, r);
  Row<T> out(y, r);
  const T m = in.maxCoeff();
  out = (in - m).exp();
  const double s = out.sum();
  if (log) {
    out = (in - m) - static_cast<T>(std::log(s));  // x - max is exact; max + log(s) would round
  } else {
    out *= static_cast<T>(1.0 / s);
  }
}

// One (R, I) block with I > 1: the reduction runs down the columns; per-column state in `m` and `s`.
template <class T>
void softmax_block(const T* x, T* y, int64_t r, int64_t inner, bool log, std::vector<T>& m,
                   std::vector<double>& s) {
  m.assign(x, x + inner);
  for (int64_t k = 1; k < r; ++k)
    for (int64_t i = 0; i < inner; ++i) m[i] = std::max(m[i], x[k * inner + i]);
  s.assign(inner, 0.0);
  for (int64_t k = 0; k < r; ++k)
    for (int64_t i = 0; i < inner; ++i) {
      const T e = std::exp(x[k * inner + i] - m[i]);
      y[k * inner + i] = e;
      s[i] += e;
    }
  for (int64_t k = 0; k < r; ++k)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t p = k * inner + i;
      y[p] = log ? static_cast<T>((x[p] - m[i]) - std::log(s[i])) : static_cast<T>(y[p] / s[i]);
    }
}

template <class T>
void softmax_impl(const Tensor& in, const Tensor& out, bool log) {
  const int64_t O = in.size(0), R = in.size(1), I = in.size(2);
  const T* x = in.data<T>();
  T* y = out.data<T>();
  const bool parallel = O > 1 && O * R * I >= kSerialBelow;
#pragma omp parallel if (parallel)
  {
    std::vector<T> m;
    std::vector<double> s;
#pragma omp for schedule(static)
    for (int64_t o = 0; o < O; ++o) {
      if (I == 1) {
        softmax_row(x + o * R, y + o * R, R, log);
      } else {
        softmax_block(x + o * R * I, y + o * R * I, R, I, log, m, s);
      }
    }
  }
}

// ---- softmax + cross-entropy over K of (O, K, I) ----

struct CeParams {
  int64_t ignore_index;
  double eps;  // label smoothing
};

// logsumexp over K at column i of one (K, I) block; contiguous rows (I == 1) take Eigen's vectorized exp.
template <class T>
double column_lse(const T* x, int64_t k, int64_t inner) {
  if (inner == 1) {
    ConstRow<T> row(x, k);
    const T m = row.maxCoeff();
    return static_cast<double>(m) + std::log(static_cast<double>((row - m).exp().sum()));
  }
  T m = x[0];
  for (int64_t c = 1; c < k; ++c) m = std::max(m, x[c * inner]);
  double s = 0.0;
  for (int64_t c = 0; c < k; ++c) s += std::exp(static_cast<double>(x[c * inner] - m));
  return static_cast<double>(m) + std::log(s);
}

// sum_c w_c (lse - x_c) over one column (w = 1 when null).
template <class T>
double column_smooth(const T* x, int64_t k, int64_t inner, const T* w, double lse) {
  double s = 0.0;
  for (int64_t c = 0; c < k; ++c)
    s += (w ? static_cast<double>(w[c]) : 1.0) * (lse - static_cast<double>(x[c * inner]));
  return s;
}

// loss = sum_c T_c (lse - x_c) for one (o, i): the target term plus, with smoothing, the uniform one.
// Only the target's logit enters the first term, so a -inf logit elsewhere never makes 0 * inf.
template <class T>
double column_loss(const T* x, int64_t k, int64_t inner, int64_t t, const T* w, double lse,
                   const CeParams& p) {
  double loss =
      (1.0 - p.eps) * (w ? static_cast<double>(w[t]) : 1.0) * (lse - static_cast<double>(x[t * inner]));
  if (p.eps > 0.0) loss += p.eps / static_cast<double>(k) * column_smooth(x, k, inner, w, lse);
  return loss;
}

template <class T>
void cross_entropy_impl(const Tensor& logits, const Tensor& target, const Tensor& weight, const CeParams& p,
                        const Tensor& loss, const Tensor& lse) {
  const int64_t O = logits.size(0), K = logits.size(1), I = logits.size(2);
  const T* x = logits.data<T>();
  const int64_t* tg = target.data<int64_t>();
  const T* w = weight.defined() ? weight.data<T>() : nullptr;
  T* l = loss.data<T>();
  double* z = lse.data<double>();
  const int64_t rows = O * I;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * K >= kSerialBelow)
  for (int64_t j = 0; j < rows; ++j) {
    const int64_t o = j / I, i = j % I;
    const T* base = x + o * K * I + i;
    double s = column_lse(base, K, I);
    z[j] = s;
    l[j] = tg[j] == p.ignore_index ? T(0) : static_cast<T>(column_loss(base, K, I, tg[j], w, s, p));
  }
}

template <class T>
void cross_entropy_backward_impl(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                 const CeParams& p, const Tensor& lse, const Tensor& grad_loss,
                                 const Tensor& grad_logits) {
  const int64_t O = logits.size(0), K = logits.size(1), I = logits.size(2);
  const T* x = logits.data<T>();
  const int64_t* tg = target.data<int64_t>();
  const T* w = weight.defined() ? weight.data<T>() : nullptr;
  const double* z = lse.data<double>();
  const T* g = grad_loss.data<T>();
  T* gx = grad_logits.data<T>();
  // sum_k T_k = (1 - eps) w[t] + eps / K sum_k w_k; the second part is the same for every row.
  double wsum = static_cast<double>(K);
  if (w) {
    wsum = 0.0;
    for (int64_t c = 0; c < K; ++c) wsum += static_cast<double>(w[c]);
  }
  const double uniform = p.eps / static_cast<double>(K);
  const int64_t rows = O * I;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * K >= kSerialBelow)
  for (int64_t j = 0; j < rows; ++j) {
    const int64_t o = j / I, i = j % I;
    const T* xb = x + o * K * I + i;
    T* gb = gx + o * K * I + i;
    const int64_t t = tg[j];
    if (t == p.ignore_index) {
      for (int64_t c = 0; c < K; ++c) gb[c * I] = T(0);
      continue;
    }
    const double wt = w ? static_cast<double>(w[t]) : 1.0;
    const double total = (1.0 - p.eps) * wt + uniform * wsum;
    const T a = static_cast<T>(static_cast<double>(g[j]) * total);
    const double zj = z[j];
    const T b = static_cast<T>(static_cast<double>(g[j]) * uniform);
    if (I == 1) {  // contiguous rows: vectorized
      Row<T> out(gb, K);
      ConstRow<T> xr(xb, K);
      const T m = xr.maxCoeff();
      out = ((xr - m) - static_cast<T>(zj - m)).exp() * a;  // x - max is exact; lse - max is small
      if (p.eps > 0.0) {
        if (w) {
          out -= ConstRow<T>(w, K) * b;
        } else {
          out -= b;
        }
      }
    } else {
      for (int64_t c = 0; c < K; ++c)
        gb[c * I] = std::exp(static_cast<T>(xb[c * I] - zj)) * a - (w ? b * w[c] : b);
    }
    gb[t * I] -= static_cast<T>(static_cast<double>(g[j]) * (1.0 - p.eps) * wt);
  }
}

// ---- bias + activation over (N, D) ----

// The activations as Eigen array expressions (the forms the unary kernels use, so fused and unfused
// results agree), with scalar fallbacks where Eigen has no packet op.
template <class T>
void act_row(Activation act, T alpha, const T* x, const T* b, T* y, int64_t d) {
  auto z = ConstRow<T>(x, d) + ConstRow<T>(b, d);
  Row<T> out(y, d);
  switch (act) {
    case Activation::none:
      out = z;
      return;
    case Activation::relu:
      out = z.max(T(0));
      return;
    case Activation::sigmoid:
      out = z.logistic();
      return;
    case Activation::tanh:
      out = z.tanh();
      return;
    case Activation::silu:
      out = z * z.logistic();
      return;
    case Activation::leaky_relu:
      for (int64_t i = 0; i < d; ++i) y[i] = scalar::leaky_relu(x[i] + b[i], alpha);
      return;
    case Activation::gelu:
      for (int64_t i = 0; i < d; ++i) y[i] = scalar::gelu(x[i] + b[i]);
      return;
  }
}

// grad_z = g * act'(z) for one row, from z = x + b or from y as reads_input(A) says (the other is null).
template <Activation A, class T>
void act_grad_row(T alpha, const T* g, const T* x, const T* b, const T* y, T* gz, int64_t d) {
  for (int64_t i = 0; i < d; ++i) {
    if constexpr (reads_input(A)) {
      gz[i] = scalar::activation_grad<A>(g[i], x[i] + b[i], T(0), alpha);
    } else {
      gz[i] = scalar::activation_grad<A>(g[i], T(0), y[i], alpha);
    }
  }
}

template <class T>
void bias_act_impl(Activation act, double alpha, const Tensor& x, const Tensor& bias, const Tensor& out) {
  const int64_t N = x.size(0), D = x.size(1);
  const T* xp = x.data<T>();
  const T* bp = bias.data<T>();
  T* yp = out.data<T>();
#pragma omp parallel for schedule(static) if (N > 1 && N * D >= kSerialBelow)
  for (int64_t n = 0; n < N; ++n) act_row<T>(act, static_cast<T>(alpha), xp + n * D, bp, yp + n * D, D);
}

template <class T>
void bias_act_backward_impl(Activation act, double alpha, const Tensor& g, const Tensor& x,
                            const Tensor& bias, const Tensor& out, const Tensor& gz) {
  const int64_t N = g.size(0), D = g.size(1);
  const bool from_input = reads_input(act);
  const T* gp = g.data<T>();
  const T* xp = from_input ? x.data<T>() : nullptr;
  const T* bp = from_input ? bias.data<T>() : nullptr;
  const T* yp = from_input ? nullptr : out.data<T>();
  T* gzp = gz.data<T>();
  scalar::with_activation(act, [&](auto a) {
#pragma omp parallel for schedule(static) if (N > 1 && N * D >= kSerialBelow)
    for (int64_t n = 0; n < N; ++n)
      act_grad_row<decltype(a)::value, T>(static_cast<T>(alpha), gp + n * D, xp ? xp + n * D : nullptr, bp,
                                          yp ? yp + n * D : nullptr, gzp + n * D, D);
  });
}

}  // namespace

void softmax(const Tensor& in, const Tensor& out, bool log) {
  KILN_ASSERT(in.dim() == 3 && in.is_contiguous() && out.is_contiguous(),
              "softmax kernel: contiguous (O, R, I)");
  if (in.numel() == 0) return;
  KILN_DISPATCH_FLOAT(in.dtype(), "softmax", [&] { softmax_impl<scalar_t>(in, out, log); });
}

void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   double label_smoothing, const Tensor& loss, const Tensor& lse) {
  KILN_ASSERT(logits.dim() == 3 && logits.is_contiguous() && target.is_contiguous(),
              "cross_entropy kernel: contiguous (O, K, I) logits and (O, I) target");
  if (loss.numel() == 0) return;
  KILN_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    cross_entropy_impl<scalar_t>(logits, target, weight, {ignore_index, label_smoothing}, loss, lse);
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& weight,
                            int64_t ignore_index, double label_smoothing, const Tensor& lse,
                            const Tensor& grad_loss, const Tensor& grad_logits) {
  KILN_ASSERT(logits.dim() == 3 && logits.is_contiguous() && grad_loss.is_contiguous(),
              "cross_entropy_backward kernel: contiguous operands");
  if (grad_logits.numel() == 0) return;
  KILN_DISPATCH_FLOAT(logits.dtype(), "cross_entropy_backward", [&] {
    cross_entropy_backward_impl<scalar_t>(logits, target, weight, {ignore_index, label_smoothing}, lse,
                                          grad_loss, grad_logits);
  });
}

void bias_act(Activation act, double alpha, const Tensor& x, const Tensor& bias, const Tensor& out) {
  KILN_ASSERT(x.dim() == 2 && x.is_contiguous() && bias.is_contiguous(),
              "bias_act kernel: contiguous (N, D)");
  if (x.numel() == 0) return;
  KILN_DISPATCH_FLOAT(x.dtype(), "bias_act", [&] { bias_act_impl<scalar_t>(act, alpha, x, bias, out); });
}

void bias_act_backward(Activation act, double alpha, const Tensor& grad_out, const Tensor& x,
                       const Tensor& bias, const Tensor& out, const Tensor& grad_z) {
  KILN_ASSERT(grad_out.dim() == 2 && grad_out.is_contiguous(), "bias_act_backward kernel: contiguous (N, D)");
  if (grad_out.numel() == 0) return;
  KILN_DISPATCH_FLOAT(grad_out.dtype(), "bias_act_backward",
                      [&] { bias_act_backward_impl<scalar_t>(act, alpha, grad_out, x, bias, out, grad_z); });
}

}  // namespace kiln::cpu
