// Classification metrics (see metrics.h): accuracy, balanced accuracy, precision/recall/F-beta with
// scikit-learn 1.2's averaging and zero_division rules, confusion matrix, log loss. Depends on
// metrics_common.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "kiln/classic/metrics.h"
#include "kiln/classic/metrics_common.h"

namespace kiln::classic {

namespace prep_detail {

LabelPair label_pair(const Tensor& y_true, const Tensor& y_pred, const std::string& who) {
  LabelPair y{to_labels(y_true, who, "y_true"), to_labels(y_pred, who, "y_pred")};
  KILN_CHECK(y.t.size() == y.p.size(), who, ": y_true has ", y.t.size(), " samples but y_pred has ",
             y.p.size());
  KILN_CHECK(!y.t.empty(), who, ": y_true and y_pred are empty");
  return y;
}

std::vector<double> weights_of(const Tensor& sample_weight, size_t n, const std::string& who) {
  if (!sample_weight.defined()) return std::vector<double>(n, 1.0);
  std::vector<double> w = to_values(sample_weight, who, "sample_weight");
  KILN_CHECK(w.size() == n, who, ": sample_weight has ", w.size(), " entries for ", n, " samples");
  for (double x : w)
    KILN_CHECK(std::isfinite(x) && x >= 0, who, ": sample_weight holds ", x, "; need finite >= 0");
  return w;
}

std::vector<int64_t> union_labels(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  return unique_sorted(std::move(all));
}

int64_t label_index(const std::vector<int64_t>& labels, int64_t label) {
  auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : it - labels.begin();
}

LabelCounts label_counts(const LabelPair& y, const std::vector<double>& w,
                         const std::vector<int64_t>& labels) {
  std::map<int64_t, size_t> pos;
  for (size_t i = 0; i < labels.size(); ++i) pos.emplace(labels[i], i);
  LabelCounts c{std::vector<double>(labels.size()), std::vector<double>(labels.size()),
                std::vector<double>(labels.size())};
  for (size_t i = 0; i < y.t.size(); ++i) {
    auto pt = pos.find(y.t[i]), pp = pos.find(y.p[i]);
    if (pt != pos.end()) c.truth[pt->second] += w[i];
    if (pp != pos.end()) c.pred[pp->second] += w[i];
    if (y.t[i] == y.p[i] && pt != pos.end()) c.tp[pt->second] += w[i];
  }
  return c;
}

Prf prf(const LabelPair& y, const std::vector<double>& w, const std::vector<int64_t>& labels,
        const std::string& average, double beta, double zero_division) {
  LabelCounts c = label_counts(y, w, labels);
  if (average == "micro") {
    c.tp = {std::accumulate(c.tp.begin(), c.tp.end(), 0.0)};
    c.pred = {std::accumulate(c.pred.begin(), c.pred.end(), 0.0)};
    c.truth = {std::accumulate(c.truth.begin(), c.truth.end(), 0.0)};
  }
  const size_t k = c.tp.size();
  Prf r{std::vector<double>(k), std::vector<double>(k), std::vector<double>(k), c.truth};
  const double b2 = beta * beta;
  for (size_t i = 0; i < k; ++i) {
    r.precision[i] = c.pred[i] == 0 ? zero_division : c.tp[i] / c.pred[i];
    r.recall[i] = c.truth[i] == 0 ? zero_division : c.tp[i] / c.truth[i];
    if (std::isinf(beta)) {
      r.fscore[i] = r.recall[i];
    } else {
      double denom = b2 * r.precision[i] + r.recall[i];
      r.fscore[i] = (1 + b2) * r.precision[i] * r.recall[i] / (denom == 0.0 ? 1.0 : denom);
    }
  }
  if (average == "none") return r;
  std::vector<double> weights(k, 1.0);
  if (average == "weighted") {
    double total = std::accumulate(c.truth.begin(), c.truth.end(), 0.0);
    if (total == 0) {
      double zd = zero_division == 0.0 ? 0.0 : 1.0;
      bool none_predicted = std::accumulate(c.pred.begin(), c.pred.end(), 0.0) == 0;
      return none_predicted ? Prf{{zd}, {zd}, {zd}, {}} : Prf{{0.0}, {zd}, {0.0}, {}};
    }
    weights = c.truth;
  }
  auto avg = [&](const std::vector<double>& v) {
    double s = 0, ws = 0;
    for (size_t i = 0; i < k; ++i) s += v[i] * weights[i], ws += weights[i];
    return ws == 0 ? std::numeric_limits<double>::quiet_NaN() : s / ws;
  };
  return Prf{{avg(r.precision)}, {avg(r.recall)}, {avg(r.fscore)}, {}};
}

}  // namespace prep_detail

namespace {
// The labels precision_recall_fscore_support scores, following scikit-learn's _check_set_wise_labels.
std::vector<int64_t> resolve_labels(const prep_detail::LabelPair& y, const PrfOptions& o,
                                    const std::string& who) {
  const std::string& a = o.average;
  KILN_CHECK(a == "binary" || a == "micro" || a == "macro" || a == "weighted" || a == "none", who,
             ": average must be 'binary', 'micro', 'macro', 'weighted' or 'none', got '", a, "'");
  std::vector<int64_t> present = prep_detail::union_labels(y.t, y.p);
  if (a == "binary") {
    KILN_CHECK(present.size() <= 2, who, ": target is multiclass (", present.size(),
               " labels) but average='binary'; choose average 'micro', 'macro', 'weighted' or 'none'");
    bool has_pos = std::find(present.begin(), present.end(), o.pos_label) != present.end();
    KILN_CHECK(has_pos || present.size() < 2, who, ": pos_label=", o.pos_label,
               " is not a valid label; labels are ", present[0], " and ", present[1]);
    return {o.pos_label};
  }
  return o.labels.empty() ? present : o.labels;
}

Tensor vec(const std::vector<double>& v) { return prep_detail::values_tensor(v); }
}  // namespace

double accuracy_score(const Tensor& y_true, const Tensor& y_pred, bool normalize,
                      const Tensor& sample_weight) {
  auto y = prep_detail::label_pair(y_true, y_pred, "accuracy_score");
  auto w = prep_detail::weights_of(sample_weight, y.t.size(), "accuracy_score");
  double hit = 0, total = 0;
  for (size_t i = 0; i < y.t.size(); ++i) hit += (y.t[i] == y.p[i]) * w[i], total += w[i];
  return normalize ? hit / total : hit;
}

double balanced_accuracy_score(const Tensor& y_true, const Tensor& y_pred, bool adjusted,
                               const Tensor& sample_weight) {
  auto y = prep_detail::label_pair(y_true, y_pred, "balanced_accuracy_score");
  auto w = prep_detail::weights_of(sample_weight, y.t.size(), "balanced_accuracy_score");
  std::vector<int64_t> labels = prep_detail::union_labels(y.t, y.p);
  auto c = prep_detail::label_counts(y, w, labels);
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    if (c.truth[i] > 0) sum += c.tp[i] / c.truth[i], ++n;  // classes only predicted are left out
  double score = sum / n;
  if (adjusted) {
    double chance = 1.0 / n;
    score = (score - chance) / (1 - chance);
  }
  return score;
}

PrfSupport precision_recall_fscore_support(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& o,
                                           double beta) {
  const std::string who = "precision_recall_fscore_support";
  KILN_CHECK(beta >= 0, who, ": beta must be >= 0, got ", beta);
  auto y = prep_detail::label_pair(y_true, y_pred, who);
  auto w = prep_detail::weights_of(o.sample_weight, y.t.size(), who);
  auto labels = resolve_labels(y, o, who);
  auto r = prep_detail::prf(y, w, labels, o.average, beta, o.zero_division);
  if (o.average == "none") {
    Tensor support =
        o.sample_weight.defined()
            ? vec(r.support)
            : prep_detail::labels_tensor(std::vector<int64_t>(r.support.begin(), r.support.end()));
    return {vec(r.precision), vec(r.recall), vec(r.fscore), support};
  }
  return {scalar_tensor(r.precision[0], {.dtype = DType::f64}),
          scalar_tensor(r.recall[0], {.dtype = DType::f64}),
          scalar_tensor(r.fscore[0], {.dtype = DType::f64}), Tensor()};
}

namespace {
prep_detail::Prf averaged(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& o, double beta,
                          const std::string& who) {
  KILN_CHECK(o.average != "none", who,
             ": average='none' gives one value per label; use "
             "precision_recall_fscore_support");
  KILN_CHECK(beta >= 0, who, ": beta must be >= 0, got ", beta);
  auto y = prep_detail::label_pair(y_true, y_pred, who);
  auto w = prep_detail::weights_of(o.sample_weight, y.t.size(), who);
  return prep_detail::prf(y, w, resolve_labels(y, o, who), o.average, beta, o.zero_division);
}
}  // namespace

double precision_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& o) {
  return averaged(y_true, y_pred, o, 1.0, "precision_score").precision[0];
}
double recall_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& o) {
  return averaged(y_true, y_pred, o, 1.0, "recall_score").recall[0];
}
double f1_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& o) {
  return averaged(y_true, y_pred, o, 1.0, "f1_score").fscore[0];
}
double fbeta_score(const Tensor& y_true, const Tensor& y_pred, double beta, const PrfOptions& o) {
  return averaged(y_true, y_pred, o, beta, "fbeta_score").fscore[0];
}

