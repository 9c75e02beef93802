// Device-side accumulation: every update is a few tensor ops added into accumulators that live on the
// batch's device; compute() reads them once. Classification metrics that scikit-learn defines over label
// lists are computed by classic:: from the accumulated counts, so the two agree exactly.
#include "kiln/nn/train/metrics.h"

#include <cmath>
#include <limits>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/classic/metrics.h"
#include "kiln/nn/train/logs.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor f64_zeros(const Shape& shape, Device device) {
  return zeros(shape, {.dtype = DType::f64, .device = device});
}

void check_batch(const std::string& metric, const Tensor& output, const Tensor& target) {
  KILN_CHECK(output.defined() && target.defined(), metric, ": output and target must be defined");
  KILN_CHECK(output.dim() >= 1 && target.dim() >= 1 && output.size(0) == target.size(0), metric, ": output ",
             shape_str(output.shape()), " and target ", shape_str(target.shape()),
             " must have the same batch size (dim 0)");
}

// Binary scores (N) / (N, 1) rather than class scores (N, K >= 2).
bool is_binary_score(const Tensor& output) {
  return output.dim() == 1 || (output.dim() == 2 && output.size(1) == 1);
}

// Predicted class labels (N) i64: arg-max of class scores, or the thresholded binary score.
Tensor predicted_labels(const std::string& metric, const Tensor& output, bool from_logits) {
  KILN_CHECK(output.dim() <= 2, metric, ": output must be (N) or (N, K) scores, got ",
             shape_str(output.shape()));
  if (is_binary_score(output)) return (output.reshape({-1}) > (from_logits ? 0.0 : 0.5)).to(DType::i64);
  return output.argmax(1);
}

Tensor labels_of(const std::string& metric, const Tensor& target) {
  KILN_CHECK(target.dim() == 1 || (target.dim() == 2 && target.size(1) == 1), metric,
             ": target must be class labels (N), got ", shape_str(target.shape()));
  return target.reshape({-1}).to(DType::i64);
}

// Accumulators of `n` elements, summed in place; the first batch creates them on its device.
void accumulate(Tensor& acc, const Tensor& batch_value) {
  Tensor v = batch_value.to(DType::f64);
  if (!acc.defined()) {
    acc = v.contiguous().clone();
    return;
  }
  acc.add_(v.to(acc.device()));
}

double ratio(const Tensor& num, const Tensor& den) {
  if (!num.defined()) return kNaN;
  double d = den.item<double>();
  return d == 0 ? kNaN : num.item<double>() / d;
}
}  // namespace

// ---------------- Mean ----------------

void Mean::reset() { sum_ = count_ = Tensor(); }
void Mean::update(const Tensor& value, const Tensor& target) {
  KILN_CHECK(target.defined() && target.dim() >= 1, name_, ": target must have a batch dimension");
  update(value, target.size(0));
}
void Mean::update(const Tensor& value, int64_t count) {
  KILN_CHECK(value.defined() && value.numel() == 1, name_, ": expected a scalar value per batch, got ",
             value.defined() ? shape_str(value.shape()) : std::string("an undefined tensor"));
  autograd::NoGradGuard no_grad;
  Tensor v = value.detach().reshape({}).to(DType::f64) * static_cast<double>(count);
  accumulate(sum_, v);
  if (!count_.defined()) count_ = f64_zeros({}, v.device());
  count_.add_(static_cast<double>(count));
}
double Mean::compute() const { return ratio(sum_, count_); }
std::vector<MetricState> Mean::states() {
  return {{&sum_, StateReduction::sum}, {&count_, StateReduction::sum}};
}
std::shared_ptr<Metric> Mean::fresh() const { return std::make_shared<Mean>(name_); }

// ---------------- Accuracy ----------------

