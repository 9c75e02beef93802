// LabelEncoder, OneHotEncoder, OrdinalEncoder (see preprocessing_encoders.h). Categories are kept sorted
// per feature and looked up by binary search; NaN is handled apart from the ordered values because it
// compares unequal to everything. Depends on preprocessing_util.
#include "kiln/classic/preprocessing_encoders.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic {

using prep_detail::Matrix;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sorted distinct values of column c, NaN appended last when present and keep_nan.
std::vector<double> column_categories(const Matrix& m, int64_t c, bool keep_nan) {
  std::vector<double> v;
  bool has_nan = false;
  for (int64_t r = 0; r < m.rows; ++r) {
    double x = m.at(r, c);
    if (std::isnan(x))
      has_nan = true;
    else
      v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  if (has_nan && keep_nan) v.push_back(kNaN);
  return v;
}

// Index of x in cats (NaN matches a trailing NaN), or -1.
int64_t find_category(const std::vector<double>& cats, double x) {
  if (std::isnan(x))
    return !cats.empty() && std::isnan(cats.back()) ? static_cast<int64_t>(cats.size()) - 1 : -1;
  size_t end = !cats.empty() && std::isnan(cats.back()) ? cats.size() - 1 : cats.size();
  auto it = std::lower_bound(cats.begin(), cats.begin() + static_cast<std::ptrdiff_t>(end), x);
  if (it == cats.begin() + static_cast<std::ptrdiff_t>(end) || *it != x) return -1;
  return it - cats.begin();
}

// Python's str() of a float: "1.0", "2.5", "nan".
std::string python_float_str(double x) {
  if (std::isnan(x)) return "nan";
  if (x == std::floor(x) && std::abs(x) < 1e16) return std::to_string(static_cast<long long>(x)) + ".0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, res.ptr);
}

void check_width(const Matrix& m, size_t d, const std::string& who) {
  KILN_CHECK(m.cols == static_cast<int64_t>(d), who, ": X has ", m.cols,
             " features, but the encoder was fitted on ", d);
}
}  // namespace

// ---------------- LabelEncoder ----------------

LabelEncoder& LabelEncoder::fit(const Tensor& y, const Tensor&) {
  classes_v_ = prep_detail::unique_sorted(prep_detail::to_labels(y, "LabelEncoder.fit"));
  string_classes_v_.clear();
  strings_ = false;
  fitted_ = true;
  return *this;
}

Tensor LabelEncoder::transform(const Tensor& y) const {
  validation::check_fitted(fitted_, name() + ".transform");
  KILN_CHECK(!strings_, "LabelEncoder.transform: fitted on string labels; pass a std::vector<std::string>");
  std::vector<int64_t> labels = prep_detail::to_labels(y, "LabelEncoder.transform");
  for (auto& l : labels) {
    auto it = std::lower_bound(classes_v_.begin(), classes_v_.end(), l);
    KILN_CHECK(it != classes_v_.end() && *it == l, "LabelEncoder.transform: y contains the label ", l,
               " that was not seen in fit()");
    l = it - classes_v_.begin();
  }
  return prep_detail::labels_tensor(labels);
}

Tensor LabelEncoder::inverse_transform(const Tensor& codes) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  KILN_CHECK(!strings_,
             "LabelEncoder.inverse_transform: fitted on string labels; use inverse_transform_strings");
  std::vector<int64_t> c = prep_detail::to_labels(codes, "LabelEncoder.inverse_transform", "codes");
  for (auto& v : c) {
    KILN_CHECK(v >= 0 && v < static_cast<int64_t>(classes_v_.size()), "LabelEncoder.inverse_transform: code ",
               v, " is out of range [0, ", classes_v_.size(), ")");
    v = classes_v_[v];
  }
  return prep_detail::labels_tensor(c);
}

Tensor LabelEncoder::classes_() const {
  validation::check_fitted(fitted_, name() + ".classes_");
  KILN_CHECK(!strings_, "LabelEncoder.classes_: fitted on string labels; use string_classes_()");
  return prep_detail::labels_tensor(classes_v_);
}

LabelEncoder& LabelEncoder::fit(const std::vector<std::string>& y) {
  string_classes_v_ = y;
  std::sort(string_classes_v_.begin(), string_classes_v_.end());
  string_classes_v_.erase(std::unique(string_classes_v_.begin(), string_classes_v_.end()),
                          string_classes_v_.end());
  classes_v_.clear();
  strings_ = true;
  fitted_ = true;
  return *this;
}