Tensor confusion_matrix(const Tensor& y_true, const Tensor& y_pred, const ConfusionMatrixOptions& o) {
  const std::string who = "confusion_matrix";
  auto y = prep_detail::label_pair(y_true, y_pred, who);
  auto w = prep_detail::weights_of(o.sample_weight, y.t.size(), who);
  KILN_CHECK(o.normalize == "none" || o.normalize == "true" || o.normalize == "pred" || o.normalize == "all",
             who, ": normalize must be 'none', 'true', 'pred' or 'all', got '", o.normalize, "'");
  std::vector<int64_t> labels = o.labels.empty() ? prep_detail::union_labels(y.t, y.p) : o.labels;
  KILN_CHECK(!labels.empty(), who, ": labels is empty");
  if (!o.labels.empty()) {
    bool any = false;
    for (int64_t l : y.t) any = any || prep_detail::label_index(labels, l) >= 0;
    KILN_CHECK(any, who, ": none of the given labels is in y_true");
  }
  const auto k = static_cast<int64_t>(labels.size());
  prep_detail::Matrix cm(k, k);
  for (size_t i = 0; i < y.t.size(); ++i) {
    int64_t a = prep_detail::label_index(labels, y.t[i]), b = prep_detail::label_index(labels, y.p[i]);
    if (a >= 0 && b >= 0) cm.at(a, b) += w[i];
  }
  if (o.normalize == "none" && !o.sample_weight.defined()) {
    std::vector<int64_t> counts(cm.v.begin(), cm.v.end());
    return from_vector(counts, Shape{k, k});
  }
  // 0/0 rows or columns become 0, as scikit-learn's nan_to_num.
  auto safe = [](double a, double b) { return b == 0 ? 0.0 : a / b; };
  double all = std::accumulate(cm.v.begin(), cm.v.end(), 0.0);
  prep_detail::Matrix out = cm;
  for (int64_t r = 0; r < k; ++r)
    for (int64_t c = 0; c < k; ++c) {
      if (o.normalize == "true") {
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += cm.at(r, j);
        out.at(r, c) = safe(cm.at(r, c), s);
      } else if (o.normalize == "pred") {
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += cm.at(j, c);
        out.at(r, c) = safe(cm.at(r, c), s);
      } else if (o.normalize == "all") {
        out.at(r, c) = safe(cm.at(r, c), all);
      }
    }
  return prep_detail::from_matrix(out);
}

