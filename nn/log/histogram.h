// kiln/nn/log/histogram.h: TensorBoard's histogram bucket layout (TensorFlow's default histogram).
//
// The bucket edges are fixed for every histogram, so histograms of one tag line up across steps in
// TensorBoard's time-offset view: 0, and +/-1e-12 * 1.1^k up to 1e20, then DBL_MAX. Bucket i counts the
// values v with edge[i-1] <= v < edge[i]; `bucket_limit` holds each bucket's upper edge. As TensorFlow
// does, runs of empty buckets are merged into one (its upper edge is the run's last), so a histogram of
// N distinct values stores O(N) buckets, not ~1500.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::logs {

struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit;
  std::vector<double> bucket;
};

// The fixed upper edges, ascending, ending with DBL_MAX.
const std::vector<double>& default_bucket_limits();

// `values` must be finite and non-empty (the caller checks, to name the tag in the error).
Histogram make_histogram(std::span<const double> values);

// The serialized HistogramProto.
std::string encode_histogram(const Histogram& h);

}  // namespace kiln::logs
