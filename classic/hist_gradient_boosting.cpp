// classic/hist_gradient_boosting.cpp: HistGradientBoostingClassifier / Regressor (see
// hist_gradient_boosting.h): parameters, losses (binary and multinomial log-loss, squared error), the
// boosting loop with early stopping, prediction. The trees come from hist_gradient_boosting_core.cpp.
#include "kiln/classic/hist_gradient_boosting.h"
#include "kiln/classic/tensor_convert.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kiln/classic/tree.h"

namespace kiln::classic {

namespace {

enum class Loss { binary, multinomial, squared };

struct Spec {
  double learning_rate, l2, tol, validation_fraction;
  int64_t max_iter, max_leaf_nodes, max_depth, min_samples_leaf, max_bins, n_iter_no_change, random_state;
  bool early_stopping;
  int jobs;
};

template <class P>
Spec make_spec(const P& p, int64_t n, const std::string& who) {
  validation::check_param(who, "learning_rate", p.learning_rate, {0, validation::kInf, false, false});
  KILN_CHECK(p.max_iter >= 1, who, ": max_iter must be >= 1, got ", p.max_iter);
  KILN_CHECK(p.max_leaf_nodes == -1 || p.max_leaf_nodes >= 2, who,
             ": max_leaf_nodes must be >= 2 or -1 (unlimited), got ", p.max_leaf_nodes);
  KILN_CHECK(p.max_depth == -1 || p.max_depth >= 1, who, ": max_depth must be >= 1 or -1 (unlimited), got ",
             p.max_depth);
  KILN_CHECK(p.min_samples_leaf >= 1, who, ": min_samples_leaf must be >= 1, got ", p.min_samples_leaf);
  validation::check_param(who, "l2_regularization", p.l2_regularization, {0, validation::kInf, true, false});
  KILN_CHECK(p.max_bins >= 2 && p.max_bins <= 255, who, ": max_bins must be in [2, 255], got ", p.max_bins);
  validation::check_param(who, "validation_fraction", p.validation_fraction, {0, 1, false, false});
  KILN_CHECK(p.n_iter_no_change >= 1, who, ": n_iter_no_change must be >= 1, got ", p.n_iter_no_change);
  validation::check_param(who, "tol", p.tol, {0, validation::kInf, true, false});
  bool early;
  if (auto* b = std::get_if<bool>(&p.early_stopping)) {
    early = *b;
  } else {
    auto* s = std::get_if<std::string>(&p.early_stopping);
    KILN_CHECK(s && *s == "auto", who, ": early_stopping must be \"auto\", true or false");
    early = n > 10000;  // scikit-learn's "auto"
  }
  return {p.learning_rate,
          p.l2_regularization,
          p.tol,
          p.validation_fraction,
          p.max_iter,
          p.max_leaf_nodes,
          p.max_depth,
          p.min_samples_leaf,
          p.max_bins,
          p.n_iter_no_change,
          p.random_state,
          early,
          detail::resolve_n_jobs(p.n_jobs)};
}

// X as row-major f64 with the checks of tree_common's to_f32_rows (boosting bins in float64, like
// scikit-learn).
std::vector<double> to_f64_rows(const Tensor& X) {
  Tensor c = cpu_contiguous_as(X, DType::f64, "HistGradientBoosting");
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

// Rows of a row-major (N, D) matrix.
std::vector<double> gather_rows(const std::vector<double>& rows, int64_t d, const std::vector<int64_t>& idx) {
  std::vector<double> out;
  out.reserve(idx.size() * d);
  for (int64_t i : idx) out.insert(out.end(), rows.begin() + i * d, rows.begin() + (i + 1) * d);
  return out;
}

// Shuffled (train, validation) indices: ceil(fraction * N) validation rows, stratified by class code when
// codes is given (each class contributes its proportional share, remainders to the largest fractions).
std::pair<std::vector<int64_t>, std::vector<int64_t>> validation_split(int64_t n, double fraction,
                                                                       const int32_t* codes, int64_t K,
                                                                       uint64_t seed) {
  detail::Rng rng(seed);
  const int64_t n_val = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n)));
  std::vector<std::vector<int64_t>> groups(codes ? K : 1);
  for (int64_t i = 0; i < n; ++i) groups[codes ? codes[i] : 0].push_back(i);
  std::vector<int64_t> take(groups.size());
  std::vector<std::pair<double, size_t>> rest;
  int64_t taken = 0;
  for (size_t k = 0; k < groups.size(); ++k) {
    const double exact =
        static_cast<double>(n_val) * static_cast<double>(groups[k].size()) / static_cast<double>(n);
    take[k] = static_cast<int64_t>(exact);
    taken += take[k];
    rest.push_back({exact - static_cast<double>(take[k]), k});
  }
  std::stable_sort(rest.begin(), rest.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t j = 0; taken < n_val && j < rest.size(); ++j, ++taken) ++take[rest[j].second];
  std::vector<int64_t> train, val;
  for (size_t k = 0; k < groups.size(); ++k) {
    auto& g = groups[k];
    for (size_t i = g.size(); i > 1; --i) std::swap(g[i - 1], g[rng.below(i)]);
    val.insert(val.end(), g.begin(), g.begin() + std::min<int64_t>(take[k], static_cast<int64_t>(g.size())));
    train.insert(train.end(), g.begin() + std::min<int64_t>(take[k], static_cast<int64_t>(g.size())),
                 g.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  return {train, val};
}

struct Targets {
  Loss loss;
  int64_t K;                   // raw scores per row: 1 (binary, squared) or the class count
  std::vector<int32_t> codes;  // classification
  std::vector<double> values;  // regression
  std::vector<double> weight;
};

Targets subset(const Targets& t, const std::vector<int64_t>& idx) {
  Targets s{t.loss, t.K, {}, {}, {}};
  for (int64_t i : idx) {
    if (!t.codes.empty()) s.codes.push_back(t.codes[i]);
    if (!t.values.empty()) s.values.push_back(t.values[i]);
    s.weight.push_back(t.weight[i]);
  }
  return s;
}

std::vector<double> baseline_of(const Targets& t) {
  const double total = std::accumulate(t.weight.begin(), t.weight.end(), 0.0);
  const double eps = std::numeric_limits<double>::epsilon();
  const size_t n = t.weight.size();
  if (t.loss == Loss::squared) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += t.weight[i] * t.values[i];
    return {s / total};
  }
  if (t.loss == Loss::binary) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += t.weight[i] * t.codes[i];
    const double p = std::clamp(s / total, eps, 1 - eps);
    return {std::log(p / (1 - p))};
  }
  std::vector<double> out(t.K, 0.0);
  for (size_t i = 0; i < n; ++i) out[t.codes[i]] += t.weight[i];
  double mean = 0;
  for (double& v : out) mean += (v = std::log(std::clamp(v / total, eps, 1 - eps)));
  mean /= static_cast<double>(t.K);
  for (double& v : out) v -= mean;
  return out;
}