Tensor LabelEncoder::transform(const std::vector<std::string>& y) const {
  validation::check_fitted(fitted_, name() + ".transform");
  KILN_CHECK(strings_, "LabelEncoder.transform: fitted on integer labels; pass an i64 tensor");
  std::vector<int64_t> out;
  out.reserve(y.size());
  for (const auto& s : y) {
    auto it = std::lower_bound(string_classes_v_.begin(), string_classes_v_.end(), s);
    KILN_CHECK(it != string_classes_v_.end() && *it == s, "LabelEncoder.transform: y contains the label '", s,
               "' that was not seen in fit()");
    out.push_back(it - string_classes_v_.begin());
  }
  return prep_detail::labels_tensor(out);
}

std::vector<std::string> LabelEncoder::inverse_transform_strings(const Tensor& codes) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform_strings");
  KILN_CHECK(strings_,
             "LabelEncoder.inverse_transform_strings: fitted on integer labels; use inverse_transform");
  std::vector<std::string> out;
  for (int64_t v : prep_detail::to_labels(codes, "LabelEncoder.inverse_transform_strings", "codes")) {
    KILN_CHECK(v >= 0 && v < static_cast<int64_t>(string_classes_v_.size()),
               "LabelEncoder.inverse_transform_strings: code ", v, " is out of range [0, ",
               string_classes_v_.size(), ")");
    out.push_back(string_classes_v_[v]);
  }
  return out;
}

const std::vector<std::string>& LabelEncoder::string_classes_() const {
  validation::check_fitted(fitted_, name() + ".string_classes_");
  KILN_CHECK(strings_, "LabelEncoder.string_classes_: fitted on integer labels; use classes_()");
  return string_classes_v_;
}

// ---------------- OneHotEncoder ----------------

int64_t OneHotEncoder::dropped(size_t j) const {
  if (params_.drop == "first") return 0;
  if (params_.drop == "if_binary" && categories_v_[j].size() == 2) return 0;
  return -1;
}

OneHotEncoder& OneHotEncoder::fit(const Tensor& X, const Tensor&) {
  KILN_CHECK(params_.handle_unknown == "error" || params_.handle_unknown == "ignore",
             "OneHotEncoder.fit: handle_unknown must be 'error' or 'ignore', got '", params_.handle_unknown,
             "'");
  KILN_CHECK(params_.drop == "none" || params_.drop == "first" || params_.drop == "if_binary",
             "OneHotEncoder.fit: drop must be 'none', 'first' or 'if_binary', got '", params_.drop, "'");
  Matrix m = prep_detail::to_matrix(X, "OneHotEncoder.fit", validation::Missing::allow_nan);
  KILN_CHECK(m.rows > 0, "OneHotEncoder.fit: X has no rows");
  categories_v_.clear();
  for (int64_t c = 0; c < m.cols; ++c) categories_v_.push_back(column_categories(m, c, true));
  fitted_ = true;
  return *this;
}

Tensor OneHotEncoder::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "OneHotEncoder.transform", validation::Missing::allow_nan);
  check_width(m, categories_v_.size(), "OneHotEncoder.transform");
  std::vector<int64_t> offset;
  int64_t width = 0;
  for (size_t j = 0; j < categories_v_.size(); ++j) {
    offset.push_back(width);
    width += static_cast<int64_t>(categories_v_[j].size()) - (dropped(j) >= 0 ? 1 : 0);
  }
  Matrix out(m.rows, width);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      int64_t k = find_category(categories_v_[c], m.at(r, c));
      if (k < 0) {
        KILN_CHECK(params_.handle_unknown == "ignore", "OneHotEncoder.transform: unknown category ",
                   python_float_str(m.at(r, c)), " in column ", c, " (row ", r,
                   "); set handle_unknown='ignore' to encode it as all zeros");
        continue;
      }
      int64_t d = dropped(c);
      if (k == d) continue;
      out.at(r, offset[c] + (d >= 0 && k > d ? k - 1 : k)) = 1.0;
    }
  return prep_detail::from_matrix(out);
}

