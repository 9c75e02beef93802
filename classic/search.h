// kiln/classic/search.h: hyper-parameter search by cross-validation — GridSearchCV (every combination of a
// grid) and RandomizedSearchCV (n_iter draws from lists and distributions), with scikit-learn's semantics.
// Depends on classic/model_selection.h.
//
// Each candidate's parameters are applied with set_params on a clone of the given estimator (any
// Predictor: a Pipeline's "step__param" names work), which is fitted per fold on that fold's training rows
// only. The search sees only the rows given to fit(); keep a held-out test set outside it. With refit, the
// best candidate is fitted again on all of fit()'s rows and predict / score / predict_proba use it.
// Ranking: the highest mean test score is rank 1; ties share the lowest rank, and the first such
// candidate is the best (scikit-learn's rankdata "min" and argmin). A candidate whose fit throws gets NaN
// scores, ranks last, and its message goes to warnings(); if every candidate fails, fit() throws.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kiln/classic/model_selection.h"
#include "kiln/classic/table_input.h"
#include "kiln/data/table.h"

namespace kiln::classic {

// Values to try per parameter name. A list of grids searches each grid in turn (scikit-learn's list of
// dicts).
using ParamGrid = std::map<std::string, std::vector<ParamValue>>;

// A continuous or integer distribution to draw a parameter from.
struct Distribution {
  enum class Kind { uniform, loguniform, randint };
  Kind kind = Kind::uniform;
  double low = 0, high = 1;  // uniform: [low, high]; loguniform: [low, high], low > 0; randint: [low, high)
  static Distribution uniform(double low, double high) { return {Kind::uniform, low, high}; }
  static Distribution loguniform(double low, double high) { return {Kind::loguniform, low, high}; }
  static Distribution randint(std::int64_t low, std::int64_t high) {
    return {Kind::randint, static_cast<double>(low), static_cast<double>(high)};
  }
};
using ParamDistributions = std::map<std::string, std::variant<std::vector<ParamValue>, Distribution>>;

// Per candidate, in candidate order. split_test_scores[c][f] is candidate c on fold f.
struct CVResults {
  std::vector<ParamMap> params;
  std::vector<std::vector<double>> split_test_scores, split_train_scores;
  std::vector<double> mean_test_score, std_test_score;
  std::vector<std::int64_t> rank_test_score;
  std::vector<double> mean_train_score, std_train_score;  // when return_train_score
  std::vector<double> mean_fit_time, std_fit_time, mean_score_time, std_score_time;
};

// Settings shared by both searches.
struct SearchParams {
  std::string scoring = "";            // a get_scorer name; "" = the estimator's score()
  ScoreFunction scoring_fn = nullptr;  // a callable; overrides scoring
  std::int64_t cv = 5;                 // folds, stratified for classifiers (see model_selection.h)
  std::shared_ptr<const CrossValidator> splitter = nullptr;  // overrides cv
  bool refit = true;
  bool return_train_score = false;
  std::int64_t n_jobs = 1;  // (candidate, fold) fits in parallel; 0 = kiln::get_num_threads()
};

// The search machinery; GridSearchCV and RandomizedSearchCV only choose the candidates. A search is a
// classifier when its estimator is one (is_classifier), so cross-validation around it (nested CV) uses
// stratified folds, and scorers that need predict_proba work on it.
class BaseSearchCV : public Classifier, public WrappingEstimator, public TableSchemaUser {
 public:
  BaseSearchCV(const BaseSearchCV& other);
  // get_params holds the search settings (cv, scoring, refit, n_jobs, return_train_score) and the
  // estimator's parameters as "estimator__<name>"; set_params accepts both.
  ParamMap get_params() const override;
  void set_params(const ParamMap& params) override;
  bool is_fitted() const override { return best_estimator_ != nullptr || (fitted_ && !search_.refit); }

  BaseSearchCV& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  // The table forms (search_table.cpp): the schema is fitted on `table` and given to the estimator (a
  // Pipeline selecting columns by name), later tables are converted with it.
  BaseSearchCV& fit(const data::Table& table, const std::string& target);
  Tensor predict(const data::Table& table) const;
  Tensor predict_proba(const data::Table& table) const;
  void set_schema(const data::TableSchema& schema) override;

  // These need refit = true.
  Tensor predict(const Tensor& X) const override;
  Tensor predict_proba(const Tensor& X) const override;           // the best estimator must be a Classifier
  Tensor classes() const override;                                // the best estimator's classes
  double score(const Tensor& X, const Tensor& y) const override;  // with the search's scorer
  const Predictor& best_estimator() const;

  const ParamMap& best_params() const;
  double best_score() const;
  std::int64_t best_index() const;
  const CVResults& cv_results() const;
  std::int64_t n_splits() const { return n_splits_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const Predictor& estimator() const { return *estimator_; }
  const Estimator* wrapped_estimator() const override { return estimator_.get(); }

 protected:
  BaseSearchCV(const Predictor& estimator, SearchParams search);
  virtual std::vector<ParamMap> candidates() const = 0;

  std::unique_ptr<Predictor> estimator_;  // the unfitted prototype
  SearchParams search_;

 private:
  void check_fitted(const std::string& who, bool need_refit) const;
  const Classifier& best_classifier(const std::string& who) const;

  bool fitted_ = false;
  CVResults results_;
  std::int64_t best_index_ = -1, n_splits_ = 0;
  std::unique_ptr<Predictor> best_estimator_;
  std::vector<std::string> warnings_;
  std::optional<data::TableSchema> schema_;
};

class GridSearchCV : public BaseSearchCV {
 public:
  struct Params {
    std::vector<ParamGrid> param_grid;
    std::string scoring = "";  // the SearchParams fields, flat so designated initializers work
    ScoreFunction scoring_fn = nullptr;
    std::int64_t cv = 5;
    std::shared_ptr<const CrossValidator> splitter = nullptr;
    bool refit = true;
    bool return_train_score = false;
    std::int64_t n_jobs = 1;
  };
  GridSearchCV(const Predictor& estimator, Params p);
  std::string name() const override { return "GridSearchCV"; }
  std::unique_ptr<Estimator> clone() const override;

 protected:
  // Every combination, the last name varying fastest within each grid (scikit-learn's ParameterGrid order:
  // names sorted, as std::map keeps them).
  std::vector<ParamMap> candidates() const override;

 private:
  std::vector<ParamGrid> grid_;
};

class RandomizedSearchCV : public BaseSearchCV {
 public:
  struct Params {
    ParamDistributions param_distributions;
    std::int64_t n_iter = 10;
    std::optional<std::int64_t> random_state = std::nullopt;
    std::string scoring = "";  // the SearchParams fields, flat so designated initializers work
    ScoreFunction scoring_fn = nullptr;
    std::int64_t cv = 5;
    std::shared_ptr<const CrossValidator> splitter = nullptr;
    bool refit = true;
    bool return_train_score = false;
    std::int64_t n_jobs = 1;
  };
  RandomizedSearchCV(const Predictor& estimator, Params p);
  std::string name() const override { return "RandomizedSearchCV"; }
  std::unique_ptr<Estimator> clone() const override;

 protected:
  // When every entry is a list, n_iter distinct combinations drawn without replacement (all of them if
  // the grid is smaller); otherwise n_iter independent draws.
  std::vector<ParamMap> candidates() const override;

 private:
  ParamDistributions dist_;
  std::int64_t n_iter_;
  std::optional<std::int64_t> random_state_;
};

}  // namespace kiln::classic
