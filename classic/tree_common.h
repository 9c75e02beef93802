// kiln/classic/tree_common.h: internal helpers shared by the tree ensembles (tree.h, forest.h,
// hist_gradient_boosting.h): a portable random stream, input checks and conversions, class encoding and
// class weights, max_features resolution and typed access to ParamMap values. Not part of the public API
// (namespace detail); depends on tensor/ and estimator.h only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::classic::detail {

// xoshiro256** seeded through splitmix64: the same stream on every platform and standard library, so a
// model fitted with a given random_state is the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n), n >= 1 (rejection sampling, no modulo bias)
  double uniform();            // uniform in [0, 1)

 private:
  uint64_t s_[4];
};

// X as a row-major (N, D) float32 copy: trees compare features in float32, as scikit-learn does.
// Checks: 2-D, floating or integer dtype, N >= 1 (when need_rows), every value finite.
std::vector<float> to_f32_rows(const Tensor& X, const std::string& who, bool need_rows = true);
// The same for predicting: also checks that the model is fitted and that X has n_features columns.
std::vector<float> rows_for_predict(const Tensor& X, bool fitted, int64_t n_features, const std::string& who,
                                    const char* method);
// y of a classifier, encoded: classes (sorted distinct labels) and codes[i] = index of y[i] in classes.
struct EncodedLabels {
  std::vector<int64_t> classes;
  std::vector<int32_t> codes;
};
EncodedLabels encode_labels(const Tensor& y, int64_t n, const std::string& who);
// y of a regressor as f64 (N), finite.
std::vector<double> regression_targets(const Tensor& y, int64_t n, const std::string& who);
// sample_weight as f64 (N), >= 0 and finite; all ones when undefined.
std::vector<double> sample_weights(const Tensor& sample_weight, int64_t n, const std::string& who);

// scikit-learn's "balanced" class weights, n / (K * count[k]), with counts weighted by `counts_weight`
// (the bootstrap multiplicities for "balanced_subsample"; all ones otherwise). Classes with count 0 get 0.
std::vector<double> balanced_class_weights(const std::vector<int32_t>& codes, int64_t n_classes,
                                           const std::vector<double>* counts_weight = nullptr);
// Checks a class_weight string: "" (none), "balanced" or (when allow_subsample) "balanced_subsample".
void check_class_weight(const std::string& class_weight, bool allow_subsample, const std::string& who);

// max_features as scikit-learn reads it: int64 (a count, 1..D), double (a fraction in (0, 1]),
// "sqrt", "log2", or "none"/"" (all D features). Returns the count in 1..D.
int64_t resolve_max_features(const ParamValue& max_features, int64_t n_features, const std::string& who);
// Checks the kind and range of a max_features value before fitting (D unknown).
void check_max_features(const ParamValue& max_features, const std::string& who);

// The seed of model i (tree i of a forest, or the split of early stopping) from random_state: drawn
// in sequence, so it does not depend on the thread that builds the model.
std::vector<uint64_t> derive_seeds(int64_t random_state, int64_t count);

// 0 means kiln::get_num_threads(); otherwise at least 1.
int resolve_n_jobs(int64_t n_jobs);

}  // namespace kiln::classic::detail