// Gradients and hessians of the loss at raw (N, K), weighted, laid out class-major: g[k * N + i].
void gradients(const Targets& t, const std::vector<double>& raw, std::vector<double>& g,
               std::vector<double>& h, int jobs) {
  const int64_t n = static_cast<int64_t>(t.weight.size()), K = t.K;
#pragma omp parallel for schedule(static) num_threads(jobs) if (n > 20000)
  for (int64_t i = 0; i < n; ++i) {
    const double w = t.weight[i];
    if (t.loss == Loss::squared) {
      g[i] = w * (raw[i] - t.values[i]), h[i] = w;
    } else if (t.loss == Loss::binary) {
      const double p = 1.0 / (1.0 + std::exp(-raw[i]));
      g[i] = w * (p - t.codes[i]), h[i] = w * p * (1 - p);
    } else {
      const double* r = raw.data() + i * K;
      const double mx = *std::max_element(r, r + K);
      double z = 0;
      for (int64_t k = 0; k < K; ++k) z += std::exp(r[k] - mx);
      for (int64_t k = 0; k < K; ++k) {
        const double p = std::exp(r[k] - mx) / z;
        g[k * n + i] = w * (p - (t.codes[i] == k ? 1.0 : 0.0)), h[k * n + i] = w * p * (1 - p);
      }
    }
  }
}

