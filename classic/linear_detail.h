// kiln/classic/linear_detail.h: internal helpers shared by classic/'s .cpp files (linear
// models, logistic regression, neighbours, naive Bayes, model selection): tensor <-> Eigen conversion with
// input checks, labels, sample weights, and typed get/set of ParamMap entries. Not a public header: it
// includes Eigen, so only .cpp files include it.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/tensor.h"

namespace kiln::classic::linear_detail {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// X as a dense (N, D) f64 matrix. Requires a defined 2-D tensor with N >= 1 and finite values; `who` names
// the class and method in messages ("Ridge.fit").
Eigen::MatrixXd to_matrix(const Tensor& X, const std::string& who);
// The same, row-major (for per-row work such as distances).
RowMatrix to_row_matrix(const Tensor& X, const std::string& who);
// y as (N) f64: a defined 1-D tensor (or (N, 1)) of length n with finite values.
Eigen::VectorXd to_targets(const Tensor& y, int64_t n, const std::string& who);
// y as (N) integer class labels: integer dtype, or floating with integral values.
std::vector<int64_t> to_labels(const Tensor& y, int64_t n, const std::string& who);
// sample_weight as (N) f64; undefined -> all ones. Requires finite, non-negative weights with a positive sum.
Eigen::VectorXd to_sample_weight(const Tensor& sample_weight, int64_t n, const std::string& who);

Tensor to_tensor(const Eigen::MatrixXd& m);  // (rows, cols) f64
Tensor to_tensor(const Eigen::VectorXd& v);  // (n) f64
Tensor to_label_tensor(const std::vector<int64_t>& labels);

// Sorted distinct labels and, for each sample, the index of its label in that list.
struct Encoded {
  std::vector<int64_t> classes;
  std::vector<int64_t> index;
};
Encoded encode_labels(const std::vector<int64_t>& labels);

// Checks that X has the number of features seen in fit.
void check_features(int64_t got, int64_t expected, const std::string& who);

}  // namespace kiln::classic::linear_detail

namespace kiln::classic::linear_detail {

// scikit-learn's r2_score for one output: 1 - SS_res / SS_tot; a constant y gives 1 for a perfect fit, else
// 0.
double r2(const Eigen::VectorXd& y, const Eigen::VectorXd& pred);
// Prints `message` to stderr unless this exact text was printed before in this process (Python's default
// warning filter shows each distinct warning once).
void warn_once(const std::string& message);

}  // namespace kiln::classic::linear_detail
