// kiln/classic/validation.h: the one input validator and the one parameter validator of classic/, with
// scikit-learn's semantics, called by every estimator, transformer, resampler and metric (internal: names
// here may change). Depends on tensor/ only.
//
// Input (scikit-learn's check_array): X is a defined CPU 2-D tensor of a numeric dtype with at least one
// sample and one feature, and finite. NaN is accepted only where the object treats it as a missing value,
// as in scikit-learn: the scalers (StandardScaler, MinMaxScaler, RobustScaler ignore NaN in fit and keep
// it in transform), SimpleImputer (NaN is what it fills), OneHotEncoder / OrdinalEncoder (NaN is a
// category of its own) and ColumnTransformer (it hands columns on to those). Infinity is refused
// everywhere: no statistic scikit-learn computes is defined for it.
//
// Parameters: every real hyper-parameter must be finite (NaN and infinity compare false or true against
// any bound, so a range check alone lets them through) and inside its documented range.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::classic::validation {

enum class Missing { reject, allow_nan };

struct ArrayRules {
  Missing missing = Missing::reject;
  int64_t min_samples = 1;
  int64_t min_features = 1;
  const char* what = "X";
};

// Checks X's structure (defined, CPU, 2-D, numeric, large enough) and returns its values row-major in f64,
// checked for non-finite entries by the rules. Errors name `who` ("StandardScaler.fit"), the row and column.
std::vector<double> check_array(const Tensor& X, const std::string& who, const ArrayRules& rules = {});

// The finiteness check alone, for data already in a buffer (values of `cols` columns, row-major).
void check_finite(const double* v, size_t n, int64_t cols, const std::string& who, const char* what,
                  Missing missing = Missing::reject);
void check_finite(const float* v, size_t n, int64_t cols, const std::string& who, const char* what,
                  Missing missing = Missing::reject);

// Every named length equals the first: "<who>: X has 10 samples but y has 9".
void check_consistent_length(const std::string& who,
                             std::initializer_list<std::pair<const char*, int64_t>> lengths);

// Every method of a fitted estimator starts here: "<who>: this estimator is not fitted yet; call fit()
// first" unless fitted (`who` is "Class.method").
void check_fitted(bool fitted, const std::string& who);

// A real parameter: finite and in the interval from lo to hi (inclusive where *_closed; hi = kInf for no
// upper bound, which still refuses infinity).
struct Range {
  double lo, hi;
  bool lo_closed = true, hi_closed = true;
};
inline constexpr double kInf = std::numeric_limits<double>::infinity();  // an open upper end
void check_param(const std::string& who, const char* name, double value, Range range);
// An integer parameter in [lo, hi].
void check_param(const std::string& who, const char* name, int64_t value, int64_t lo, int64_t hi);

}  // namespace kiln::classic::validation