double log_loss(const Tensor& y_true, const Tensor& y_prob, const LogLossOptions& o) {
  const std::string who = "log_loss";
  std::vector<int64_t> t = prep_detail::to_labels(y_true, who, "y_true");
  KILN_CHECK(y_prob.defined(), who, ": y_prob is an undefined tensor");
  KILN_CHECK(is_floating(y_prob.dtype()), who, ": y_prob must be floating probabilities, got dtype ",
             y_prob.dtype());
  KILN_CHECK(y_prob.dim() == 1 || y_prob.dim() == 2, who, ": y_prob must be (N) or (N, K), got shape ",
             shape_str(y_prob.shape()));
  const auto n = static_cast<int64_t>(t.size());
  KILN_CHECK(y_prob.size(0) == n, who, ": y_true has ", n, " samples but y_prob has ", y_prob.size(0));
  KILN_CHECK(n > 0, who, ": y_true is empty");
  auto w = prep_detail::weights_of(o.sample_weight, t.size(), who);
  double eps = o.eps >= 0 ? o.eps
                          : (y_prob.dtype() == DType::f32 ? std::numeric_limits<float>::epsilon()
                                                          : std::numeric_limits<double>::epsilon());
  std::vector<int64_t> classes = prep_detail::unique_sorted(o.labels.empty() ? t : o.labels);
  KILN_CHECK(classes.size() >= 2, who,
             o.labels.empty() ? ": y_true contains only one label; pass the labels explicitly through labels"
                              : ": labels needs at least two labels");
  std::vector<double> p = y_prob.to_vector<double>();
  int64_t k = y_prob.dim() == 2 ? y_prob.size(1) : 1;
  validation::check_finite(p.data(), p.size(), k, who, "y_prob");
  for (double& v : p) v = std::clamp(v, eps, 1 - eps);
  if (k == 1) {  // the probability of the second class
    std::vector<double> two;
    for (double v : p) two.push_back(1 - v), two.push_back(v);
    p = std::move(two);
    k = 2;
  }
  KILN_CHECK(static_cast<int64_t>(classes.size()) == k, who, ": y_prob has ", k, " columns but there are ",
             classes.size(), " classes",
             o.labels.empty() ? "; pass the labels explicitly through labels" : "");
  double total = 0, wsum = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = prep_detail::label_index(classes, t[i]);
    KILN_CHECK(c >= 0, who, ": y_true holds the label ", t[i], " which is not in labels");
    double rowsum = 0;
    for (int64_t j = 0; j < k; ++j) rowsum += p[i * k + j];
    total += -std::log(p[i * k + c] / rowsum) * w[i];
    wsum += w[i];
  }
  return o.normalize ? total / wsum : total;
}

}  // namespace kiln::classic
