// kiln/classic/linear_detail.cpp: the helpers declared in linear_detail.h.
#include "kiln/classic/linear_detail.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <cmath>

namespace kiln::classic::linear_detail {
namespace {

std::vector<double> checked_values(const Tensor& t, const std::string& who, const char* what) {
  KILN_CHECK(t.device().is_cpu(), who, ": ", what, " must be a CPU tensor, got one on ", t.device());
  std::vector<double> v = t.to_vector<double>();
  validation::check_finite(v.data(), v.size(), t.dim() == 2 ? t.size(1) : 1, who, what);
  return v;
}

}  // namespace

RowMatrix to_row_matrix(const Tensor& X, const std::string& who) {
  std::vector<double> v = validation::check_array(X, who);
  return Eigen::Map<RowMatrix>(v.data(), X.shape()[0], X.shape()[1]);
}

Eigen::MatrixXd to_matrix(const Tensor& X, const std::string& who) { return to_row_matrix(X, who); }

Eigen::VectorXd to_targets(const Tensor& y, int64_t n, const std::string& who) {
  KILN_CHECK(y.defined(), who, ": y is undefined");
  KILN_CHECK(y.dim() == 1 || (y.dim() == 2 && y.shape()[1] == 1), who, ": y must be 1-D (N), got shape ",
             shape_str(y.shape()));
  KILN_CHECK(y.shape()[0] == n, who, ": y has ", y.shape()[0], " samples but X has ", n);
  std::vector<double> v = checked_values(y, who, "y");
  return Eigen::Map<Eigen::VectorXd>(v.data(), n);
}

std::vector<int64_t> to_labels(const Tensor& y, int64_t n, const std::string& who) {
  Eigen::VectorXd v = to_targets(y, n, who);
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK(v[i] == std::floor(v[i]) && std::abs(v[i]) < 9.0e15, who,
               ": class labels must be integers (encode strings with LabelEncoder), got ", v[i], " at index ",
               i);
    out[i] = static_cast<int64_t>(v[i]);
  }
  return out;
}

Eigen::VectorXd to_sample_weight(const Tensor& sample_weight, int64_t n, const std::string& who) {
  if (!sample_weight.defined()) return Eigen::VectorXd::Ones(n);
  KILN_CHECK(sample_weight.dim() == 1 && sample_weight.shape()[0] == n, who,
             ": sample_weight must have shape [", n, "], got ", shape_str(sample_weight.shape()));
  std::vector<double> v = checked_values(sample_weight, who, "sample_weight");
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK(v[i] >= 0, who, ": sample_weight must be non-negative, got ", v[i], " at index ", i);
    sum += v[i];
  }
  KILN_CHECK(sum > 0, who, ": sample_weight sums to zero");
  return Eigen::Map<Eigen::VectorXd>(v.data(), n);
}

Tensor to_tensor(const Eigen::MatrixXd& m) {
  RowMatrix r = m;
  std::vector<double> v(r.data(), r.data() + r.size());
  return from_vector(v, Shape{r.rows(), r.cols()});
}

Tensor to_tensor(const Eigen::VectorXd& v) {
  return from_vector(std::vector<double>(v.data(), v.data() + v.size()));
}

Tensor to_label_tensor(const std::vector<int64_t>& labels) { return from_vector(labels); }

Encoded encode_labels(const std::vector<int64_t>& labels) {
  Encoded e;
  e.classes = labels;
  std::sort(e.classes.begin(), e.classes.end());
  e.classes.erase(std::unique(e.classes.begin(), e.classes.end()), e.classes.end());
  e.index.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    e.index[i] = std::lower_bound(e.classes.begin(), e.classes.end(), labels[i]) - e.classes.begin();
  return e;
}

void check_features(int64_t got, int64_t expected, const std::string& who) {
  KILN_CHECK(got == expected, who, ": X has ", got, " features, but the estimator was fitted with ",
             expected);
}

}  // namespace kiln::classic::linear_detail

#include <iostream>
#include <mutex>
#include <set>

namespace kiln::classic::linear_detail {

double r2(const Eigen::VectorXd& y, const Eigen::VectorXd& pred) {
  double ss_res = (y - pred).squaredNorm();
  double ss_tot = (y.array() - y.mean()).square().sum();
  if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
  return 1.0 - ss_res / ss_tot;
}

void warn_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> printed;
  std::lock_guard<std::mutex> lock(mutex);
  if (printed.insert(message).second) std::cerr << "kiln ConvergenceWarning: " << message << "\n";
}

}  // namespace kiln::classic::linear_detail