// The weighted mean loss (half squared error, binary or multinomial log-loss) at raw (N, K).
double mean_loss(const Targets& t, const std::vector<double>& raw) {
  const int64_t n = static_cast<int64_t>(t.weight.size()), K = t.K;
  double sum = 0, total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double l;
    if (t.loss == Loss::squared) {
      l = 0.5 * (raw[i] - t.values[i]) * (raw[i] - t.values[i]);
    } else if (t.loss == Loss::binary) {
      const double r = raw[i];
      l = (r > 0 ? r + std::log1p(std::exp(-r)) : std::log1p(std::exp(r))) - t.codes[i] * r;
    } else {
      const double* r = raw.data() + i * K;
      const double mx = *std::max_element(r, r + K);
      double z = 0;
      for (int64_t k = 0; k < K; ++k) z += std::exp(r[k] - mx);
      l = mx + std::log(z) - r[t.codes[i]];
    }
    sum += t.weight[i] * l, total += t.weight[i];
  }
  return sum / total;
}

// scikit-learn's _should_stop: no score of the last n_iter_no_change beats the one before them by tol.
bool should_stop(const std::vector<double>& scores, int64_t n_iter_no_change, double tol) {
  const int64_t ref = n_iter_no_change + 1;
  if (static_cast<int64_t>(scores.size()) < ref) return false;
  const double reference = scores[scores.size() - ref] + tol;
  for (size_t j = scores.size() - ref + 1; j < scores.size(); ++j)
    if (scores[j] > reference) return false;
  return true;
}

detail::BoostingModel fit_boosting(const std::vector<double>& rows, int64_t n, int64_t d, const Targets& all,
                                   const Spec& s) {
  detail::BoostingModel model;
  model.n_features = d;
  std::vector<int64_t> train_idx(n), val_idx;
  std::iota(train_idx.begin(), train_idx.end(), 0);
  if (s.early_stopping) {
    const bool stratify = all.loss != Loss::squared;
    const int64_t K = all.loss == Loss::binary ? 2 : all.K;
    std::tie(train_idx, val_idx) =
        validation_split(n, s.validation_fraction, stratify ? all.codes.data() : nullptr, K,
                         detail::derive_seeds(s.random_state, 1)[0]);
  }
  const Targets train = s.early_stopping ? subset(all, train_idx) : all;
  const int64_t n_train = static_cast<int64_t>(train_idx.size()), K = all.K;
  KILN_CHECK(n_train >= 1, "HistGradientBoosting: no training rows left after the validation split");
  const std::vector<double> train_rows = s.early_stopping ? gather_rows(rows, d, train_idx) : rows;
  model.mapper = detail::BinMapper::fit(train_rows, n_train, d, s.max_bins);
  const std::vector<uint8_t> bins = model.mapper.transform(train_rows, n_train, s.jobs);
  model.baseline = baseline_of(train);

  Targets val;
  std::vector<uint8_t> val_bins;
  std::vector<double> raw_val;
  const int64_t n_val = static_cast<int64_t>(val_idx.size());
  if (s.early_stopping) {
    val = subset(all, val_idx);
    val_bins = model.mapper.transform(gather_rows(rows, d, val_idx), n_val, s.jobs);
    raw_val.resize(n_val * K);
    for (int64_t i = 0; i < n_val; ++i) std::copy_n(model.baseline.begin(), K, raw_val.begin() + i * K);
    model.validation_score.push_back(-mean_loss(val, raw_val));
  }

  std::vector<double> raw(n_train * K), g(n_train * K), h(n_train * K);
  for (int64_t i = 0; i < n_train; ++i) std::copy_n(model.baseline.begin(), K, raw.begin() + i * K);
  detail::GrowerSettings gs{s.max_leaf_nodes, s.max_depth, s.min_samples_leaf, s.l2, s.learning_rate, s.jobs};
  detail::HgbGrower grower(bins, n_train, model.mapper, gs);
  for (int64_t it = 0; it < s.max_iter; ++it) {
    gradients(train, raw, g, h, s.jobs);
    std::vector<detail::HgbTree> trees;
    for (int64_t k = 0; k < K; ++k)
      trees.push_back(grower.grow(g.data() + k * n_train, h.data() + k * n_train, raw.data(), K, k));
    if (s.early_stopping) {
      for (int64_t i = 0; i < n_val; ++i)
        for (int64_t k = 0; k < K; ++k)
          raw_val[i * K + k] += trees[k].predict_binned(val_bins.data(), n_val, i);
    }
    model.trees.push_back(std::move(trees));
    if (s.early_stopping) {
      model.validation_score.push_back(-mean_loss(val, raw_val));
      if (should_stop(model.validation_score, s.n_iter_no_change, s.tol)) break;
    }
  }
  return model;
}

