// kiln/classic/metrics.h: classification, ranking and regression metrics with scikit-learn 1.2's
// definitions and edge cases (zero_division, absent classes, tied scores, drop_intermediate, log_loss
// clipping). Depends on tensor/ only.
//
// Types: class labels are 1-D integer tensors (N), i64 preferred; scores and probabilities are floating,
// (N) for a binary score, (N, K) for class probabilities with columns in sorted label order; regression
// targets are floating (N) or (N, M) outputs (averaged uniformly over M). sample_weight, when defined, is
// (N) floating. Every function checks lengths and types and throws kiln::Error naming itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::classic {

// ---------------- classification ----------------

double accuracy_score(const Tensor& y_true, const Tensor& y_pred, bool normalize = true,
                      const Tensor& sample_weight = {});
// Mean recall over the classes present in y_true; adjusted rescales so that chance is 0.
double balanced_accuracy_score(const Tensor& y_true, const Tensor& y_pred, bool adjusted = false,
                               const Tensor& sample_weight = {});

struct PrfOptions {
  // "binary" (scores of pos_label only; y must have at most two labels), "micro", "macro", "weighted",
  // or "none" (one value per label).
  std::string average = "binary";
  int64_t pos_label = 1;
  std::vector<int64_t> labels = {};  // labels to score; empty: the sorted union of y_true and y_pred
  // Value of a 0/0 precision or recall (scikit-learn's zero_division; its default "warn" acts as 0).
  double zero_division = 0.0;
  Tensor sample_weight = {};
};

// Precision, recall, F-beta and support. With average "none" each tensor is (K) f64 (support i64) in
// label order; otherwise precision/recall/fscore are 0-d f64 and support is undefined.
struct PrfSupport {
  Tensor precision, recall, fscore, support;
};
PrfSupport precision_recall_fscore_support(const Tensor& y_true, const Tensor& y_pred,
                                           const PrfOptions& options = {}, double beta = 1.0);
// The averaged scores; average "none" is refused here (use precision_recall_fscore_support).
double precision_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& options = {});
double recall_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& options = {});
double f1_score(const Tensor& y_true, const Tensor& y_pred, const PrfOptions& options = {});
double fbeta_score(const Tensor& y_true, const Tensor& y_pred, double beta, const PrfOptions& options = {});

struct ConfusionMatrixOptions {
  std::vector<int64_t> labels = {};  // rows/columns in this order; empty: sorted union of y_true and y_pred
  std::string normalize = "none";    // "none", "true" (rows sum to 1), "pred" (columns), "all"
  Tensor sample_weight = {};
};
// (K, K), row = true label, column = predicted: i64 counts, or f64 when normalized or weighted.
Tensor confusion_matrix(const Tensor& y_true, const Tensor& y_pred,
                        const ConfusionMatrixOptions& options = {});

struct ReportOptions {
  std::vector<int64_t> labels = {};            // empty: sorted union of y_true and y_pred
  std::vector<std::string> target_names = {};  // display names, one per label
  int digits = 2;
  double zero_division = 0.0;
  Tensor sample_weight = {};
};
struct ReportRow {
  std::string name;  // a target name, or "micro avg" / "macro avg" / "weighted avg"
  double precision = 0, recall = 0, f1_score = 0;
  double support = 0;  // a count (a weight sum when sample_weight is given)
};
// classification_report's structured form (scikit-learn's output_dict=True).
struct ClassificationReport {
  std::vector<ReportRow> classes = {};
  // Set when the labels are the ones present (scikit-learn prints "accuracy" then, not "micro avg").
  std::optional<double> accuracy;
  std::vector<ReportRow> averages = {};  // ["micro avg" unless accuracy,] "macro avg", "weighted avg"
  double total_support = 0;
  bool weighted = false;  // supports are weight sums (printed as floats, as scikit-learn)
  // The text table, laid out exactly as scikit-learn's classification_report.
  std::string str(int digits = 2) const;
};
ClassificationReport classification_report_dict(const Tensor& y_true, const Tensor& y_pred,
                                                const ReportOptions& options = {});
std::string classification_report(const Tensor& y_true, const Tensor& y_pred,
                                  const ReportOptions& options = {});

struct LogLossOptions {
  // Probabilities are clipped to [eps, 1 - eps]; a negative value means "auto": the machine epsilon of
  // y_prob's dtype (f32 or f64), as scikit-learn 1.2.
  double eps = -1.0;
  bool normalize = true;             // mean (true) or sum (false) of the per-sample losses
  std::vector<int64_t> labels = {};  // the classes of y_prob's columns; empty: sorted labels of y_true
  Tensor sample_weight = {};
};
// y_prob: (N, K), or (N) / (N, 1) as the probability of the larger of two classes. Rows are renormalized.
double log_loss(const Tensor& y_true, const Tensor& y_prob, const LogLossOptions& options = {});

// ---------------- ranking ----------------

struct CurveOptions {
  // The positive class; unset: 1, which needs y_true's labels within {0, 1} or {-1, 1}.
  std::optional<int64_t> pos_label = {};
  bool drop_intermediate = true;  // roc_curve only: drop points off the convex corners, as scikit-learn
  Tensor sample_weight = {};
};
// fpr, tpr, thresholds: (P) f64 each; thresholds decreasing, the first is the largest score + 1.
struct RocCurve {
  Tensor fpr, tpr, thresholds;
};
RocCurve roc_curve(const Tensor& y_true, const Tensor& y_score, const CurveOptions& options = {});
// precision, recall: (P + 1) f64 ending in (1, 0); thresholds: (P) increasing distinct scores.
struct PrecisionRecallCurve {
  Tensor precision, recall, thresholds;
};
PrecisionRecallCurve precision_recall_curve(const Tensor& y_true, const Tensor& y_score,
                                            const CurveOptions& options = {});
double average_precision_score(const Tensor& y_true, const Tensor& y_score, const CurveOptions& options = {});
// Area under a curve by the trapezoidal rule; x must be monotonic.
double auc(const Tensor& x, const Tensor& y);

struct RocAucOptions {
  std::string average = "macro";      // multiclass: "macro" or "weighted" (by class prevalence)
  std::string multi_class = "raise";  // "raise" or "ovr" (one-vs-rest); needed for (N, K) scores
  std::vector<int64_t> labels = {};   // multiclass: the classes of the columns; empty: sorted y_true labels
  Tensor sample_weight = {};
};
// Binary: y_score (N) scores of the larger label. Multiclass: y_score (N, K) probabilities summing to 1.
double roc_auc_score(const Tensor& y_true, const Tensor& y_score, const RocAucOptions& options = {});

// ---------------- regression ----------------
// y_true, y_pred: (N) or (N, M) numeric, same shape; multi-output scores are averaged uniformly.

double mean_squared_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = {},
                          bool squared = true);
double root_mean_squared_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = {});
double mean_absolute_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = {});
// A constant y_true gives 1 for a perfect prediction and 0 otherwise (scikit-learn's force_finite).
double r2_score(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = {});
double explained_variance_score(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = {});

}  // namespace kiln::classic
