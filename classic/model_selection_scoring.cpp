// kiln/classic/model_selection_scoring.cpp: get_scorer (model_selection.h) — scikit-learn's named scorers
// for cross-validation and the searches, each a thin adapter from (estimator, X, y) to one of the metrics
// in metrics.h, so a scorer and the metric of the same name can never disagree.
#include <cmath>
#include <map>

#include "kiln/classic/metrics.h"
#include "kiln/classic/model_selection.h"
#include "kiln/tensor/error.h"

namespace kiln::classic {
namespace {

// Class labels as i64, as the metrics want them: a floating target is accepted when its values are whole
// numbers (labels read from a file), and refused otherwise with the scorer's name.
Tensor as_labels(const Tensor& t, const std::string& scorer) {
  if (!is_integral(t.dtype()))
    for (double v : t.to_vector<double>())
      KILN_CHECK(std::floor(v) == v, "scorer \"", scorer, "\": the target holds ", v,
                 ", not a class label; use a regression scorer (\"r2\", \"neg_mean_squared_error\", ...)");
  return from_vector(t.to_vector<int64_t>(), t.shape());
}

// classic/ sits below autograd, so dtype conversion goes through the host vector (Tensor::to is autograd's).
Tensor as_f64(const Tensor& t) { return from_vector(t.to_vector<double>(), t.shape()); }

const Classifier& as_classifier(const Predictor& est, const std::string& scorer) {
  const auto* clf = dynamic_cast<const Classifier*>(&est);
  KILN_CHECK(clf != nullptr, "scorer \"", scorer, "\": ", est.name(),
             " is not a Classifier (no predict_proba)");
  return *clf;
}

using LabelMetric = std::function<double(const Tensor& y_true, const Tensor& y_pred)>;
using ProbaMetric = std::function<double(const Tensor& y_true, const Tensor& proba, const Tensor& classes)>;

ScoreFunction on_labels(const std::string& scorer, LabelMetric m) {
  return [scorer, m](const Predictor& est, const Tensor& X, const Tensor& y) {
    return m(as_labels(y, scorer), as_labels(est.predict(X), scorer));
  };
}

ScoreFunction on_values(LabelMetric m) {
  return [m](const Predictor& est, const Tensor& X, const Tensor& y) {
    return m(as_f64(y), as_f64(est.predict(X)));
  };
}

ScoreFunction on_proba(const std::string& scorer, ProbaMetric m) {
  return [scorer, m](const Predictor& est, const Tensor& X, const Tensor& y) {
    const Classifier& clf = as_classifier(est, scorer);
    return m(as_labels(y, scorer), as_f64(clf.predict_proba(X)), clf.classes());
  };
}

// The positive class's column of a binary classifier's probabilities (scikit-learn's classes_[1]).
std::pair<Tensor, int64_t> positive_scores(const Tensor& proba, const Tensor& classes,
                                           const std::string& scorer) {
  std::vector<int64_t> cls = classes.to_vector<int64_t>();
  KILN_CHECK(cls.size() == 2, "scorer \"", scorer, "\": needs a binary target, the estimator has ",
             cls.size(), " classes; use \"roc_auc_ovr\" (roc_auc) or a macro-averaged scorer");
  std::vector<double> p = proba.to_vector<double>(), pos(p.size() / 2);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = p[2 * i + 1];
  return {from_vector(pos), cls[1]};
}

void add_prf(std::map<std::string, ScoreFunction>& out, const std::string& metric,
             double (*fn)(const Tensor&, const Tensor&, const PrfOptions&)) {
  for (const std::string average : {"binary", "macro", "micro", "weighted"}) {
    const std::string name = average == "binary" ? metric : metric + "_" + average;
    out[name] = on_labels(
        name, [fn, average](const Tensor& t, const Tensor& p) { return fn(t, p, {.average = average}); });
  }
}

std::map<std::string, ScoreFunction> make_scorers() {
  std::map<std::string, ScoreFunction> s;
  s["accuracy"] = on_labels("accuracy", [](auto& t, auto& p) { return accuracy_score(t, p); });
  s["balanced_accuracy"] =
      on_labels("balanced_accuracy", [](auto& t, auto& p) { return balanced_accuracy_score(t, p); });
  add_prf(s, "f1", f1_score);
  add_prf(s, "precision", precision_score);
  add_prf(s, "recall", recall_score);
  s["roc_auc"] = on_proba("roc_auc", [](auto& t, auto& proba, auto& classes) {
    return roc_auc_score(t, positive_scores(proba, classes, "roc_auc").first);
  });
  for (const std::string average : {"macro", "weighted"}) {
    const std::string name = average == "macro" ? "roc_auc_ovr" : "roc_auc_ovr_weighted";
    s[name] = on_proba(name, [average](auto& t, auto& proba, auto& classes) {
      return roc_auc_score(
          t, proba,
          {.average = average, .multi_class = "ovr", .labels = classes.template to_vector<int64_t>()});
    });
  }
  s["average_precision"] = on_proba("average_precision", [](auto& t, auto& proba, auto& classes) {
    auto [pos, label] = positive_scores(proba, classes, "average_precision");
    return average_precision_score(t, pos, {.pos_label = label});
  });
  s["neg_log_loss"] = on_proba("neg_log_loss", [](auto& t, auto& proba, auto& classes) {
    return -log_loss(t, proba, {.labels = classes.template to_vector<int64_t>()});
  });
  s["r2"] = on_values([](auto& t, auto& p) { return r2_score(t, p); });
  s["explained_variance"] = on_values([](auto& t, auto& p) { return explained_variance_score(t, p); });
  s["neg_mean_squared_error"] = on_values([](auto& t, auto& p) { return -mean_squared_error(t, p); });
  s["neg_root_mean_squared_error"] =
      on_values([](auto& t, auto& p) { return -root_mean_squared_error(t, p); });
  s["neg_mean_absolute_error"] = on_values([](auto& t, auto& p) { return -mean_absolute_error(t, p); });
  return s;
}

}  // namespace

ScoreFunction get_scorer(const std::string& name) {
  if (name.empty())
    return [](const Predictor& est, const Tensor& X, const Tensor& y) { return est.score(X, y); };
  static const std::map<std::string, ScoreFunction> scorers = make_scorers();
  auto it = scorers.find(name);
  if (it == scorers.end()) {
    std::string valid;
    for (const auto& [k, _] : scorers) valid += (valid.empty() ? "" : ", ") + k;
    KILN_CHECK(false, "get_scorer: unknown scoring \"", name, "\" (valid: ", valid, ")");
  }
  return it->second;
}

std::vector<std::string> scorer_names() {
  std::vector<std::string> names;
  for (const auto& [k, _] : make_scorers()) names.push_back(k);
  return names;
}

}  // namespace kiln::classic
