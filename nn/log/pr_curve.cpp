#include "kiln/nn/log/pr_curve.h"

#include <algorithm>
#include <cmath>

#include "kiln/tensor/error.h"

namespace kiln::logs {
namespace {

template <class Real>
std::vector<int64_t> bucket_indices(const std::vector<Real>& p, int num_thresholds) {
  std::vector<int64_t> out(p.size());
  const Real scale = static_cast<Real>(num_thresholds - 1);
  for (size_t i = 0; i < p.size(); ++i) out[i] = static_cast<int64_t>(std::floor(p[i] * scale));
  return out;
}

}  // namespace

std::vector<float> pr_curve_data(const std::string& tag, const Tensor& labels, const Tensor& predictions,
                                 int num_thresholds) {
  const char* where = "SummaryWriter::add_pr_curve";
  KILN_CHECK(labels.defined() && predictions.defined(), where, ": tag '", tag, "': undefined tensor");
  KILN_CHECK(num_thresholds >= 2 && num_thresholds <= 10000, where, ": tag '", tag,
             "': num_thresholds must be in [2, 10000], got ", num_thresholds);
  KILN_CHECK(labels.numel() == predictions.numel() && labels.numel() > 0, where, ": tag '", tag,
             "': labels of shape ", shape_str(labels.shape()), " and predictions of shape ",
             shape_str(predictions.shape()), " must have the same, non-zero number of elements");
  KILN_CHECK(is_floating(predictions.dtype()), where, ": tag '", tag, "': predictions must be floating, got ",
             predictions.dtype());
  std::vector<double> y = labels.to_vector<double>();
  for (double v : y)
    KILN_CHECK(v == 0.0 || v == 1.0, where, ": tag '", tag, "': labels must be 0 or 1, found ", v);
  std::vector<double> p = predictions.to_vector<double>();
  for (double v : p)
    KILN_CHECK(v >= 0.0 && v <= 1.0, where, ": tag '", tag, "': predictions must be in [0, 1], found ", v);

  // float32 predictions are bucketed in float32, as NumPy does for a float32 array.
  std::vector<int64_t> bucket = predictions.dtype() == DType::f64
                                    ? bucket_indices(p, num_thresholds)
                                    : bucket_indices(predictions.to_vector<float>(), num_thresholds);
  const size_t n = static_cast<size_t>(num_thresholds);
  std::vector<double> tp_bucket(n, 0.0), fp_bucket(n, 0.0);
  for (size_t i = 0; i < y.size(); ++i) {
    size_t b = static_cast<size_t>(std::clamp<int64_t>(bucket[i], 0, num_thresholds - 1));
    (y[i] == 1.0 ? tp_bucket : fp_bucket)[b] += 1.0;
  }
  // Cumulative from the top: threshold i counts every prediction in bucket i or above.
  std::vector<double> tp(n), fp(n);
  double tp_sum = 0, fp_sum = 0;
  for (size_t i = n; i-- > 0;) {
    tp_sum += tp_bucket[i];
    fp_sum += fp_bucket[i];
    tp[i] = tp_sum;
    fp[i] = fp_sum;
  }
  constexpr double kMinimumCount = 1e-7;  // keeps precision and recall defined where nothing is predicted
  std::vector<float> out(6 * n);
  for (size_t i = 0; i < n; ++i) {
    double tn = fp[0] - fp[i], fn = tp[0] - tp[i];
    out[0 * n + i] = static_cast<float>(tp[i]);
    out[1 * n + i] = static_cast<float>(fp[i]);
    out[2 * n + i] = static_cast<float>(tn);
    out[3 * n + i] = static_cast<float>(fn);
    out[4 * n + i] = static_cast<float>(tp[i] / std::max(kMinimumCount, tp[i] + fp[i]));
    out[5 * n + i] = static_cast<float>(tp[i] / std::max(kMinimumCount, tp[i] + fn));
  }
  return out;
}

}  // namespace kiln::logs
