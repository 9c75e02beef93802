// kiln/classic/model_selection_scoring.cpp: get_scorer (model_selection.h) — the named scorers that
// cross-validation and the searches use, computed here so model selection does not depend on the metrics
// module. Formulas follow scikit-learn (labels = the union of true and predicted labels; a class with no
// predicted or no true samples scores 0 precision / recall, scikit-learn's zero_division default).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "kiln/classic/model_selection.h"
#include "kiln/tensor/error.h"

namespace kiln::classic {
namespace {

struct PerClass {
  std::vector<double> tp, fp, fn, support;
};

PerClass per_class(const std::vector<double>& truth, const std::vector<double>& pred,
                   std::vector<double>& labels) {
  std::set<double> all(truth.begin(), truth.end());
  all.insert(pred.begin(), pred.end());
  labels.assign(all.begin(), all.end());
  const size_t k = labels.size();
  auto idx = [&](double v) { return std::lower_bound(labels.begin(), labels.end(), v) - labels.begin(); };
  PerClass pc{std::vector<double>(k), std::vector<double>(k), std::vector<double>(k), std::vector<double>(k)};
  for (size_t i = 0; i < truth.size(); ++i) {
    const auto t = idx(truth[i]), p = idx(pred[i]);
    pc.support[t] += 1;
    if (t == p) {
      pc.tp[t] += 1;
    } else {
      pc.fp[p] += 1;
      pc.fn[t] += 1;
    }
  }
  return pc;
}

double safe_div(double a, double b) { return b == 0 ? 0.0 : a / b; }

enum class Average { macro, micro, weighted, binary };
enum class Which { precision, recall, f1 };

double prf(const std::vector<double>& truth, const std::vector<double>& pred, Which which, Average avg) {
  std::vector<double> labels;
  PerClass pc = per_class(truth, pred, labels);
  auto score = [&](double tp, double fp, double fn) {
    const double p = safe_div(tp, tp + fp), r = safe_div(tp, tp + fn);
    if (which == Which::precision) return p;
    if (which == Which::recall) return r;
    return safe_div(2 * p * r, p + r);
  };
  const size_t k = labels.size();
  if (avg == Average::binary) {
    auto it = std::find(labels.begin(), labels.end(), 1.0);
    KILN_CHECK(k <= 2, "scorer \"f1\": binary F1 needs at most 2 labels, got ", k,
               "; use \"f1_macro\", \"f1_micro\" or \"f1_weighted\" for multiclass targets");
    if (it == labels.end()) return 0.0;
    const size_t c = it - labels.begin();
    return score(pc.tp[c], pc.fp[c], pc.fn[c]);
  }
  if (avg == Average::micro) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t c = 0; c < k; ++c) tp += pc.tp[c], fp += pc.fp[c], fn += pc.fn[c];
    return score(tp, fp, fn);
  }
  double sum = 0, wsum = 0;
  for (size_t c = 0; c < k; ++c) {
    const double w = avg == Average::weighted ? pc.support[c] : 1.0;
    sum += w * score(pc.tp[c], pc.fp[c], pc.fn[c]);
    wsum += w;
  }
  return safe_div(sum, wsum);
}

using Metric = std::function<double(const std::vector<double>& truth, const std::vector<double>& pred)>;

ScoreFunction from_predictions(Metric m) {
  return [m](const Predictor& est, const Tensor& X, const Tensor& y) {
    return m(y.to_vector<double>(), est.predict(X).to_vector<double>());
  };
}

double accuracy(const std::vector<double>& t, const std::vector<double>& p) {
  double hit = 0;
  for (size_t i = 0; i < t.size(); ++i) hit += t[i] == p[i];
  return hit / static_cast<double>(t.size());
}

double balanced_accuracy(const std::vector<double>& t, const std::vector<double>& p) {
  std::vector<double> labels;
  PerClass pc = per_class(t, p, labels);
  double sum = 0, n = 0;
  for (size_t c = 0; c < labels.size(); ++c)
    if (pc.support[c] > 0) sum += pc.tp[c] / pc.support[c], n += 1;  // classes only predicted are skipped
  return sum / n;
}

double r2(const std::vector<double>& t, const std::vector<double>& p) {
  double mean = 0;
  for (double v : t) mean += v;
  mean /= static_cast<double>(t.size());
  double res = 0, tot = 0;
  for (size_t i = 0; i < t.size(); ++i)
    res += (t[i] - p[i]) * (t[i] - p[i]), tot += (t[i] - mean) * (t[i] - mean);
  if (tot == 0) return res == 0 ? 1.0 : 0.0;
  return 1.0 - res / tot;
}

