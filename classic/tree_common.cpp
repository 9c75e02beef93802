// classic/tree_common.cpp: the shared helpers of the tree ensembles (see tree_common.h). Depends on
// tensor/ only.
#include "kiln/classic/tree_common.h"
#include "kiln/classic/tensor_convert.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/tensor/threads.h"

namespace kiln::classic::detail {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

bool is_float_type(DType t) { return t == DType::f32 || t == DType::f64; }
bool is_integer(DType t) { return t == DType::i64 || t == DType::i32 || t == DType::u8; }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  KILN_ASSERT(n >= 1);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t r;
  do r = next();
  while (r >= limit);
  return r % n;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::vector<float> to_f32_rows(const Tensor& X, const std::string& who, bool need_rows) {
  KILN_CHECK(X.defined(), who, ": X is an undefined tensor");
  KILN_CHECK(X.dim() == 2, who, ": X must be 2-D (n_samples, n_features), got shape ", shape_str(X.shape()));
  KILN_CHECK(is_floating(X.dtype()) || is_integer(X.dtype()), who, ": X must be floating or integer, got ",
             dtype_name(X.dtype()));
  KILN_CHECK(!need_rows || X.size(0) >= 1, who, ": X has no rows (shape ", shape_str(X.shape()), ")");
  KILN_CHECK(X.size(1) >= 1, who, ": X has no features (shape ", shape_str(X.shape()), ")");
  Tensor c = cpu_contiguous_as(X, DType::f32, "tree");
  const float* p = c.data<float>();
  std::vector<float> out(p, p + c.numel());
  // Checked after the conversion: a finite f64 too large for float32 becomes infinity here.
  validation::check_finite(out.data(), out.size(), X.size(1), who, "X (as float32)");
  return out;
}

std::vector<float> rows_for_predict(const Tensor& X, bool fitted, int64_t n_features, const std::string& who,
                                    const char* method) {
  validation::check_fitted(fitted, who + "." + method);
  KILN_CHECK(X.defined() && X.dim() == 2, who, ": ", method, "() needs a 2-D X (n_samples, n_features), got ",
             X.defined() ? shape_str(X.shape()) : std::string("an undefined tensor"));
  KILN_CHECK(X.size(1) == n_features, who, ": X has ", X.size(1), " features, but the model was fitted with ",
             n_features, " (X shape ", shape_str(X.shape()), ")");
  return to_f32_rows(X, who, false);
}

EncodedLabels encode_labels(const Tensor& y, int64_t n, const std::string& who) {
  KILN_CHECK(y.defined(), who, ": y is an undefined tensor");
  KILN_CHECK(y.dim() == 1 && y.size(0) == n, who, ": y must have shape [", n,
             "] (one label per row of X), got ", shape_str(y.shape()));
  KILN_CHECK(is_integer(y.dtype()), who, ": class labels y must be an integer tensor (i64), got ",
             dtype_name(y.dtype()), "; use a regressor for continuous targets");
  std::vector<int64_t> v = y.to_vector<int64_t>();
  EncodedLabels out;
  out.classes = v;
  std::sort(out.classes.begin(), out.classes.end());
  out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
  out.codes.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out.codes[i] = static_cast<int32_t>(std::lower_bound(out.classes.begin(), out.classes.end(), v[i]) -
                                        out.classes.begin());
  return out;
}

std::vector<double> regression_targets(const Tensor& y, int64_t n, const std::string& who) {
  KILN_CHECK(y.defined(), who, ": y is an undefined tensor");
  KILN_CHECK(y.dim() == 1 && y.size(0) == n, who, ": y must have shape [", n,
             "] (one target per row of X), got ", shape_str(y.shape()));
  KILN_CHECK(is_float_type(y.dtype()) || is_integer(y.dtype()), who, ": y must be floating, got ",
             dtype_name(y.dtype()));
  std::vector<double> v = y.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    KILN_CHECK(std::isfinite(v[i]), who, ": y contains NaN or infinity at index ", i);
  return v;
}

std::vector<double> sample_weights(const Tensor& sample_weight, int64_t n, const std::string& who) {
  if (!sample_weight.defined()) return std::vector<double>(n, 1.0);
  KILN_CHECK(sample_weight.dim() == 1 && sample_weight.size(0) == n, who, ": sample_weight must have shape [",
             n, "], got ", shape_str(sample_weight.shape()));
  std::vector<double> w = sample_weight.to_vector<double>();
  double total = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    KILN_CHECK(std::isfinite(w[i]) && w[i] >= 0, who, ": sample_weight must be finite and >= 0, got ", w[i],
               " at index ", i);
    total += w[i];
  }
  KILN_CHECK(total > 0, who, ": sample_weight sums to 0; at least one sample needs a positive weight");
  return w;
}

