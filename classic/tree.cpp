// classic/tree.cpp: DecisionTreeClassifier and DecisionTreeRegressor (see tree.h): parameter handling,
// input checks and prediction around the CART engine of tree_builder.cpp. Depends on tree_common.h.
#include "kiln/classic/tree.h"
#include "kiln/classic/validation.h"

#include <numeric>

namespace kiln::classic {

namespace detail {

void check_tree_params(int64_t max_depth, int64_t min_samples_split, int64_t min_samples_leaf,
                       double min_impurity_decrease, const ParamValue& max_features, const std::string& who) {
  KILN_CHECK(max_depth == -1 || max_depth >= 1, who, ": max_depth must be >= 1 or -1 (unlimited), got ",
             max_depth);
  KILN_CHECK(min_samples_split >= 2, who, ": min_samples_split must be >= 2, got ", min_samples_split);
  KILN_CHECK(min_samples_leaf >= 1, who, ": min_samples_leaf must be >= 1, got ", min_samples_leaf);
  validation::check_param(who, "min_impurity_decrease", min_impurity_decrease,
                          {0, validation::kInf, true, false});
  check_max_features(max_features, who);
}

Criterion parse_criterion(const std::string& c, bool classifier, const std::string& who) {
  if (classifier) {
    if (c == "gini") return Criterion::gini;
    if (c == "entropy" || c == "log_loss") return Criterion::entropy;
    KILN_CHECK(false, who, ": criterion must be \"gini\", \"entropy\" or \"log_loss\", got \"", c, "\"");
  }
  KILN_CHECK(c == "squared_error", who, ": criterion must be \"squared_error\", got \"", c, "\"");
  return Criterion::squared_error;
}

std::vector<double> normalized_importances(const Tree& tree, int64_t n_features) {
  std::vector<double> imp(n_features, 0.0);
  tree.add_importances(imp);
  for (double& v : imp) v /= tree.weighted_n[0];
  const double total = std::accumulate(imp.begin(), imp.end(), 0.0);
  if (total > 0)
    for (double& v : imp) v /= total;
  return imp;
}

double r2(const std::vector<double>& y, const std::vector<double>& pred) {
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double sse = 0, sst = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sse += (y[i] - pred[i]) * (y[i] - pred[i]);
    sst += (y[i] - mean) * (y[i] - mean);
  }
  if (sst == 0) return sse == 0 ? 1.0 : 0.0;
  return 1.0 - sse / sst;
}

}  // namespace detail

namespace {

Tensor leaves_of(const detail::Tree& tree, const std::vector<float>& rows, int64_t d) {
  const int64_t n = static_cast<int64_t>(rows.size()) / d;
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = tree.apply(rows.data() + i * d);
  return from_vector(out, Shape{n});
}

// Fits one tree on checked inputs; shared by both classes.
detail::Tree grow(const std::vector<float>& rows, int64_t n, int64_t d, detail::Criterion criterion,
                  int64_t n_classes, int64_t max_depth, int64_t min_samples_split, int64_t min_samples_leaf,
                  const ParamValue& max_features, double min_impurity_decrease, int64_t random_state,
                  const int32_t* yc, const double* yr, const std::vector<double>& w, const std::string& who) {
  detail::TreeSettings s;
  s.criterion = criterion;
  s.n_classes = n_classes;
  s.max_depth = max_depth;
  s.min_samples_split = min_samples_split;
  s.min_samples_leaf = min_samples_leaf;
  s.max_features = detail::resolve_max_features(max_features, d, who);
  s.min_impurity_decrease = min_impurity_decrease;
  detail::FeatureCodes codes = detail::FeatureCodes::make(rows, n, d, 1);
  detail::Rng rng(detail::derive_seeds(random_state, 1)[0]);
  return detail::build_tree(codes, s, yc, yr, w, rng);
}

}  // namespace

// ---- DecisionTreeClassifier ----

DecisionTreeClassifier::DecisionTreeClassifier() : params_() {}
DecisionTreeClassifier::DecisionTreeClassifier(Params params) : params_(std::move(params)) {}

DecisionTreeClassifier& DecisionTreeClassifier::fit(const Tensor& X, const Tensor& y,
                                                    const Tensor& sample_weight) {
  const std::string who = name();
  const Params& p = params_;
  detail::check_tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, p.min_impurity_decrease,
                            p.max_features, who);
  const detail::Criterion crit = detail::parse_criterion(p.criterion, true, who);
  detail::check_class_weight(p.class_weight, false, who);
  std::vector<float> rows = detail::to_f32_rows(X, who);
  const int64_t n = X.size(0), d = X.size(1);
  detail::EncodedLabels labels = detail::encode_labels(y, n, who);
  std::vector<double> w = detail::sample_weights(sample_weight, n, who);
  const int64_t K = static_cast<int64_t>(labels.classes.size());
  if (p.class_weight == "balanced") {
    std::vector<double> cw = detail::balanced_class_weights(labels.codes, K);
    for (int64_t i = 0; i < n; ++i) w[i] *= cw[labels.codes[i]];
  }
  tree_data_ = grow(rows, n, d, crit, K, p.max_depth, p.min_samples_split, p.min_samples_leaf, p.max_features,
                    p.min_impurity_decrease, p.random_state, labels.codes.data(), nullptr, w, who);
  classes_ = labels.classes;
  n_features_ = d;
  importances_ = detail::normalized_importances(tree_data_, d);
  fitted_ = true;
  return *this;
}

