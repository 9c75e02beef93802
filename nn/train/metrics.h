// kiln/nn/train/metrics.h: metrics that accumulate over an epoch on the model's device, with no host read
// per batch: update() adds the batch into device tensors, compute() reads them once. The values equal the
// classic:: metrics (scikit-learn's definitions) on the same predictions. They are ordinary objects, so a
// hand-written loop drives them as fit does:
//
//   auto acc = train::make_metric("accuracy");
//   for (auto& b : loader) acc->update(model(b.x), b.y);
//   double a = acc->compute();
//
// Conventions: `output` is what the model returns for the batch — class scores (N, K) (logits or
// probabilities; classification metrics use the arg-max, or the ranking for top-k), a binary score (N) or
// (N, 1) (a logit when from_logits, the default, thresholded at 0; else a probability thresholded at 0.5),
// or a regression prediction shaped like the target. `target` holds integer class labels (N) or regression
// targets. Depends on tensor, autograd (ops) and classic (the ranking metrics' final computation).
//
// Distributed training: every metric's accumulators are exposed by states() with how ranks combine them
// (sum, or concatenation along dim 0); a trainer that reduces them across ranks before compute() gets the
// global value (FitOptions::distributed).
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::nn::train {

enum class StateReduction { sum, concat };
struct MetricState {
  Tensor* tensor;  // the accumulator; a reducer may replace it (same dtype, device; concat: any rows)
  StateReduction reduction;
};

class Metric {
 public:
  virtual ~Metric() = default;
  // The logs key ("accuracy", "top_5_accuracy", "f1_macro", ...).
  virtual std::string name() const = 0;
  // Forgets the accumulated batches (the start of an epoch).
  virtual void reset() = 0;
  // Adds one batch; no host read. Throws kiln::Error naming the metric and the shapes for bad input.
  virtual void update(const Tensor& output, const Tensor& target) = 0;
  // The value over every batch since reset() (one host read). NaN when nothing was accumulated.
  virtual double compute() const = 0;
  virtual std::vector<MetricState> states() = 0;
  // A new metric with the same settings and nothing accumulated (fit uses one for training and one for
  // validation).
  virtual std::shared_ptr<Metric> fresh() const = 0;
};
using MetricPtr = std::shared_ptr<Metric>;

// The mean of a per-batch value weighted by batch size (the epoch loss: fit feeds the detached loss).
class Mean : public Metric {
 public:
  explicit Mean(std::string name = "loss") : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void reset() override;
  // value: a 0-d tensor (the batch mean); target: only its batch size is used.
  void update(const Tensor& value, const Tensor& target) override;
  void update(const Tensor& value, int64_t count);
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;

 private:
  std::string name_;
  Tensor sum_, count_;
};

// Fraction of correct predictions: arg-max of (N, K) scores, or the thresholded binary score.
class Accuracy : public Metric {
 public:
  explicit Accuracy(bool from_logits = true) : from_logits_(from_logits) {}
  std::string name() const override { return "accuracy"; }
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;

 private:
  bool from_logits_;
  Tensor correct_, count_;
};

// Fraction of samples whose label is among the k highest scores: a label counts when fewer than k scores
// are strictly higher than its own, so a tie at the k-th score counts in its favour (Keras's rule;
// scikit-learn's top_k_accuracy_score breaks such ties by class index instead, which can differ).
class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(int64_t k = 5);
  std::string name() const override { return "top_" + std::to_string(k_) + "_accuracy"; }
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;

 private:
  int64_t k_;
  Tensor correct_, count_;
};

// Precision, recall and F1 from a confusion matrix accumulated on the device.
// average: "binary" (of pos_label), "macro", "weighted" (by support), "micro".
enum class PrfKind { precision, recall, f1 };
struct PrfMetricOptions {
  std::string average = "macro";
  int64_t pos_label = 1;
  double zero_division = 0.0;
  bool from_logits = true;  // binary (N) / (N, 1) scores only
};
class PrecisionRecallF1 : public Metric {
 public:
  PrecisionRecallF1(PrfKind kind, PrfMetricOptions options = {});
  // "precision" for binary, "precision_macro", "recall_weighted", "f1_micro", ...
  std::string name() const override;
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;
  // The accumulated (K, K) confusion matrix (row = true class), as f64 on the host.
  Tensor confusion_matrix() const;

 private:
  PrfKind kind_;
  PrfMetricOptions o_;
  Tensor cm_;  // f64 (K, K) on the device
};

// ROC-AUC of a binary classifier: scores (N) / (N, 1) (either logits or probabilities: AUC depends only
// on the order), or (N, 2) class scores (column 1, as a softmax probability). The batches' scores and
// labels are kept on the device and ranked once in compute() with classic::roc_auc_score.
class RocAuc : public Metric {
 public:
  std::string name() const override { return "auc"; }
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;

 private:
  Tensor scores_, labels_;
  std::vector<Tensor> pending_scores_, pending_labels_;  // concatenated lazily
  void flush();
};

// Regression metrics over every output column (multi-output values are averaged uniformly, as
// scikit-learn's multioutput="uniform_average").
enum class RegressionKind { mae, mse, r2 };
class RegressionMetric : public Metric {
 public:
  explicit RegressionMetric(RegressionKind kind) : kind_(kind) {}
  std::string name() const override;  // "mae", "mse", "r2"
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  double compute() const override;
  std::vector<MetricState> states() override;
  std::shared_ptr<Metric> fresh() const override;

 private:
  RegressionKind kind_;
  // per output column, f64 on the device: count, sum y, sum y^2, sum |e|, sum e^2
  Tensor count_, sum_y_, sum_y2_, sum_abs_, sum_sq_;
};

// A metric by name: "accuracy" (also "acc"), "top_k_accuracy" (k = 5) or "top_<k>_accuracy",
// "precision" / "recall" / "f1" (binary), with "_macro", "_weighted" or "_micro" for the averaged forms,
// "auc" / "roc_auc", "mae", "mse", "r2". Throws kiln::Error naming the unknown name and the known ones.
MetricPtr make_metric(const std::string& name);
std::vector<std::string> metric_names();

// A metric given by name or as an object (FitOptions::metrics = {"accuracy", my_metric}).
struct MetricSpec {
  MetricSpec(const char* name) : name(name) {}
  MetricSpec(std::string name) : name(std::move(name)) {}
  MetricSpec(MetricPtr metric) : metric(std::move(metric)) {}
  template <class M>
  requires std::derived_from<M, Metric> MetricSpec(std::shared_ptr<M> metric) : metric(std::move(metric)) {}
  std::string name;
  MetricPtr metric;
  // A fresh metric (by name) or the given object.
  MetricPtr resolve() const;
};

}  // namespace kiln::nn::train