void Accuracy::reset() { correct_ = count_ = Tensor(); }
void Accuracy::update(const Tensor& output, const Tensor& target) {
  check_batch("accuracy", output, target);
  autograd::NoGradGuard no_grad;
  Tensor hit = (predicted_labels("accuracy", output, from_logits_) ==
                labels_of("accuracy", target).to(output.device()));
  accumulate(correct_, hit.to(DType::f64).sum());
  if (!count_.defined()) count_ = f64_zeros({}, output.device());
  count_.add_(static_cast<double>(output.size(0)));
}
double Accuracy::compute() const { return ratio(correct_, count_); }
std::vector<MetricState> Accuracy::states() {
  return {{&correct_, StateReduction::sum}, {&count_, StateReduction::sum}};
}
std::shared_ptr<Metric> Accuracy::fresh() const { return std::make_shared<Accuracy>(from_logits_); }

// ---------------- TopKAccuracy ----------------

TopKAccuracy::TopKAccuracy(int64_t k) : k_(k) { KILN_CHECK(k >= 1, "TopKAccuracy: k must be >= 1, got ", k); }
void TopKAccuracy::reset() { correct_ = count_ = Tensor(); }
void TopKAccuracy::update(const Tensor& output, const Tensor& target) {
  const std::string me = name();
  check_batch(me, output, target);
  KILN_CHECK(output.dim() == 2 && output.size(1) >= 2, me, ": output must be class scores (N, K), got ",
             shape_str(output.shape()));
  autograd::NoGradGuard no_grad;
  Tensor y = labels_of(me, target).to(output.device());
  // The label is in the top k when fewer than k classes score strictly higher.
  Tensor own = gather(output, 1, y.unsqueeze(1));
  Tensor higher = (output > own).to(DType::i64).sum({1});
  accumulate(correct_, (higher < static_cast<double>(k_)).to(DType::f64).sum());
  if (!count_.defined()) count_ = f64_zeros({}, output.device());
  count_.add_(static_cast<double>(output.size(0)));
}
double TopKAccuracy::compute() const { return ratio(correct_, count_); }
std::vector<MetricState> TopKAccuracy::states() {
  return {{&correct_, StateReduction::sum}, {&count_, StateReduction::sum}};
}
std::shared_ptr<Metric> TopKAccuracy::fresh() const { return std::make_shared<TopKAccuracy>(k_); }

// ---------------- precision / recall / F1 ----------------

PrecisionRecallF1::PrecisionRecallF1(PrfKind kind, PrfMetricOptions options)
    : kind_(kind), o_(std::move(options)) {
  const auto& a = o_.average;
  KILN_CHECK(a == "binary" || a == "macro" || a == "weighted" || a == "micro", name(),
             ": average must be binary, macro, weighted or micro, got '", a, "'");
}
std::string PrecisionRecallF1::name() const {
  std::string base = kind_ == PrfKind::precision ? "precision" : kind_ == PrfKind::recall ? "recall" : "f1";
  return o_.average == "binary" ? base : base + "_" + o_.average;
}
void PrecisionRecallF1::reset() { cm_ = Tensor(); }
void PrecisionRecallF1::update(const Tensor& output, const Tensor& target) {
  const std::string me = name();
  check_batch(me, output, target);
  autograd::NoGradGuard no_grad;
  const int64_t k = is_binary_score(output) ? 2 : output.size(1);
  Tensor pred = predicted_labels(me, output, o_.from_logits);
  Tensor y = labels_of(me, target).to(output.device());
  // Labels outside [0, K) cannot be counted into the (K, K) matrix; refusing them beats silently dropping.
  Tensor bad = logical_or(y < 0.0, y >= static_cast<double>(k)).to(DType::i64).sum();
  KILN_CHECK(bad.item<int64_t>() == 0, me, ": target labels must lie in [0, ", k, ") for output ",
             shape_str(output.shape()));
  Tensor flat = y * k + pred;
  Tensor counts = scatter_add(f64_zeros({k * k}, output.device()), 0, flat,
                              ones({flat.size(0)}, {.dtype = DType::f64, .device = output.device()}));
  if (cm_.defined() && cm_.size(0) != k * k) {
    KILN_CHECK(false, me, ": the number of classes changed from ",
               static_cast<int64_t>(std::sqrt(cm_.size(0))), " to ", k, " within an epoch");
  }
  accumulate(cm_, counts);
}
Tensor PrecisionRecallF1::confusion_matrix() const {
  if (!cm_.defined()) return Tensor();
  const int64_t k = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cm_.size(0)))));
  return cm_.to(Device::cpu()).reshape({k, k});
}
double PrecisionRecallF1::compute() const {
  Tensor cm = confusion_matrix();
  if (!cm.defined()) return kNaN;
  // The matrix as the label lists it summarizes (order does not matter to these metrics).
  const int64_t k = cm.size(0);
  std::vector<double> counts = cm.to_vector<double>();
  std::vector<int64_t> y_true, y_pred;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t c = 0; c < static_cast<int64_t>(counts[i * k + j]); ++c)
        y_true.push_back(i), y_pred.push_back(j);
  if (y_true.empty()) return kNaN;
  Tensor t = from_vector(y_true), p = from_vector(y_pred);
  classic::PrfOptions po{.average = o_.average, .pos_label = o_.pos_label, .zero_division = o_.zero_division};
  switch (kind_) {
    case PrfKind::precision:
      return classic::precision_score(t, p, po);
    case PrfKind::recall:
      return classic::recall_score(t, p, po);
    case PrfKind::f1:
      return classic::f1_score(t, p, po);
  }
  return kNaN;
}
std::vector<MetricState> PrecisionRecallF1::states() { return {{&cm_, StateReduction::sum}}; }
std::shared_ptr<Metric> PrecisionRecallF1::fresh() const {
  return std::make_shared<PrecisionRecallF1>(kind_, o_);
}

