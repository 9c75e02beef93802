// Ranking metrics (see metrics.h): roc_curve, precision_recall_curve, average_precision_score, auc,
// roc_auc_score (binary and one-vs-rest). The curves follow scikit-learn 1.2's _binary_clf_curve: scores
// sorted in decreasing order (stable), one point per distinct score, so tied scores move together.
// Depends on metrics_common.h.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/classic/metrics.h"
#include "kiln/classic/metrics_common.h"

namespace kiln::classic {

namespace {

// Cumulative false/true positives at each distinct score, from the highest score down.
struct ClfCurve {
  std::vector<double> fps, tps, thresholds;
};

ClfCurve binary_clf_curve(const std::vector<int64_t>& t, const std::vector<double>& s,
                          const std::vector<double>& w, int64_t pos_label, const std::string& who) {
  // Zero-weight samples do not move the curve (scikit-learn drops them first).
  std::vector<size_t> order;
  for (size_t i = 0; i < t.size(); ++i)
    if (w[i] != 0) order.push_back(i);
  KILN_CHECK(!order.empty(), who, ": every sample_weight is zero");
  // numpy's argsort(kind="mergesort")[::-1]: ascending stable, then reversed.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  std::reverse(order.begin(), order.end());
  ClfCurve c;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    size_t k = order[i];
    (t[k] == pos_label ? tp : fp) += w[k];
    if (i + 1 == order.size() || s[order[i + 1]] != s[k]) {
      c.fps.push_back(fp);
      c.tps.push_back(tp);
      c.thresholds.push_back(s[k]);
    }
  }
  return c;
}

struct BinaryInput {
  std::vector<int64_t> t;
  std::vector<double> s, w;
  int64_t pos_label = 1;
};

BinaryInput binary_input(const Tensor& y_true, const Tensor& y_score, const CurveOptions& o,
                         const std::string& who) {
  BinaryInput in;
  in.t = prep_detail::to_labels(y_true, who, "y_true");
  KILN_CHECK(y_score.defined() && y_score.dim() == 1, who, ": y_score must be 1-D (N) scores, got ",
             y_score.defined() ? shape_str(y_score.shape()) : std::string("an undefined tensor"),
             "; for class probabilities pass the positive class's column");
  in.s = y_score.to_vector<double>();
  KILN_CHECK(in.t.size() == in.s.size(), who, ": y_true has ", in.t.size(), " samples but y_score has ",
             in.s.size());
  KILN_CHECK(!in.t.empty(), who, ": y_true is empty");
  for (double v : in.s) KILN_CHECK(std::isfinite(v), who, ": y_score holds a non-finite value (", v, ")");
  in.w = prep_detail::weights_of(o.sample_weight, in.t.size(), who);
  std::vector<int64_t> classes = prep_detail::unique_sorted(in.t);
  KILN_CHECK(classes.size() <= 2, who, ": y_true has ", classes.size(), " classes; this curve is binary");
  if (o.pos_label) {
    in.pos_label = *o.pos_label;
  } else {
    bool ok = true;
    for (int64_t c : classes) ok = ok && (c == 0 || c == 1 || c == -1);
    ok = ok && !(std::find(classes.begin(), classes.end(), 0) != classes.end() &&
                 std::find(classes.begin(), classes.end(), -1) != classes.end());
    KILN_CHECK(ok, who, ": y_true labels are not {0, 1} or {-1, 1}; set pos_label explicitly");
    in.pos_label = 1;
  }
  return in;
}

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
  return area;
}

Tensor vec(const std::vector<double>& v) { return prep_detail::values_tensor(v); }

// fpr/tpr vectors of roc_curve (without the tensors).
struct Roc {
  std::vector<double> fpr, tpr, thr;
};

