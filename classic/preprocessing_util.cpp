// Internal helpers of classic/ (see preprocessing_util.h): tensor <-> f64 matrix conversion, label
// vectors, ParamValue access. Depends on tensor/ only.
#include "kiln/classic/preprocessing_util.h"

#include <algorithm>
#include <sstream>

namespace kiln::classic::prep_detail {

namespace {
bool is_integer_dtype(DType d) {
  return d == DType::i64 || d == DType::i32 || d == DType::u8 || d == DType::boolean;
}
}  // namespace

Matrix to_matrix(const Tensor& X, const std::string& who, validation::Missing missing) {
  Matrix m;
  m.v = validation::check_array(X, who, {.missing = missing});
  m.rows = X.size(0);
  m.cols = X.size(1);
  return m;
}

Tensor from_matrix(const Matrix& m) { return from_vector(m.v, Shape{m.rows, m.cols}); }

Matrix take_rows(const Matrix& m, const std::vector<int64_t>& rows) {
  Matrix out(static_cast<int64_t>(rows.size()), m.cols);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(m.v.begin() + rows[i] * m.cols, m.cols, out.v.begin() + static_cast<int64_t>(i) * m.cols);
  return out;
}

std::vector<int64_t> to_labels(const Tensor& y, const std::string& who, const std::string& what) {
  KILN_CHECK(y.defined(), who, ": ", what, " is an undefined tensor");
  KILN_CHECK(y.dim() == 1, who, ": ", what, " must be 1-D (n_samples), got shape ", shape_str(y.shape()));
  KILN_CHECK(is_integer_dtype(y.dtype()), who, ": ", what,
             " must hold integer class labels (i64), got dtype ", y.dtype());
  KILN_CHECK(y.device().is_cpu(), who, ": ", what, " must be a CPU tensor, got one on ", y.device());
  if (y.dtype() == DType::boolean) {
    std::vector<uint8_t> b = y.to_vector<uint8_t>();
    return std::vector<int64_t>(b.begin(), b.end());
  }
  return y.to_vector<int64_t>();
}

std::vector<double> to_values(const Tensor& y, const std::string& who, const std::string& what) {
  KILN_CHECK(y.defined(), who, ": ", what, " is an undefined tensor");
  KILN_CHECK(y.dim() == 1, who, ": ", what, " must be 1-D (n_samples), got shape ", shape_str(y.shape()));
  KILN_CHECK(y.device().is_cpu(), who, ": ", what, " must be a CPU tensor, got one on ", y.device());
  std::vector<double> v;
  if (y.dtype() == DType::boolean) {
    std::vector<uint8_t> b = y.to_vector<uint8_t>();
    v.assign(b.begin(), b.end());
  } else {
    v = y.to_vector<double>();
  }
  validation::check_finite(v.data(), v.size(), 1, who, what.c_str());
  return v;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) { return from_vector(labels); }
Tensor values_tensor(const std::vector<double>& values) { return from_vector(values); }

std::vector<int64_t> unique_sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace kiln::classic::prep_detail
