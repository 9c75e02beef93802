#include "kiln/nn/log/histogram.h"

#include <algorithm>
#include <cfloat>

#include "kiln/nn/log/proto_encoder.h"

namespace kiln::logs {

const std::vector<double>& default_bucket_limits() {
  static const std::vector<double> limits = [] {
    std::vector<double> positive;
    for (double v = 1e-12; v < 1e20; v *= 1.1) positive.push_back(v);
    std::vector<double> all;
    all.reserve(2 * positive.size() + 2);
    for (auto it = positive.rbegin(); it != positive.rend(); ++it) all.push_back(-*it);
    all.push_back(0.0);
    all.insert(all.end(), positive.begin(), positive.end());
    all.push_back(DBL_MAX);
    return all;
  }();
  return limits;
}

Histogram make_histogram(std::span<const double> values) {
  const std::vector<double>& limits = default_bucket_limits();
  std::vector<double> counts(limits.size(), 0.0);
  Histogram h;
  h.min = values[0];
  h.max = values[0];
  for (double v : values) {
    // The first edge strictly above v; DBL_MAX catches everything that is finite.
    size_t i = static_cast<size_t>(std::upper_bound(limits.begin(), limits.end(), v) - limits.begin());
    counts[std::min(i, limits.size() - 1)] += 1.0;
    h.min = std::min(h.min, v);
    h.max = std::max(h.max, v);
    h.sum += v;
    h.sum_squares += v * v;
  }
  h.num = static_cast<double>(values.size());
  for (size_t i = 0; i < counts.size();) {
    double end = limits[i], count = counts[i];
    ++i;
    if (count <= 0.0) {
      while (i < counts.size() && counts[i] <= 0.0) end = limits[i++];
    }
    h.bucket_limit.push_back(end);
    h.bucket.push_back(count);
  }
  return h;
}

std::string encode_histogram(const Histogram& h) {
  // HistogramProto (tensorboard/compat/proto/summary.proto).
  ProtoEncoder p;
  p.add_double(1, h.min);
  p.add_double(2, h.max);
  p.add_double(3, h.num);
  p.add_double(4, h.sum);
  p.add_double(5, h.sum_squares);
  p.add_packed_doubles(6, h.bucket_limit);
  p.add_packed_doubles(7, h.bucket);
  return p.take();
}

}  // namespace kiln::logs