Roc roc_points(const BinaryInput& in, bool drop_intermediate, const std::string& who) {
  ClfCurve c = binary_clf_curve(in.t, in.s, in.w, in.pos_label, who);
  if (drop_intermediate && c.fps.size() > 2) {
    ClfCurve kept;
    for (size_t i = 0; i < c.fps.size(); ++i) {
      bool corner = i == 0 || i + 1 == c.fps.size() ||
                    (c.fps[i + 1] - c.fps[i]) - (c.fps[i] - c.fps[i - 1]) != 0 ||
                    (c.tps[i + 1] - c.tps[i]) - (c.tps[i] - c.tps[i - 1]) != 0;
      if (corner) {
        kept.fps.push_back(c.fps[i]);
        kept.tps.push_back(c.tps[i]);
        kept.thresholds.push_back(c.thresholds[i]);
      }
    }
    c = std::move(kept);
  }
  Roc r;
  double fmax = c.fps.back(), tmax = c.tps.back();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.fpr.push_back(fmax > 0 ? 0.0 : nan);
  r.tpr.push_back(tmax > 0 ? 0.0 : nan);
  r.thr.push_back(c.thresholds[0] + 1);  // scikit-learn 1.2; later versions use +inf
  for (size_t i = 0; i < c.fps.size(); ++i) {
    r.fpr.push_back(fmax > 0 ? c.fps[i] / fmax : nan);
    r.tpr.push_back(tmax > 0 ? c.tps[i] / tmax : nan);
    r.thr.push_back(c.thresholds[i]);
  }
  return r;
}

double binary_auc(const BinaryInput& in, const std::string& who) {
  bool has_pos = false, has_neg = false;
  for (size_t i = 0; i < in.t.size(); ++i) (in.t[i] == in.pos_label ? has_pos : has_neg) = true;
  KILN_CHECK(has_pos && has_neg, who, ": only one class present in y_true; ROC AUC is not defined then");
  Roc r = roc_points(in, true, who);
  return trapezoid(r.fpr, r.tpr);
}

}  // namespace

RocCurve roc_curve(const Tensor& y_true, const Tensor& y_score, const CurveOptions& o) {
  const std::string who = "roc_curve";
  Roc r = roc_points(binary_input(y_true, y_score, o, who), o.drop_intermediate, who);
  return {vec(r.fpr), vec(r.tpr), vec(r.thr)};
}

PrecisionRecallCurve precision_recall_curve(const Tensor& y_true, const Tensor& y_score,
                                            const CurveOptions& o) {
  const std::string who = "precision_recall_curve";
  BinaryInput in = binary_input(y_true, y_score, o, who);
  ClfCurve c = binary_clf_curve(in.t, in.s, in.w, in.pos_label, who);
  const size_t n = c.tps.size();
  std::vector<double> precision, recall, thresholds;
  for (size_t j = n; j-- > 0;) {  // reversed, so that recall decreases
    double ps = c.tps[j] + c.fps[j];
    precision.push_back(ps != 0 ? c.tps[j] / ps : 0.0);
    recall.push_back(c.tps.back() == 0 ? 1.0 : c.tps[j] / c.tps.back());
    thresholds.push_back(c.thresholds[j]);
  }
  precision.push_back(1.0);
  recall.push_back(0.0);
  return {vec(precision), vec(recall), vec(thresholds)};
}

double average_precision_score(const Tensor& y_true, const Tensor& y_score, const CurveOptions& o) {
  PrecisionRecallCurve c = precision_recall_curve(y_true, y_score, o);
  std::vector<double> p = c.precision.to_vector<double>(), r = c.recall.to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i + 1 < r.size(); ++i) sum += (r[i + 1] - r[i]) * p[i];
  return -sum;
}

double auc(const Tensor& x, const Tensor& y) {
  // roc_curve's rates are NaN when y_true holds one class; name that cause rather than a generic NaN.
  for (const Tensor* t : {&x, &y})
    if (t->defined() && t->dim() == 1 && is_floating(t->dtype()) && t->device().is_cpu())
      for (double v : t->to_vector<double>())
        KILN_CHECK(!std::isnan(v), "auc: ", t == &x ? "x" : "y",
                   " holds NaN; roc_curve gives NaN rates when y_true holds only one class, and the ROC AUC "
                   "is undefined then");
  std::vector<double> xs = prep_detail::to_values(x, "auc", "x"), ys = prep_detail::to_values(y, "auc", "y");
  KILN_CHECK(xs.size() == ys.size(), "auc: x has ", xs.size(), " points but y has ", ys.size());
  KILN_CHECK(xs.size() >= 2, "auc: at least 2 points are needed, got ", xs.size());
  bool inc = true, dec = true;
  for (size_t i = 1; i < xs.size(); ++i) inc = inc && xs[i] >= xs[i - 1], dec = dec && xs[i] <= xs[i - 1];
  KILN_CHECK(inc || dec, "auc: x is neither increasing nor decreasing");
  double a = trapezoid(xs, ys);
  return dec && !inc ? -a : a;
}