Tensor DecisionTreeClassifier::predict_proba(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict_proba");
  const int64_t n = X.size(0), K = static_cast<int64_t>(classes_.size());
  std::vector<double> out(n * K);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t leaf = tree_data_.apply(rows.data() + i * n_features_);
    std::copy_n(tree_data_.value.data() + leaf * K, K, out.data() + i * K);
  }
  return from_vector(out, Shape{n, K});
}

Tensor DecisionTreeClassifier::predict(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict");
  const int64_t n = X.size(0), K = static_cast<int64_t>(classes_.size());
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* v = tree_data_.value.data() + tree_data_.apply(rows.data() + i * n_features_) * K;
    out[i] = classes_[std::max_element(v, v + K) - v];  // first maximum, like numpy's argmax
  }
  return from_vector(out, Shape{n});
}

double DecisionTreeClassifier::score(const Tensor& X, const Tensor& y) const {
  std::vector<int64_t> pred = predict(X).to_vector<int64_t>();
  KILN_CHECK(y.defined() && y.dim() == 1 && y.size(0) == static_cast<int64_t>(pred.size()), name(),
             ": score() needs y of shape [", pred.size(), "], got ",
             y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  std::vector<int64_t> truth = y.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor DecisionTreeClassifier::classes() const {
  validation::check_fitted(fitted_, name() + ".classes");
  return from_vector(classes_, Shape{static_cast<int64_t>(classes_.size())});
}

Tensor DecisionTreeClassifier::apply(const Tensor& X) const {
  return leaves_of(tree_data_, detail::rows_for_predict(X, fitted_, n_features_, name(), "apply"),
                   n_features_);
}

Tensor DecisionTreeClassifier::feature_importances_() const {
  validation::check_fitted(fitted_, name() + ".feature_importances_");
  return from_vector(importances_, Shape{n_features_});
}

int64_t DecisionTreeClassifier::get_depth() const { return tree_().max_depth; }
int64_t DecisionTreeClassifier::get_n_leaves() const { return tree_().leaf_count(); }

const detail::Tree& DecisionTreeClassifier::tree_() const {
  validation::check_fitted(fitted_, name() + ".tree_");
  return tree_data_;
}

// ---- DecisionTreeRegressor ----

DecisionTreeRegressor::DecisionTreeRegressor() : params_() {}
DecisionTreeRegressor::DecisionTreeRegressor(Params params) : params_(std::move(params)) {}

DecisionTreeRegressor& DecisionTreeRegressor::fit(const Tensor& X, const Tensor& y,
                                                  const Tensor& sample_weight) {
  const std::string who = name();
  const Params& p = params_;
  detail::check_tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, p.min_impurity_decrease,
                            p.max_features, who);
  const detail::Criterion crit = detail::parse_criterion(p.criterion, false, who);
  std::vector<float> rows = detail::to_f32_rows(X, who);
  const int64_t n = X.size(0), d = X.size(1);
  std::vector<double> target = detail::regression_targets(y, n, who);
  std::vector<double> w = detail::sample_weights(sample_weight, n, who);
  tree_data_ = grow(rows, n, d, crit, 1, p.max_depth, p.min_samples_split, p.min_samples_leaf, p.max_features,
                    p.min_impurity_decrease, p.random_state, nullptr, target.data(), w, who);
  n_features_ = d;
  importances_ = detail::normalized_importances(tree_data_, d);
  fitted_ = true;
  return *this;
}

Tensor DecisionTreeRegressor::predict(const Tensor& X) const {
  std::vector<float> rows = detail::rows_for_predict(X, fitted_, n_features_, name(), "predict");
  const int64_t n = X.size(0);
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = tree_data_.value[tree_data_.apply(rows.data() + i * n_features_)];
  return from_vector(out, Shape{n});
}

double DecisionTreeRegressor::score(const Tensor& X, const Tensor& y) const {
  std::vector<double> pred = predict(X).to_vector<double>();
  std::vector<double> truth = detail::regression_targets(y, static_cast<int64_t>(pred.size()), name());
  return detail::r2(truth, pred);
}

Tensor DecisionTreeRegressor::apply(const Tensor& X) const {
  return leaves_of(tree_data_, detail::rows_for_predict(X, fitted_, n_features_, name(), "apply"),
                   n_features_);
}

Tensor DecisionTreeRegressor::feature_importances_() const {
  validation::check_fitted(fitted_, name() + ".feature_importances_");
  return from_vector(importances_, Shape{n_features_});
}

int64_t DecisionTreeRegressor::get_depth() const { return tree_().max_depth; }
int64_t DecisionTreeRegressor::get_n_leaves() const { return tree_().leaf_count(); }

const detail::Tree& DecisionTreeRegressor::tree_() const {
  validation::check_fitted(fitted_, name() + ".tree_");
  return tree_data_;
}

}  // namespace kiln::classic
