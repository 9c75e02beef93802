// classic/'s input and parameter validators (see validation.h).
#include "kiln/classic/validation.h"

#include "kiln/classic/params.h"

#include <cmath>
#include <limits>

#include "kiln/classic/tensor_convert.h"

namespace kiln::classic::validation {

namespace {
template <class T>
void check_finite_impl(const T* v, size_t n, int64_t cols, const std::string& who, const char* what,
                       Missing missing) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) [[likely]]
      continue;
    if (std::isnan(v[i]) && missing == Missing::allow_nan) continue;
    const int64_t c = cols > 0 ? cols : 1;
    KILN_CHECK(false, who, ": ", what, " contains ", std::isnan(v[i]) ? "NaN" : "infinity", " at row ",
               static_cast<int64_t>(i) / c, ", column ", static_cast<int64_t>(i) % c,
               missing == Missing::allow_nan ? "; infinity is never a valid value"
                                             : "; impute or drop missing values first (SimpleImputer)");
  }
}
}  // namespace

void check_finite(const double* v, size_t n, int64_t cols, const std::string& who, const char* what,
                  Missing missing) {
  check_finite_impl(v, n, cols, who, what, missing);
}
void check_finite(const float* v, size_t n, int64_t cols, const std::string& who, const char* what,
                  Missing missing) {
  check_finite_impl(v, n, cols, who, what, missing);
}

std::vector<double> check_array(const Tensor& X, const std::string& who, const ArrayRules& rules) {
  KILN_CHECK(X.defined(), who, ": ", rules.what, " is an undefined tensor");
  KILN_CHECK(X.device().is_cpu(), who, ": ", rules.what, " must be a CPU tensor, got one on ", X.device(),
             " (move it with .to(Device::cpu()) first)");
  KILN_CHECK(X.dim() == 2, who, ": ", rules.what, " must be 2-D (n_samples, n_features), got shape ",
             shape_str(X.shape()), "; reshape a single feature to (N, 1)");
  KILN_CHECK(X.size(0) >= rules.min_samples, who, ": ", rules.what,
             X.size(0) == 0 ? " has no rows" : " has too few rows", " (shape ", shape_str(X.shape()),
             "); a minimum of ", rules.min_samples, " sample(s) is required");
  KILN_CHECK(X.size(1) >= rules.min_features, who, ": ", rules.what,
             X.size(1) == 0 ? " has no features" : " has too few features", " (shape ", shape_str(X.shape()),
             "); a minimum of ", rules.min_features, " feature(s) is required");
  std::vector<double> v;
  if (X.dtype() == DType::boolean) {
    std::vector<uint8_t> b = X.to_vector<uint8_t>();
    v.assign(b.begin(), b.end());
  } else {
    v = X.to_vector<double>();
  }
  check_finite(v.data(), v.size(), X.size(1), who, rules.what, rules.missing);
  return v;
}

void check_consistent_length(const std::string& who,
                             std::initializer_list<std::pair<const char*, int64_t>> lengths) {
  if (lengths.size() == 0) return;
  const auto& first = *lengths.begin();
  for (const auto& [name, n] : lengths)
    KILN_CHECK(n == first.second, who, ": ", first.first, " has ", first.second, " samples but ", name,
               " has ", n, " (inconsistent numbers of samples)");
}

void check_fitted(bool fitted, const std::string& who) {
  KILN_CHECK(fitted, who, ": this estimator is not fitted yet; call fit() first");
}

void check_param(const std::string& who, const char* name, double value, Range r) {
  param::check(who, name, value, param::interval(r.lo, r.hi, r.lo_closed, r.hi_closed));
}

void check_param(const std::string& who, const char* name, int64_t value, int64_t lo, int64_t hi) {
  param::check(who, name, value, param::closed(static_cast<double>(lo), static_cast<double>(hi)));
}

}  // namespace kiln::classic::validation