// Raw scores (N, K) of rows (N, D) under the fitted model: baseline plus every tree, rows in parallel.
std::vector<double> predict_raw(const detail::BoostingModel& m, const std::vector<double>& rows, int jobs) {
  const int64_t d = m.n_features, n = static_cast<int64_t>(rows.size()) / d;
  const int64_t K = static_cast<int64_t>(m.baseline.size());
  std::vector<double> raw(n * K);
#pragma omp parallel for schedule(static) num_threads(jobs) if (n > 256)
  for (int64_t i = 0; i < n; ++i) {
    double* r = raw.data() + i * K;
    std::copy_n(m.baseline.begin(), K, r);
    for (const auto& trees : m.trees)
      for (int64_t k = 0; k < K; ++k) r[k] += trees[k].predict_raw(rows.data() + i * d);
  }
  return raw;
}

std::vector<double> checked_rows(const Tensor& X, bool fitted, int64_t d, const std::string& who,
                                 const char* method) {
  detail::rows_for_predict(X, fitted, d, who, method);  // checks fitted, shape and finiteness
  return to_f64_rows(X);
}

}  // namespace

// ---- HistGradientBoostingClassifier ----

HistGradientBoostingClassifier::HistGradientBoostingClassifier() : params_() {}
HistGradientBoostingClassifier::HistGradientBoostingClassifier(Params params) : params_(std::move(params)) {}

HistGradientBoostingClassifier& HistGradientBoostingClassifier::fit(const Tensor& X, const Tensor& y,
                                                                    const Tensor& sample_weight) {
  const std::string who = name();
  KILN_CHECK(params_.loss == "log_loss", who, ": loss must be \"log_loss\", got \"", params_.loss, "\"");
  detail::check_class_weight(params_.class_weight, false, who);
  detail::to_f32_rows(X, who);  // shape, dtype and finiteness checks
  const int64_t n = X.size(0), d = X.size(1);
  const Spec spec = make_spec(params_, n, who);
  detail::EncodedLabels labels = detail::encode_labels(y, n, who);
  const int64_t K = static_cast<int64_t>(labels.classes.size());
  KILN_CHECK(K >= 2, who, ": y has a single class (", labels.classes[0], "); a classifier needs at least 2");
  Targets t{K == 2 ? Loss::binary : Loss::multinomial,
            K == 2 ? 1 : K,
            labels.codes,
            {},
            detail::sample_weights(sample_weight, n, who)};
  if (params_.class_weight == "balanced") {
    const std::vector<double> cw = detail::balanced_class_weights(labels.codes, K);
    for (int64_t i = 0; i < n; ++i) t.weight[i] *= cw[labels.codes[i]];
  }
  model_ = fit_boosting(to_f64_rows(X), n, d, t, spec);
  classes_ = labels.classes;
  fitted_ = true;
  return *this;
}

std::vector<double> HistGradientBoostingClassifier::raw_scores(const Tensor& X, const char* method) const {
  return predict_raw(model_, checked_rows(X, fitted_, model_.n_features, name(), method),
                     detail::resolve_n_jobs(params_.n_jobs));
}

Tensor HistGradientBoostingClassifier::decision_function(const Tensor& X) const {
  const std::vector<double> raw = raw_scores(X, "decision_function");
  const int64_t K = static_cast<int64_t>(model_.baseline.size());
  return K == 1 ? from_vector(raw, Shape{X.size(0)}) : from_vector(raw, Shape{X.size(0), K});
}