std::vector<double> balanced_class_weights(const std::vector<int32_t>& codes, int64_t n_classes,
                                           const std::vector<double>* counts_weight) {
  std::vector<double> count(n_classes, 0.0);
  double n = 0;
  for (size_t i = 0; i < codes.size(); ++i) {
    const double c = counts_weight ? (*counts_weight)[i] : 1.0;
    count[codes[i]] += c;
    n += c;
  }
  // K counts the classes present (scikit-learn's compute_class_weight over the labels of this sample).
  int64_t present = 0;
  for (double c : count) present += c > 0;
  std::vector<double> w(n_classes, 0.0);
  for (int64_t k = 0; k < n_classes; ++k)
    if (count[k] > 0) w[k] = n / (static_cast<double>(present) * count[k]);
  return w;
}

void check_class_weight(const std::string& class_weight, bool allow_subsample, const std::string& who) {
  const bool ok = class_weight.empty() || class_weight == "balanced" ||
                  (allow_subsample && class_weight == "balanced_subsample");
  KILN_CHECK(ok, who, ": class_weight must be \"\" (none)",
             allow_subsample ? ", \"balanced\" or \"balanced_subsample\"" : " or \"balanced\"", ", got \"",
             class_weight, "\"");
}

void check_max_features(const ParamValue& mf, const std::string& who) {
  if (auto* i = std::get_if<int64_t>(&mf)) {
    KILN_CHECK(*i >= 1, who, ": max_features as a count must be >= 1, got ", *i);
  } else if (auto* d = std::get_if<double>(&mf)) {
    KILN_CHECK(*d > 0 && *d <= 1, who, ": max_features as a fraction must be in (0, 1], got ", *d);
  } else if (auto* s = std::get_if<std::string>(&mf)) {
    KILN_CHECK(*s == "sqrt" || *s == "log2" || *s == "none" || s->empty(), who,
               ": max_features must be an int, a float, \"sqrt\", \"log2\" or \"none\", got \"", *s, "\"");
  } else {
    KILN_CHECK(false, who,
               ": max_features must be an int, a float, \"sqrt\", \"log2\" or \"none\", got a bool");
  }
}

int64_t resolve_max_features(const ParamValue& mf, int64_t d, const std::string& who) {
  check_max_features(mf, who);
  if (auto* i = std::get_if<int64_t>(&mf)) {
    KILN_CHECK(*i <= d, who, ": max_features = ", *i, " exceeds the number of features (", d, ")");
    return *i;
  }
  if (auto* f = std::get_if<double>(&mf)) return std::max<int64_t>(1, static_cast<int64_t>(*f * d));
  const std::string& s = std::get<std::string>(mf);
  if (s == "sqrt") return std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(static_cast<double>(d))));
  if (s == "log2") return std::max<int64_t>(1, static_cast<int64_t>(std::log2(static_cast<double>(d))));
  return d;
}

std::vector<uint64_t> derive_seeds(int64_t random_state, int64_t count) {
  Rng master(static_cast<uint64_t>(random_state) ^ 0x6b696c6e5f726e67ULL);
  std::vector<uint64_t> seeds(count);
  for (auto& s : seeds) s = master.next();
  return seeds;
}

int resolve_n_jobs(int64_t n_jobs) {
  if (n_jobs <= 0) return kiln::get_num_threads();
  return static_cast<int>(n_jobs);
}

}  // namespace kiln::classic::detail
