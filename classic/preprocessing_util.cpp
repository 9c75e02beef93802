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

namespace {
const char* type_name(const ParamValue& v) {
  switch (v.index()) {
    case 0:
      return "bool";
    case 1:
      return "int";
    case 2:
      return "double";
    default:
      return "string";
  }
}
}  // namespace

bool as_bool(const ParamValue& v, const std::string& who, const std::string& name) {
  KILN_CHECK(std::holds_alternative<bool>(v), who, ".set_params: parameter '", name, "' must be a bool, got ",
             type_name(v), " ", param_str(v));
  return std::get<bool>(v);
}

int64_t as_int(const ParamValue& v, const std::string& who, const std::string& name) {
  KILN_CHECK(std::holds_alternative<int64_t>(v), who, ".set_params: parameter '", name,
             "' must be an int, got ", type_name(v), " ", param_str(v));
  return std::get<int64_t>(v);
}

double as_double(const ParamValue& v, const std::string& who, const std::string& name) {
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  KILN_CHECK(std::holds_alternative<double>(v), who, ".set_params: parameter '", name,
             "' must be a number, got ", type_name(v), " ", param_str(v));
  return std::get<double>(v);
}

std::string as_string(const ParamValue& v, const std::string& who, const std::string& name) {
  KILN_CHECK(std::holds_alternative<std::string>(v), who, ".set_params: parameter '", name,
             "' must be a string, got ", type_name(v), " ", param_str(v));
  return std::get<std::string>(v);
}

void unknown_param(const std::string& who, const std::string& name, const ParamMap& known) {
  std::string names;
  for (const auto& [k, _] : known) names += (names.empty() ? "" : ", ") + k;
  KILN_CHECK(false, who, ".set_params: unknown parameter '", name, "'; known: ", names);
  throw Error("unreachable");
}

void check_fitted(bool fitted, const std::string& who, const std::string& method) {
  KILN_CHECK(fitted, who, ".", method, ": called before fit(); fit the ", who, " first");
}

std::string param_str(const ParamValue& v) {
  std::ostringstream os;
  if (std::holds_alternative<bool>(v)) {
    os << (std::get<bool>(v) ? "true" : "false");
  } else if (std::holds_alternative<int64_t>(v)) {
    os << std::get<int64_t>(v);
  } else if (std::holds_alternative<double>(v)) {
    os << std::get<double>(v);
  } else {
    os << "'" << std::get<std::string>(v) << "'";
  }
  return os.str();
}

}  // namespace kiln::classic::prep_detail
