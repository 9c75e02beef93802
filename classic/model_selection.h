// kiln/classic/model_selection.h: splitting and cross-validation with scikit-learn's semantics:
// train_test_split, KFold, StratifiedKFold, named scorers, cross_validate and cross_val_score. Each fold's
// estimator is a fresh clone() fitted on that fold's training rows only, so whatever it contains (a
// Pipeline's scalers, a resampler) never sees the fold's test rows. Depends on classic/estimator.h.
//
// Shapes: X (N, D), y (N) (i64 labels for classifiers, floating for regressors), sample_weight (N).
// The default folds (an integer cv) are StratifiedKFold when the estimator is a Classifier and y has an
// integer dtype (class labels), KFold otherwise (scikit-learn's check_cv; a Pipeline ending in a regressor
// is a Classifier type, so the floating target of a regression is what picks KFold for it).
// Indices are row numbers into X. Randomness comes only from random_state (std::nullopt: a fresh seed from
// std::random_device, like scikit-learn's None); the streams are kiln's own, not numpy's, so shuffled splits
// differ from scikit-learn's while unshuffled KFold and StratifiedKFold splits are identical to them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

struct Split {
  // Row numbers: ascending from the K-fold splitters, in shuffled order from a shuffled train_test_split.
  std::vector<std::int64_t> train, test;
};

// ---------------------------------------------------------------- train_test_split

struct TrainTestSplitParams {
  double test_size = 0.25;  // a fraction in (0, 1), or a row count >= 1 (a whole number)
  double train_size = 0;    // 0: all rows not in the test set; else a fraction or a count
  bool shuffle = true;
  Tensor stratify = {};  // (N) labels: every class keeps its proportion in both parts (needs shuffle)
  std::optional<std::int64_t> random_state = std::nullopt;
};

struct TrainTestSplit {
  Tensor X_train, X_test, y_train, y_test;
};

// Row numbers of one train/test split of n rows. As scikit-learn: n_test = ceil(test_size * n) for a
// fraction, n_train = floor(train_size * n) or the rest.
Split train_test_split_indices(std::int64_t n, const TrainTestSplitParams& params = {});
// auto [X_train, X_test, y_train, y_test] = train_test_split(X, y, {.stratify = y, .random_state = 0});
TrainTestSplit train_test_split(const Tensor& X, const Tensor& y, const TrainTestSplitParams& params = {});

// ---------------------------------------------------------------- cross-validation splitters

class CrossValidator {
 public:
  virtual ~CrossValidator() = default;
  virtual std::string name() const = 0;
  virtual std::int64_t get_n_splits() const = 0;
  // One Split per fold; the test parts partition the rows. y is needed by stratified splitters.
  virtual std::vector<Split> split(const Tensor& X, const Tensor& y = {}) const = 0;
};

struct KFoldParams {
  std::int64_t n_splits = 5;  // >= 2 and <= N
  bool shuffle = false;
  std::optional<std::int64_t> random_state = std::nullopt;
};

// Consecutive folds (after an optional shuffle); the first N % n_splits folds have one row more.
class KFold : public CrossValidator {
 public:
  using Params = KFoldParams;
  KFold() : KFold(Params{}) {}
  explicit KFold(Params p) : p_(p) {}
  std::string name() const override { return "KFold"; }
  std::int64_t get_n_splits() const override { return p_.n_splits; }
  std::vector<Split> split(const Tensor& X, const Tensor& y = {}) const override;

 private:
  Params p_;
};

// Folds that keep each class's proportion: scikit-learn's allocation (classes in order of first
// appearance, fold sizes within one of each other), so without shuffle the folds equal scikit-learn's.
class StratifiedKFold : public CrossValidator {
 public:
  using Params = KFoldParams;
  StratifiedKFold() : StratifiedKFold(Params{}) {}
  explicit StratifiedKFold(Params p) : p_(p) {}
  std::string name() const override { return "StratifiedKFold"; }
  std::int64_t get_n_splits() const override { return p_.n_splits; }
  std::vector<Split> split(const Tensor& X, const Tensor& y) const override;

 private:
  Params p_;
};

// ---------------------------------------------------------------- scoring

// Higher is better (errors are negated, as scikit-learn's "neg_*" scorers).
using ScoreFunction = std::function<double(const Predictor& estimator, const Tensor& X, const Tensor& y)>;

// A scorer by scikit-learn's name, computed by the metric of that name (metrics.h): "accuracy",
// "balanced_accuracy"; "f1", "precision", "recall" (binary, positive label 1) and their "_macro",
// "_micro", "_weighted" averages; "roc_auc" and "average_precision" (binary, from predict_proba's
// second column), "roc_auc_ovr", "roc_auc_ovr_weighted" (multiclass one-vs-rest), "neg_log_loss"; "r2",
// "explained_variance", "neg_mean_squared_error", "neg_root_mean_squared_error",
// "neg_mean_absolute_error". "" is the estimator's own score(). An unknown name throws listing the valid
// ones; a probability scorer on an estimator without predict_proba throws naming both.
ScoreFunction get_scorer(const std::string& name);
// The names get_scorer knows, sorted.
std::vector<std::string> scorer_names();

// ---------------------------------------------------------------- cross_validate

struct CrossValidateParams {
  // Folds: `splitter` if set, else `cv` folds (stratified for classification, see above).
  std::int64_t cv = 5;
  std::shared_ptr<const CrossValidator> splitter = nullptr;
  std::string scoring = "";            // a get_scorer name
  ScoreFunction scoring_fn = nullptr;  // a callable; overrides `scoring`
  bool return_train_score = false;
  std::int64_t n_jobs = 1;  // folds fitted in parallel; 0 = kiln::get_num_threads()
};

struct CrossValidateResult {
  std::vector<double> fit_time, score_time;  // seconds, per fold
  std::vector<double> test_score;            // per fold
  std::vector<double> train_score;           // per fold, when return_train_score
};

// Clones `estimator` per fold, fits the clone on the fold's training rows (and their sample weights) and
// scores it on the fold's test rows. A fit that throws kiln::Error propagates it.
CrossValidateResult cross_validate(const Predictor& estimator, const Tensor& X, const Tensor& y,
                                   const CrossValidateParams& params = {}, const Tensor& sample_weight = {});
// The test scores of cross_validate.
std::vector<double> cross_val_score(const Predictor& estimator, const Tensor& X, const Tensor& y,
                                    const CrossValidateParams& params = {}, const Tensor& sample_weight = {});

}  // namespace kiln::classic