double roc_auc_score(const Tensor& y_true, const Tensor& y_score, const RocAucOptions& o) {
  const std::string who = "roc_auc_score";
  KILN_CHECK(y_score.defined(), who, ": y_score is an undefined tensor");
  std::vector<int64_t> t = prep_detail::to_labels(y_true, who, "y_true");
  if (y_score.dim() == 1) {
    std::vector<int64_t> classes = prep_detail::unique_sorted(t);
    KILN_CHECK(classes.size() <= 2, who, ": y_true has ", classes.size(),
               " classes but y_score is 1-D; pass (N, K) probabilities with multi_class='ovr'");
    // As in scikit-learn: with one class there are no false (or no true) positives to rank against.
    KILN_CHECK(
        classes.size() == 2, who, ": only one class present in y_true (",
        classes.empty() ? std::string("y_true is empty") : "every label is " + std::to_string(classes[0]),
        "); ROC AUC is not defined then: score on data holding both classes");
    CurveOptions co{.pos_label = classes.back(), .drop_intermediate = true, .sample_weight = o.sample_weight};
    return binary_auc(binary_input(y_true, y_score, co, who), who);
  }
  KILN_CHECK(y_score.dim() == 2, who, ": y_score must be (N) or (N, K), got shape ",
             shape_str(y_score.shape()));
  KILN_CHECK(o.multi_class == "ovr", who,
             ": y_score is (N, K) multiclass; set multi_class='ovr' (multi_class='", o.multi_class,
             "' is not supported)");
  KILN_CHECK(o.average == "macro" || o.average == "weighted", who,
             ": average must be 'macro' or 'weighted', got '", o.average, "'");
  const int64_t n = y_score.size(0), k = y_score.size(1);
  KILN_CHECK(n == static_cast<int64_t>(t.size()), who, ": y_true has ", t.size(), " samples but y_score has ",
             n);
  std::vector<double> s = y_score.to_vector<double>();
  validation::check_finite(s.data(), s.size(), k, who, "y_score");
  for (int64_t i = 0; i < n; ++i) {
    double rs = 0;
    for (int64_t j = 0; j < k; ++j) rs += s[i * k + j];
    KILN_CHECK(std::abs(rs - 1.0) <= 1e-8 + 1e-5, who,
               ": y_score rows must be probabilities summing to 1 for "
               "multi_class='ovr'; row ",
               i, " sums to ", rs);
  }
  std::vector<int64_t> classes = prep_detail::unique_sorted(o.labels.empty() ? t : o.labels);
  KILN_CHECK(static_cast<int64_t>(classes.size()) == k, who, ": y_score has ", k, " columns but there are ",
             classes.size(), " classes", o.labels.empty() ? " in y_true; pass labels" : " in labels");
  auto w = prep_detail::weights_of(o.sample_weight, t.size(), who);
  double total = 0, wsum = 0;
  for (int64_t j = 0; j < k; ++j) {
    BinaryInput in;
    in.w = w;
    in.pos_label = 1;
    double prevalence = 0;
    for (int64_t i = 0; i < n; ++i) {
      bool pos = t[i] == classes[j];
      in.t.push_back(pos ? 1 : 0);
      in.s.push_back(s[i * k + j]);
      prevalence += pos * w[i];
    }
    double weight = o.average == "weighted" ? prevalence : 1.0;
    total += weight * binary_auc(in, who);
    wsum += weight;
  }
  return total / wsum;
}

}  // namespace kiln::classic
