// classic/forest.cpp: RandomForestClassifier and RandomForestRegressor (see forest.h): bootstrap weights,
// trees grown in parallel from per-tree seeds, averaged predictions, out-of-bag scores. Depends on
// tree.h (parameter checks), tree_builder.h and OpenMP.
#include "kiln/classic/forest.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <exception>

#include "kiln/classic/tree.h"

namespace kiln::classic {

namespace {

struct ForestSpec {
  detail::TreeSettings settings;
  int64_t n_estimators = 100;
  bool bootstrap = true;
  bool balanced_subsample = false;
  int jobs = 1;
  int64_t random_state = 0;
};

// How often each of the n rows is drawn by n draws with replacement (scikit-learn's bootstrap).
std::vector<double> bootstrap_counts(detail::Rng& rng, int64_t n) {
  std::vector<double> counts(n, 0.0);
  for (int64_t j = 0; j < n; ++j) counts[rng.below(static_cast<uint64_t>(n))] += 1;
  return counts;
}

std::vector<detail::Tree> grow_forest(const detail::FeatureCodes& codes, const ForestSpec& spec,
                                      const std::vector<int32_t>* yc, const double* yr,
                                      const std::vector<double>& w) {
  const int64_t T = spec.n_estimators, n = codes.n;
  const std::vector<uint64_t> seeds = detail::derive_seeds(spec.random_state, T);
  std::vector<detail::Tree> trees(T);
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spec.jobs)
  for (int64_t t = 0; t < T; ++t) {
    try {
      detail::Rng rng(seeds[t]);
      std::vector<double> wt = w;
      if (spec.bootstrap) {
        const std::vector<double> counts = bootstrap_counts(rng, n);
        for (int64_t i = 0; i < n; ++i) wt[i] *= counts[i];
        if (spec.balanced_subsample) {
          const std::vector<double> cw =
              detail::balanced_class_weights(*yc, spec.settings.n_classes, &counts);
          for (int64_t i = 0; i < n; ++i) wt[i] *= cw[(*yc)[i]];
        }
      }
      trees[t] = detail::build_tree(codes, spec.settings, yc ? yc->data() : nullptr, yr, wt, rng);
    } catch (...) {
#pragma omp critical(kiln_forest_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return trees;
}

// For each row, the sum of `width` leaf values over the trees that did not draw it, and how many such
// trees there were. Rows in parallel, trees in order: the sums do not depend on the thread count.
void oob_sums(const std::vector<detail::Tree>& trees, const ForestSpec& spec, const std::vector<float>& rows,
              int64_t n, int64_t d, std::vector<double>& sums, std::vector<double>& hits) {
  const int64_t width = trees.front().width;
  sums.assign(n * width, 0.0);
  hits.assign(n, 0.0);
  const std::vector<uint64_t> seeds = detail::derive_seeds(spec.random_state, spec.n_estimators);
  for (size_t t = 0; t < trees.size(); ++t) {
    detail::Rng rng(seeds[t]);
    const std::vector<double> counts = bootstrap_counts(rng, n);
#pragma omp parallel for schedule(static) num_threads(spec.jobs)
    for (int64_t i = 0; i < n; ++i) {
      if (counts[i] > 0) continue;
      const double* v = trees[t].value.data() + trees[t].apply(rows.data() + i * d) * width;
      for (int64_t k = 0; k < width; ++k) sums[i * width + k] += v[k];
      hits[i] += 1;
    }
  }
}

// Mean over trees of the leaf values each row reaches: (N, width). Blocks of rows in parallel; within a
// block, tree by tree, so a tree's nodes and the block's rows stay in cache together. Each row still sums
// the trees in order: the result does not depend on the thread count.
std::vector<double> mean_over_trees(const std::vector<detail::Tree>& trees, const std::vector<float>& rows,
                                    int64_t d, int jobs) {
  const int64_t width = trees.front().width, n = static_cast<int64_t>(rows.size()) / d;
  constexpr int64_t kBlock = 64;
  std::vector<double> out(n * width, 0.0);
  const double scale = 1.0 / static_cast<double>(trees.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    for (const detail::Tree& tree : trees)
      for (int64_t i = b0; i < b1; ++i) {
        const double* v = tree.value.data() + tree.apply(rows.data() + i * d) * width;
        double* o = out.data() + i * width;
        for (int64_t k = 0; k < width; ++k) o[k] += v[k];
      }
    for (int64_t i = b0 * width; i < b1 * width; ++i) out[i] *= scale;
  }
  return out;
}

std::vector<double> forest_importances(const std::vector<detail::Tree>& trees, int64_t d) {
  std::vector<double> imp(d, 0.0);
  int64_t used = 0;
  for (const detail::Tree& t : trees) {
    if (t.node_count() <= 1) continue;
    const std::vector<double> ti = detail::normalized_importances(t, d);
    for (int64_t f = 0; f < d; ++f) imp[f] += ti[f];
    ++used;
  }
  double total = 0;
  for (double& v : imp) total += (v /= std::max<int64_t>(used, 1));
  if (total > 0)
    for (double& v : imp) v /= total;
  return imp;
}

void check_forest_params(int64_t n_estimators, bool bootstrap, bool oob_score, const std::string& who) {
  KILN_CHECK(n_estimators >= 1, who, ": n_estimators must be >= 1, got ", n_estimators);
  KILN_CHECK(bootstrap || !oob_score, who,
             ": oob_score needs bootstrap = true (out-of-bag rows exist only "
             "with bootstrap samples)");
}

}  // namespace

// ---- RandomForestClassifier ----

RandomForestClassifier::RandomForestClassifier() : params_() {}
RandomForestClassifier::RandomForestClassifier(Params params) : params_(std::move(params)) {}

RandomForestClassifier& RandomForestClassifier::fit(const Tensor& X, const Tensor& y,
                                                    const Tensor& sample_weight) {
  const std::string who = name();
  const Params& p = params_;
  detail::check_tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, p.min_impurity_decrease,
                            p.max_features, who);
  check_forest_params(p.n_estimators, p.bootstrap, p.oob_score, who);
  detail::check_class_weight(p.class_weight, true, who);
  ForestSpec spec;
  spec.settings.criterion = detail::parse_criterion(p.criterion, true, who);
  std::vector<float> rows = detail::to_f32_rows(X, who);
  const int64_t n = X.size(0), d = X.size(1);
  detail::EncodedLabels labels = detail::encode_labels(y, n, who);
  std::vector<double> w = detail::sample_weights(sample_weight, n, who);
  const int64_t K = static_cast<int64_t>(labels.classes.size());
  if (p.class_weight == "balanced") {
    const std::vector<double> cw = detail::balanced_class_weights(labels.codes, K);
    for (int64_t i = 0; i < n; ++i) w[i] *= cw[labels.codes[i]];
  }
  spec.settings.n_classes = K;
  spec.settings.max_depth = p.max_depth;
  spec.settings.min_samples_split = p.min_samples_split;
  spec.settings.min_samples_leaf = p.min_samples_leaf;
  spec.settings.max_features = detail::resolve_max_features(p.max_features, d, who);
  spec.settings.min_impurity_decrease = p.min_impurity_decrease;
  spec.n_estimators = p.n_estimators;
  spec.bootstrap = p.bootstrap;
  spec.balanced_subsample = p.bootstrap && p.class_weight == "balanced_subsample";
  spec.jobs = detail::resolve_n_jobs(p.n_jobs);
  spec.random_state = p.random_state;