// ---------------- ROC-AUC ----------------

void RocAuc::reset() {
  scores_ = labels_ = Tensor();
  pending_scores_.clear(), pending_labels_.clear();
}
void RocAuc::update(const Tensor& output, const Tensor& target) {
  check_batch("auc", output, target);
  KILN_CHECK(is_binary_score(output) || (output.dim() == 2 && output.size(1) == 2),
             "auc: binary ROC-AUC needs scores (N), (N, 1) or (N, 2), got ", shape_str(output.shape()));
  autograd::NoGradGuard no_grad;
  Tensor s = is_binary_score(output) ? output.reshape({-1}) : softmax(output, 1).select(1, 1);
  pending_scores_.push_back(s.detach().to(DType::f64));
  pending_labels_.push_back(labels_of("auc", target).to(output.device()));
}
void RocAuc::flush() {
  if (pending_scores_.empty()) return;
  if (scores_.defined())
    pending_scores_.insert(pending_scores_.begin(), scores_),
        pending_labels_.insert(pending_labels_.begin(), labels_);
  scores_ = cat(pending_scores_, 0);
  labels_ = cat(pending_labels_, 0);
  pending_scores_.clear(), pending_labels_.clear();
}
double RocAuc::compute() const {
  const_cast<RocAuc*>(this)->flush();
  if (!scores_.defined()) return kNaN;
  return classic::roc_auc_score(labels_.to(Device::cpu()), scores_.to(Device::cpu()));
}
std::vector<MetricState> RocAuc::states() {
  flush();
  return {{&scores_, StateReduction::concat}, {&labels_, StateReduction::concat}};
}
std::shared_ptr<Metric> RocAuc::fresh() const { return std::make_shared<RocAuc>(); }

// ---------------- regression ----------------