Tensor OneHotEncoder::inverse_transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  Matrix m = prep_detail::to_matrix(X, "OneHotEncoder.inverse_transform", validation::Missing::allow_nan);
  int64_t width = 0;
  for (size_t j = 0; j < categories_v_.size(); ++j)
    width += static_cast<int64_t>(categories_v_[j].size()) - (dropped(j) >= 0 ? 1 : 0);
  KILN_CHECK(m.cols == width, "OneHotEncoder.inverse_transform: X has ", m.cols, " columns, expected ",
             width);
  Matrix out(m.rows, static_cast<int64_t>(categories_v_.size()));
  for (int64_t r = 0; r < m.rows; ++r) {
    int64_t off = 0;
    for (size_t j = 0; j < categories_v_.size(); ++j) {
      int64_t d = dropped(j), n = static_cast<int64_t>(categories_v_[j].size()) - (d >= 0 ? 1 : 0);
      int64_t best = -1;
      for (int64_t k = 0; k < n; ++k)
        if (m.at(r, off + k) != 0.0 && (best < 0 || m.at(r, off + k) > m.at(r, off + best))) best = k;
      int64_t cat = best < 0 ? d : (d >= 0 && best >= d ? best + 1 : best);
      out.at(r, static_cast<int64_t>(j)) = cat < 0 ? kNaN : categories_v_[j][cat];
      off += n;
    }
  }
  return prep_detail::from_matrix(out);
}

const std::vector<std::vector<double>>& OneHotEncoder::categories_() const {
  validation::check_fitted(fitted_, name() + ".categories_");
  return categories_v_;
}

std::vector<std::string> OneHotEncoder::get_feature_names_out(
    const std::vector<std::string>& input_features) const {
  validation::check_fitted(fitted_, name() + ".get_feature_names_out");
  KILN_CHECK(input_features.empty() || input_features.size() == categories_v_.size(),
             "OneHotEncoder.get_feature_names_out: ", input_features.size(), " input names for ",
             categories_v_.size(), " features");
  std::vector<std::string> out;
  for (size_t j = 0; j < categories_v_.size(); ++j) {
    std::string base = input_features.empty() ? std::string("x") + std::to_string(j) : input_features[j];
    for (size_t k = 0; k < categories_v_[j].size(); ++k)
      if (static_cast<int64_t>(k) != dropped(j))
        out.push_back(base + "_" + python_float_str(categories_v_[j][k]));
  }
  return out;
}

// ---------------- OrdinalEncoder ----------------

OrdinalEncoder& OrdinalEncoder::fit(const Tensor& X, const Tensor&) {
  KILN_CHECK(params_.handle_unknown == "error" || params_.handle_unknown == "use_encoded_value",
             "OrdinalEncoder.fit: handle_unknown must be 'error' or 'use_encoded_value', got '",
             params_.handle_unknown, "'");
  Matrix m = prep_detail::to_matrix(X, "OrdinalEncoder.fit", validation::Missing::allow_nan);
  KILN_CHECK(m.rows > 0, "OrdinalEncoder.fit: X has no rows");
  categories_v_.clear();
  nan_seen_.assign(static_cast<size_t>(m.cols), false);
  for (int64_t c = 0; c < m.cols; ++c) {
    categories_v_.push_back(column_categories(m, c, false));
    for (int64_t r = 0; r < m.rows; ++r) nan_seen_[c] = nan_seen_[c] || std::isnan(m.at(r, c));
  }
  fitted_ = true;
  return *this;
}

Tensor OrdinalEncoder::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "OrdinalEncoder.transform", validation::Missing::allow_nan);
  check_width(m, categories_v_.size(), "OrdinalEncoder.transform");
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      double& x = m.at(r, c);
      if (std::isnan(x) && nan_seen_[c]) {  // NaN seen in fit is the missing category
        x = params_.encoded_missing_value;
        continue;
      }
      int64_t k = find_category(categories_v_[c], x);
      if (k < 0) {
        KILN_CHECK(params_.handle_unknown == "use_encoded_value",
                   "OrdinalEncoder.transform: unknown category ", python_float_str(x), " in column ", c,
                   " (row ", r, "); set handle_unknown='use_encoded_value' and unknown_value to encode it");
        x = params_.unknown_value;
      } else {
        x = static_cast<double>(k);
      }
    }
  return prep_detail::from_matrix(m);
}

Tensor OrdinalEncoder::inverse_transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  Matrix m = prep_detail::to_matrix(X, "OrdinalEncoder.inverse_transform", validation::Missing::allow_nan);
  check_width(m, categories_v_.size(), "OrdinalEncoder.inverse_transform");
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      double& x = m.at(r, c);
      auto k = static_cast<int64_t>(x);
      bool valid = !std::isnan(x) && x == static_cast<double>(k) && k >= 0 &&
                   k < static_cast<int64_t>(categories_v_[c].size());
      x = valid ? categories_v_[c][k] : kNaN;
    }
  return prep_detail::from_matrix(m);
}

const std::vector<std::vector<double>>& OrdinalEncoder::categories_() const {
  validation::check_fitted(fitted_, name() + ".categories_");
  return categories_v_;
}

}  // namespace kiln::classic