  const detail::FeatureCodes codes = detail::FeatureCodes::make(rows, n, d, spec.jobs);
  trees_ = grow_forest(codes, spec, &labels.codes, nullptr, w);
  classes_ = labels.classes;
  n_features_ = d;
  importances_ = forest_importances(trees_, d);
  oob_proba_.clear();
  if (p.oob_score) {
    std::vector<double> hits;
    oob_sums(trees_, spec, rows, n, d, oob_proba_, hits);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      double* v = oob_proba_.data() + i * K;
      for (int64_t k = 0; k < K; ++k) v[k] /= std::max(hits[i], 1.0);  // as scikit-learn: 0 when never out
      correct += std::max_element(v, v + K) - v == labels.codes[i];
    }
    oob_score_value_ = static_cast<double>(correct) / static_cast<double>(n);
  }
  fitted_ = true;
  return *this;
}

Tensor RandomForestClassifier::predict_proba(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict_proba");
  const int64_t n = X.size(0), K = static_cast<int64_t>(classes_.size());
  return from_vector(mean_over_trees(trees_, rows, n_features_, detail::resolve_n_jobs(params_.n_jobs)),
                     Shape{n, K});
}

Tensor RandomForestClassifier::predict(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict");
  const int64_t n = X.size(0), K = static_cast<int64_t>(classes_.size());
  const std::vector<double> proba =
      mean_over_trees(trees_, rows, n_features_, detail::resolve_n_jobs(params_.n_jobs));
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* v = proba.data() + i * K;
    out[i] = classes_[std::max_element(v, v + K) - v];
  }
  return from_vector(out, Shape{n});
}