Tensor HistGradientBoostingClassifier::predict_proba(const Tensor& X) const {
  const std::vector<double> raw = raw_scores(X, "predict_proba");
  const int64_t n = X.size(0), K = static_cast<int64_t>(classes_.size());
  std::vector<double> p(n * K);
  for (int64_t i = 0; i < n; ++i) {
    if (K == 2) {
      p[i * 2 + 1] = 1.0 / (1.0 + std::exp(-raw[i]));
      p[i * 2] = 1.0 - p[i * 2 + 1];
      continue;
    }
    const double* r = raw.data() + i * K;
    const double mx = *std::max_element(r, r + K);
    double z = 0;
    for (int64_t k = 0; k < K; ++k) z += (p[i * K + k] = std::exp(r[k] - mx));
    for (int64_t k = 0; k < K; ++k) p[i * K + k] /= z;
  }
  return from_vector(p, Shape{n, K});
}

Tensor HistGradientBoostingClassifier::predict(const Tensor& X) const {
  const std::vector<double> raw = raw_scores(X, "predict");
  const int64_t n = X.size(0), K = static_cast<int64_t>(model_.baseline.size());
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* r = raw.data() + i * K;
    out[i] = K == 1 ? classes_[r[0] > 0 ? 1 : 0] : classes_[std::max_element(r, r + K) - r];
  }
  return from_vector(out, Shape{n});
}

double HistGradientBoostingClassifier::score(const Tensor& X, const Tensor& y) const {
  const std::vector<int64_t> pred = predict(X).to_vector<int64_t>();
  KILN_CHECK(y.defined() && y.dim() == 1 && y.size(0) == static_cast<int64_t>(pred.size()), name(),
             ": score() needs y of shape [", pred.size(), "]");
  const std::vector<int64_t> truth = y.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor HistGradientBoostingClassifier::classes() const {
  validation::check_fitted(fitted_, name() + ".classes");
  return from_vector(classes_, Shape{static_cast<int64_t>(classes_.size())});
}

int64_t HistGradientBoostingClassifier::n_iter_() const {
  validation::check_fitted(fitted_, name() + ".n_iter_");
  return static_cast<int64_t>(model_.trees.size());
}

std::vector<double> HistGradientBoostingClassifier::validation_score_() const {
  validation::check_fitted(fitted_, name() + ".validation_score_");
  return model_.validation_score;
}

// ---- HistGradientBoostingRegressor ----

HistGradientBoostingRegressor::HistGradientBoostingRegressor() : params_() {}
HistGradientBoostingRegressor::HistGradientBoostingRegressor(Params params) : params_(std::move(params)) {}

HistGradientBoostingRegressor& HistGradientBoostingRegressor::fit(const Tensor& X, const Tensor& y,
                                                                  const Tensor& sample_weight) {
  const std::string who = name();
  KILN_CHECK(params_.loss == "squared_error", who, ": loss must be \"squared_error\", got \"", params_.loss,
             "\"");
  detail::to_f32_rows(X, who);
  const int64_t n = X.size(0), d = X.size(1);
  const Spec spec = make_spec(params_, n, who);
  Targets t{Loss::squared,
            1,
            {},
            detail::regression_targets(y, n, who),
            detail::sample_weights(sample_weight, n, who)};
  model_ = fit_boosting(to_f64_rows(X), n, d, t, spec);
  fitted_ = true;
  return *this;
}

Tensor HistGradientBoostingRegressor::predict(const Tensor& X) const {
  return from_vector(predict_raw(model_, checked_rows(X, fitted_, model_.n_features, name(), "predict"),
                                 detail::resolve_n_jobs(params_.n_jobs)),
                     Shape{X.size(0)});
}

double HistGradientBoostingRegressor::score(const Tensor& X, const Tensor& y) const {
  const std::vector<double> pred = predict(X).to_vector<double>();
  return detail::r2(detail::regression_targets(y, static_cast<int64_t>(pred.size()), name()), pred);
}

int64_t HistGradientBoostingRegressor::n_iter_() const {
  validation::check_fitted(fitted_, name() + ".n_iter_");
  return static_cast<int64_t>(model_.trees.size());
}

std::vector<double> HistGradientBoostingRegressor::validation_score_() const {
  validation::check_fitted(fitted_, name() + ".validation_score_");
  return model_.validation_score;
}

}  // namespace kiln::classic
