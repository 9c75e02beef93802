// kiln/nn/log/summary.h: the Summary.Value protos that SummaryWriter writes, one builder per kind.
// Each returns a serialized `Summary` (one value) ready for make_summary_event. Inputs are checked by
// SummaryWriter, which names the tag in its errors; these only encode.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/nn/log/histogram.h"

namespace kiln::logs {

// Plugin names TensorBoard dispatches on.
inline constexpr const char* kTextPlugin = "text";
inline constexpr const char* kPrCurvePlugin = "pr_curves";
inline constexpr const char* kHParamsPlugin = "hparams";

std::string scalar_summary(const std::string& tag, float value);
std::string histogram_summary(const std::string& tag, const Histogram& histogram);
std::string image_summary(const std::string& tag, const std::string& png, int64_t height, int64_t width,
                          int channels);
std::string text_summary(const std::string& tag, const std::string& text);
// data: 6 rows (TP, FP, TN, FN, precision, recall) of `num_thresholds` float32 each, row-major.
std::string pr_curve_summary(const std::string& tag, std::span<const float> data, int num_thresholds);
// A value holding only plugin metadata and the plugin's placeholder tensor (how HParams stores its
// experiment and session records).
std::string plugin_summary(const std::string& tag, const std::string& plugin, const std::string& content);

}  // namespace kiln::logs
