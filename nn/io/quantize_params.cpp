// nn/io/quantize_params.cpp: calibration and the int8 parameter choices of quantize_params.h.
#include "kiln/nn/io/quantize_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export_eval.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {

std::vector<Range> calibrate(const Graph& g, const Tensor& data, Calibration method, double percentile,
                             int64_t batch) {
  KILN_CHECK(data.defined() && data.dim() >= 1 && data.size(0) > 0,
             "export: int8 quantization needs calibration_data (N, ...) with N > 0");
  KILN_CHECK(data.dtype() == DType::f32, "export: calibration_data must be float32, got ", data.dtype());
  const Shape& in = g.values[g.input].shape;
  KILN_CHECK(data.dim() == static_cast<int64_t>(in.size()) &&
                 std::equal(in.begin() + 1, in.end(), data.shape().begin() + 1),
             "export: calibration_data ", shape_str(data.shape()), " does not match the example input ",
             shape_str(in), " (beyond the batch)");
  KILN_CHECK(percentile > 50.0 && percentile <= 100.0, "export: percentile must lie in (50, 100], got ",
             percentile);
  KILN_CHECK(batch > 0, "export: calibration_batch must be positive, got ", batch);
  std::vector<Range> ranges(g.values.size());
  std::vector<double> lo_sum(g.values.size(), 0.0), hi_sum(g.values.size(), 0.0);
  int64_t batches = 0;
  for (int64_t start = 0; start < data.size(0); start += batch, ++batches) {
    const int64_t n = std::min(batch, data.size(0) - start);
    std::vector<Tensor> values;
    evaluate(g, narrow(data, 0, start, n).contiguous(), &values);
    for (size_t v = 0; v < values.size(); ++v) {
      if (!values[v].defined() || g.values[v].constant.defined()) continue;
      std::vector<float> x = values[v].contiguous().to_vector<float>();
      if (x.empty()) continue;
      double lo, hi;
      if (method == Calibration::minmax) {
        auto [mn, mx] = std::minmax_element(x.begin(), x.end());
        lo = *mn, hi = *mx;
      } else {
        const double q = percentile / 100.0;
        const size_t k_hi = std::min(x.size() - 1, static_cast<size_t>(std::floor(q * (x.size() - 1))));
        const size_t k_lo = x.size() - 1 - k_hi;
        std::nth_element(x.begin(), x.begin() + k_hi, x.end());
        hi = x[k_hi];
        std::nth_element(x.begin(), x.begin() + k_lo, x.end());
        lo = x[k_lo];
      }
      KILN_CHECK(std::isfinite(lo) && std::isfinite(hi), "export: calibration: value ", v, " ",
                 shape_str(g.values[v].shape), " holds inf or NaN for calibration batch ", batches,
                 "; int8 ranges need finite activations");
      Range& r = ranges[v];
      if (method == Calibration::minmax) {
        r.lo = r.seen ? std::min(r.lo, lo) : lo;
        r.hi = r.seen ? std::max(r.hi, hi) : hi;
      } else {
        lo_sum[v] += lo, hi_sum[v] += hi;
      }
      r.seen = true;
    }
  }
  if (method == Calibration::percentile)
    for (size_t v = 0; v < ranges.size(); ++v)
      if (ranges[v].seen) ranges[v].lo = lo_sum[v] / batches, ranges[v].hi = hi_sum[v] / batches;
  return ranges;
}

QuantParams activation_params(Range r) {
  double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  if (hi - lo < 1e-8) hi = lo + 1e-8;  // a constant-zero value: any scale is exact
  const double scale = (hi - lo) / 255.0;
  const double zp = std::round(-128.0 - lo / scale);
  return {{static_cast<float>(scale)}, {static_cast<int64_t>(std::clamp(zp, -128.0, 127.0))}, 0};
}

std::vector<int8_t> quantize_symmetric(const Tensor& w, int axis, bool per_channel, QuantParams& params) {
  std::vector<float> x = w.contiguous().to_vector<float>();
  const int64_t channels = per_channel ? w.size(axis) : 1;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < w.dim(); ++d) inner *= w.size(d);
  if (!per_channel) inner = static_cast<int64_t>(x.size());
  auto channel_of = [&](size_t i) { return per_channel ? (static_cast<int64_t>(i) / inner) % channels : 0; };
  std::vector<float> amax(channels, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) amax[channel_of(i)] = std::max(amax[channel_of(i)], std::fabs(x[i]));
  params.scale.assign(channels, 1.0f);
  params.zero_point.assign(channels, 0);
  params.axis = per_channel ? axis : 0;
  for (int64_t c = 0; c < channels; ++c)
    if (amax[c] > 0) params.scale[c] = amax[c] / 127.0f;
  std::vector<int8_t> q(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = std::round(x[i] / params.scale[channel_of(i)]);
    q[i] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
  return q;
}

std::vector<int8_t> quantize_with(const Tensor& t, const QuantParams& params) {
  std::vector<float> x = t.contiguous().to_vector<float>();
  std::vector<int8_t> q(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = std::round(x[i] / params.scale[0]) + static_cast<double>(params.zero_point[0]);
    q[i] = static_cast<int8_t>(std::clamp(v, -128.0, 127.0));
  }
  return q;
}

std::vector<int32_t> quantize_bias(const Tensor& b, float input_scale, const std::vector<float>& weight_scale,
                                   QuantParams& params) {
  std::vector<float> x = b.contiguous().to_vector<float>();
  params.scale.resize(x.size());
  params.zero_point.assign(x.size(), 0);
  params.axis = 0;
  std::vector<int32_t> q(x.size());
  for (size_t c = 0; c < x.size(); ++c) {
    const double s = static_cast<double>(input_scale) * weight_scale[weight_scale.size() == 1 ? 0 : c];
    params.scale[c] = static_cast<float>(s);
    const double v = std::round(x[c] / s);
    q[c] = static_cast<int32_t>(std::clamp(v, -2147483647.0, 2147483647.0));
  }
  return q;
}

}  // namespace kiln::nn::io
