// kiln/classic/preprocessing_util.h: internal helpers shared by preprocessing, pipeline, imbalance and
// metrics (namespace classic::prep_detail): tensors to and from dense f64 row-major matrices, label vectors,
// typed access to ParamMap values with errors that name the estimator and parameter. Depends on
// tensor/ and classic/estimator.h. Not part of the public API: names here may change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/validation.h"
#include "kiln/tensor/checked.h"
#include "kiln/tensor/tensor.h"

namespace kiln::classic::prep_detail {

// A dense row-major (rows, cols) f64 matrix; the working form of X inside classic/.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> v;

  Matrix() = default;
  Matrix(int64_t r, int64_t c, double fill = 0.0)
      : rows(r), cols(c), v(static_cast<size_t>(checked_mul(r, c, "classic", "matrix size")), fill) {}
  double& at(int64_t r, int64_t c) { return v[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

// X passes validation::check_array (2-D, non-empty, finite; NaN only with Missing::allow_nan); `who`
// ("StandardScaler.fit") prefixes errors.
Matrix to_matrix(const Tensor& X, const std::string& who,
                 validation::Missing missing = validation::Missing::reject);
// A new contiguous f64 (rows, cols) tensor.
Tensor from_matrix(const Matrix& m);
// The rows of m at `rows`, in that order.
Matrix take_rows(const Matrix& m, const std::vector<int64_t>& rows);

// y must be a defined 1-D integer tensor (i64, i32, u8, bool); `what` names it ("y_true").
std::vector<int64_t> to_labels(const Tensor& y, const std::string& who, const std::string& what = "y");
// y must be a defined, non-empty 1-D numeric tensor of finite values.
std::vector<double> to_values(const Tensor& y, const std::string& who, const std::string& what = "y");
Tensor labels_tensor(const std::vector<int64_t>& labels);
Tensor values_tensor(const std::vector<double>& values);

// Sorted distinct values.
std::vector<int64_t> unique_sorted(std::vector<int64_t> v);

}  // namespace kiln::classic::prep_detail