double explained_variance(const std::vector<double>& t, const std::vector<double>& p) {
  const double n = static_cast<double>(t.size());
  double mt = 0, me = 0;
  for (size_t i = 0; i < t.size(); ++i) mt += t[i], me += t[i] - p[i];
  mt /= n, me /= n;
  double ve = 0, vt = 0;
  for (size_t i = 0; i < t.size(); ++i)
    ve += (t[i] - p[i] - me) * (t[i] - p[i] - me), vt += (t[i] - mt) * (t[i] - mt);
  if (vt == 0) return ve == 0 ? 1.0 : 0.0;
  return 1.0 - ve / vt;
}

double mse(const std::vector<double>& t, const std::vector<double>& p) {
  double s = 0;
  for (size_t i = 0; i < t.size(); ++i) s += (t[i] - p[i]) * (t[i] - p[i]);
  return s / static_cast<double>(t.size());
}

double mae(const std::vector<double>& t, const std::vector<double>& p) {
  double s = 0;
  for (size_t i = 0; i < t.size(); ++i) s += std::abs(t[i] - p[i]);
  return s / static_cast<double>(t.size());
}

double neg_log_loss(const Predictor& est, const Tensor& X, const Tensor& y) {
  const auto* clf = dynamic_cast<const Classifier*>(&est);
  KILN_CHECK(clf != nullptr, "scorer \"neg_log_loss\": ", est.name(),
             " is not a Classifier (no predict_proba)");
  std::vector<double> proba = clf->predict_proba(X).to_vector<double>();
  std::vector<double> classes = clf->classes().to_vector<double>();
  std::vector<double> t = y.to_vector<double>();
  const size_t k = classes.size();
  const double eps = 2.220446049250313e-16;
  double loss = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    auto it = std::lower_bound(classes.begin(), classes.end(), t[i]);
    KILN_CHECK(it != classes.end() && *it == t[i], "scorer \"neg_log_loss\": label ", t[i],
               " was not seen in fit (the fold's training rows lack it)");
    // Clip then renormalize, as scikit-learn's log_loss does.
    double row = 0;
    for (size_t c = 0; c < k; ++c) row += std::clamp(proba[i * k + c], eps, 1 - eps);
    loss -= std::log(std::clamp(proba[i * k + (it - classes.begin())], eps, 1 - eps) / row);
  }
  return -loss / static_cast<double>(t.size());
}

}  // namespace

ScoreFunction get_scorer(const std::string& name) {
  if (name.empty())
    return [](const Predictor& est, const Tensor& X, const Tensor& y) { return est.score(X, y); };
  static const std::map<std::string, Metric> metrics = {
      {"accuracy", accuracy},
      {"balanced_accuracy", balanced_accuracy},
      {"f1", [](auto& t, auto& p) { return prf(t, p, Which::f1, Average::binary); }},
      {"f1_macro", [](auto& t, auto& p) { return prf(t, p, Which::f1, Average::macro); }},
      {"f1_micro", [](auto& t, auto& p) { return prf(t, p, Which::f1, Average::micro); }},
      {"f1_weighted", [](auto& t, auto& p) { return prf(t, p, Which::f1, Average::weighted); }},
      {"precision_macro", [](auto& t, auto& p) { return prf(t, p, Which::precision, Average::macro); }},
      {"recall_macro", [](auto& t, auto& p) { return prf(t, p, Which::recall, Average::macro); }},
      {"r2", r2},
      {"explained_variance", explained_variance},
      {"neg_mean_squared_error", [](auto& t, auto& p) { return -mse(t, p); }},
      {"neg_root_mean_squared_error", [](auto& t, auto& p) { return -std::sqrt(mse(t, p)); }},
      {"neg_mean_absolute_error", [](auto& t, auto& p) { return -mae(t, p); }},
  };
  if (name == "neg_log_loss") return neg_log_loss;
  auto it = metrics.find(name);
  if (it == metrics.end()) {
    std::string valid = "neg_log_loss";
    for (const auto& [k, _] : metrics) valid += ", " + k;
    KILN_CHECK(false, "get_scorer: unknown scoring \"", name, "\" (valid: ", valid, ")");
  }
  return from_predictions(it->second);
}

}  // namespace kiln::classic
