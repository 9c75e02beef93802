// kiln/nn/io/quantize_params.h: int8 quantization as TFLite defines it: real = scale (q - zero_point).
// Activations are per-tensor asymmetric over a calibrated range that always holds 0 (so zero padding
// and ReLU are exact); weights are symmetric (zero point 0, q in [-127, 127]) per output channel or per
// tensor; biases are int32 with scale input_scale * weight_scale and zero point 0.
// Depends on trace_graph.h and export.h (Calibration).
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/nn/io/export.h"
#include "kiln/nn/io/trace_graph.h"

namespace kiln::nn::io {

struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int axis = 0;  // the quantized dimension when per-channel
};

struct Range {
  double lo = 0.0, hi = 0.0;
  bool seen = false;
};

// Each value's range over `data` (N, ...) run through the cleaned-up graph in batches (export_eval.h).
std::vector<Range> calibrate(const Graph& g, const Tensor& data, Calibration method, double percentile,
                             int64_t batch);

// Per-tensor asymmetric int8 parameters for a range (widened to hold 0).
QuantParams activation_params(Range r);
// Symmetric int8 weights: per slice along `axis` when per_channel, else one scale. Returns the int8 values
// (row-major, w's shape) and sets params.
std::vector<int8_t> quantize_symmetric(const Tensor& w, int axis, bool per_channel, QuantParams& params);
// Asymmetric int8 values of a float tensor with the given per-tensor params.
std::vector<int8_t> quantize_with(const Tensor& t, const QuantParams& params);
// int32 bias values for bias b with scale input_scale * weight_scale[c] (one weight scale, or one per c).
std::vector<int32_t> quantize_bias(const Tensor& b, float input_scale, const std::vector<float>& weight_scale,
                                   QuantParams& params);

}  // namespace kiln::nn::io
