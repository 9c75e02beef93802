// kiln/nn/log/hparams.h: hyperparameter values and the HParams plugin's records (tensorboard/plugins/
// hparams/{api,plugin_data}.proto), so that runs can be compared in TensorBoard's HPARAMS table.
#pragma once

#include <concepts>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace kiln::logs {

// A hyperparameter: a number, a string or a bool (the three types the HParams plugin knows). Integers
// are stored as numbers, as TensorBoard does.
class HParamValue {
 public:
  HParamValue(bool v) : value_(v) {}
  template <class T>
  requires(std::integral<T> && !std::same_as<T, bool>) || std::floating_point<T> HParamValue(T v)
      : value_(static_cast<double>(v)) {}
  HParamValue(const char* v) : value_(std::string(v)) {}
  HParamValue(std::string v) : value_(std::move(v)) {}

  const std::variant<bool, double, std::string>& value() const { return value_; }
  std::string str() const;  // as Python's str() prints it (MLflow parameters): 0.001, True, adam

 private:
  std::variant<bool, double, std::string> value_;
};

using HParams = std::map<std::string, HParamValue>;

// The tags TensorBoard's HParams plugin reads.
inline constexpr const char* kHParamsExperimentTag = "_hparams_/experiment";
inline constexpr const char* kHParamsSessionStartTag = "_hparams_/session_start_info";
inline constexpr const char* kHParamsSessionEndTag = "_hparams_/session_end_info";

// Serialized HParamsPluginData contents (version 0) for each record.
std::string hparams_experiment(const HParams& hparams, const std::vector<std::string>& metric_tags);
std::string hparams_session_start(const HParams& hparams, double start_time_secs);
std::string hparams_session_end(bool success, double end_time_secs);

}  // namespace kiln::logs