std::string RegressionMetric::name() const {
  return kind_ == RegressionKind::mae ? "mae" : kind_ == RegressionKind::mse ? "mse" : "r2";
}
void RegressionMetric::reset() { count_ = sum_y_ = sum_y2_ = sum_abs_ = sum_sq_ = Tensor(); }
void RegressionMetric::update(const Tensor& output, const Tensor& target) {
  const std::string me = name();
  check_batch(me, output, target);
  autograd::NoGradGuard no_grad;
  Tensor y = target.to(output.device()).to(DType::f64), p = output.detach().to(DType::f64);
  // (N) and (N, 1) are the same single output, as scikit-learn treats them.
  if (y.dim() == 1) y = y.unsqueeze(1);
  if (p.dim() == 1) p = p.unsqueeze(1);
  KILN_CHECK(y.dim() == 2 && p.dim() == 2 && y.size(1) == p.size(1), me, ": output ",
             shape_str(output.shape()), " and target ", shape_str(target.shape()),
             " must have the same shape");
  Tensor e = p - y;
  accumulate(count_,
             full({y.size(1)}, static_cast<double>(y.size(0)), {.dtype = DType::f64, .device = y.device()}));
  accumulate(sum_y_, y.sum({0}));
  accumulate(sum_y2_, (y * y).sum({0}));
  accumulate(sum_abs_, e.abs().sum({0}));
  accumulate(sum_sq_, (e * e).sum({0}));
}
double RegressionMetric::compute() const {
  if (!count_.defined()) return kNaN;
  auto n = count_.to_vector<double>(), sy = sum_y_.to_vector<double>(), sy2 = sum_y2_.to_vector<double>(),
       sa = sum_abs_.to_vector<double>(), ss = sum_sq_.to_vector<double>();
  double total = 0;
  for (size_t j = 0; j < n.size(); ++j) {
    if (kind_ == RegressionKind::mae) {
      total += sa[j] / n[j];
    } else if (kind_ == RegressionKind::mse) {
      total += ss[j] / n[j];
    } else {
      double tot = sy2[j] - sy[j] * sy[j] / n[j];
      // A constant target: 1 for a perfect fit, else 0 (scikit-learn's force_finite).
      if (tot <= 1e-12 * std::max(1.0, sy2[j]))
        total += ss[j] == 0 ? 1.0 : 0.0;
      else
        total += 1.0 - ss[j] / tot;
    }
  }
  return total / static_cast<double>(n.size());
}
std::vector<MetricState> RegressionMetric::states() {
  return {{&count_, StateReduction::sum},
          {&sum_y_, StateReduction::sum},
          {&sum_y2_, StateReduction::sum},
          {&sum_abs_, StateReduction::sum},
          {&sum_sq_, StateReduction::sum}};
}
std::shared_ptr<Metric> RegressionMetric::fresh() const { return std::make_shared<RegressionMetric>(kind_); }

// ---------------- by name ----------------

std::vector<std::string> metric_names() {
  return {"accuracy",
          "top_k_accuracy",
          "top_<k>_accuracy",
          "precision",
          "precision_macro",
          "precision_weighted",
          "precision_micro",
          "recall",
          "recall_macro",
          "recall_weighted",
          "recall_micro",
          "f1",
          "f1_macro",
          "f1_weighted",
          "f1_micro",
          "auc",
          "mae",
          "mse",
          "r2"};
}

MetricPtr make_metric(const std::string& name) {
  if (name == "accuracy" || name == "acc") return std::make_shared<Accuracy>();
  if (name == "top_k_accuracy") return std::make_shared<TopKAccuracy>(5);
  if (name.rfind("top_", 0) == 0 && name.size() > 13 && name.substr(name.size() - 9) == "_accuracy") {
    std::string k = name.substr(4, name.size() - 13);
    bool digits = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos && k.size() < 9;
    KILN_CHECK(digits && std::stoll(k) >= 1, "metric '", name, "': k must be a positive integer");
    return std::make_shared<TopKAccuracy>(std::stoll(k));
  }
  for (auto [base, kind] : {std::pair{"precision", PrfKind::precision}, std::pair{"recall", PrfKind::recall},
                            std::pair{"f1", PrfKind::f1}}) {
    std::string b = base;
    if (name == b) return std::make_shared<PrecisionRecallF1>(kind, PrfMetricOptions{.average = "binary"});
    for (const char* avg : {"macro", "weighted", "micro"})
      if (name == b + "_" + avg)
        return std::make_shared<PrecisionRecallF1>(kind, PrfMetricOptions{.average = avg});
  }
  if (name == "auc" || name == "roc_auc") return std::make_shared<RocAuc>();
  if (name == "mae" || name == "mean_absolute_error")
    return std::make_shared<RegressionMetric>(RegressionKind::mae);
  if (name == "mse" || name == "mean_squared_error")
    return std::make_shared<RegressionMetric>(RegressionKind::mse);
  if (name == "r2" || name == "r2_score") return std::make_shared<RegressionMetric>(RegressionKind::r2);
  KILN_CHECK(false, "unknown metric '", name, "'; known: ", join_keys(metric_names()));
  return nullptr;
}

MetricPtr MetricSpec::resolve() const {
  if (metric) return metric->fresh();
  return make_metric(name);
}

}  // namespace kiln::nn::train