double RandomForestClassifier::score(const Tensor& X, const Tensor& y) const {
  std::vector<int64_t> pred = predict(X).to_vector<int64_t>();
  KILN_CHECK(y.defined() && y.dim() == 1 && y.size(0) == static_cast<int64_t>(pred.size()), name(),
             ": score() needs y of shape [", pred.size(), "], got ",
             y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  std::vector<int64_t> truth = y.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor RandomForestClassifier::classes() const {
  validation::check_fitted(fitted_, name() + ".classes");
  return from_vector(classes_, Shape{static_cast<int64_t>(classes_.size())});
}

Tensor RandomForestClassifier::feature_importances_() const {
  validation::check_fitted(fitted_, name() + ".feature_importances_");
  return from_vector(importances_, Shape{n_features_});
}

double RandomForestClassifier::oob_score_() const {
  validation::check_fitted(fitted_, name() + ".oob_score_");
  KILN_CHECK(params_.oob_score, name(), ": oob_score_() needs the parameter oob_score = true at fit()");
  return oob_score_value_;
}

Tensor RandomForestClassifier::oob_decision_function_() const {
  oob_score_();
  const int64_t K = static_cast<int64_t>(classes_.size());
  return from_vector(oob_proba_, Shape{static_cast<int64_t>(oob_proba_.size()) / K, K});
}

const std::vector<detail::Tree>& RandomForestClassifier::estimators_() const {
  validation::check_fitted(fitted_, name() + ".estimators_");
  return trees_;
}

// ---- RandomForestRegressor ----

RandomForestRegressor::RandomForestRegressor() : params_() {}
RandomForestRegressor::RandomForestRegressor(Params params) : params_(std::move(params)) {}

RandomForestRegressor& RandomForestRegressor::fit(const Tensor& X, const Tensor& y,
                                                  const Tensor& sample_weight) {
  const std::string who = name();
  const Params& p = params_;
  detail::check_tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, p.min_impurity_decrease,
                            p.max_features, who);
  check_forest_params(p.n_estimators, p.bootstrap, p.oob_score, who);
  ForestSpec spec;
  spec.settings.criterion = detail::parse_criterion(p.criterion, false, who);
  std::vector<float> rows = detail::to_f32_rows(X, who);
  const int64_t n = X.size(0), d = X.size(1);
  const std::vector<double> target = detail::regression_targets(y, n, who);
  const std::vector<double> w = detail::sample_weights(sample_weight, n, who);
  spec.settings.n_classes = 1;
  spec.settings.max_depth = p.max_depth;
  spec.settings.min_samples_split = p.min_samples_split;
  spec.settings.min_samples_leaf = p.min_samples_leaf;
  spec.settings.max_features = detail::resolve_max_features(p.max_features, d, who);
  spec.settings.min_impurity_decrease = p.min_impurity_decrease;
  spec.n_estimators = p.n_estimators;
  spec.bootstrap = p.bootstrap;
  spec.jobs = detail::resolve_n_jobs(p.n_jobs);
  spec.random_state = p.random_state;

  const detail::FeatureCodes codes = detail::FeatureCodes::make(rows, n, d, spec.jobs);
  trees_ = grow_forest(codes, spec, nullptr, target.data(), w);
  n_features_ = d;
  importances_ = forest_importances(trees_, d);
  oob_pred_.clear();
  if (p.oob_score) {
    std::vector<double> hits;
    oob_sums(trees_, spec, rows, n, d, oob_pred_, hits);
    for (int64_t i = 0; i < n; ++i) oob_pred_[i] /= std::max(hits[i], 1.0);
    oob_score_value_ = detail::r2(target, oob_pred_);
  }
  fitted_ = true;
  return *this;
}

Tensor RandomForestRegressor::predict(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict");
  return from_vector(mean_over_trees(trees_, rows, n_features_, detail::resolve_n_jobs(params_.n_jobs)),
                     Shape{X.size(0)});
}

double RandomForestRegressor::score(const Tensor& X, const Tensor& y) const {
  std::vector<double> pred = predict(X).to_vector<double>();
  return detail::r2(detail::regression_targets(y, static_cast<int64_t>(pred.size()), name()), pred);
}

Tensor RandomForestRegressor::feature_importances_() const {
  validation::check_fitted(fitted_, name() + ".feature_importances_");
  return from_vector(importances_, Shape{n_features_});
}

double RandomForestRegressor::oob_score_() const {
  validation::check_fitted(fitted_, name() + ".oob_score_");
  KILN_CHECK(params_.oob_score, name(), ": oob_score_() needs the parameter oob_score = true at fit()");
  return oob_score_value_;
}

Tensor RandomForestRegressor::oob_prediction_() const {
  oob_score_();
  return from_vector(oob_pred_, Shape{static_cast<int64_t>(oob_pred_.size())});
}

const std::vector<detail::Tree>& RandomForestRegressor::estimators_() const {
  validation::check_fitted(fitted_, name() + ".estimators_");
  return trees_;
}

}  // namespace kiln::classic
