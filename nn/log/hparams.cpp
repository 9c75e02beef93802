#include "kiln/nn/log/hparams.h"

#include <cstdio>
#include <cstdlib>

#include "kiln/nn/log/proto_encoder.h"

namespace kiln::logs {
namespace {

// HParamsPluginData: version = 1; oneof {experiment = 2, session_start_info = 3, session_end_info = 4}.
constexpr int kDataExperiment = 2, kDataSessionStart = 3, kDataSessionEnd = 4;
// Experiment: hparam_infos = 4, metric_infos = 5. HParamInfo: name = 1, type = 4.
// MetricInfo: name = 1 (MetricName: group = 1, tag = 2).
// SessionStartInfo: hparams = 1 (map<string, google.protobuf.Value>), start_time_secs = 5.
// SessionEndInfo: status = 1, end_time_secs = 2.
constexpr int kTypeString = 1, kTypeBool = 2, kTypeFloat64 = 3;
constexpr int kStatusSuccess = 1, kStatusFailure = 2;

// google.protobuf.Value: number_value = 2, string_value = 3, bool_value = 4 (a oneof: always written).
ProtoEncoder proto_value(const HParamValue& v) {
  ProtoEncoder out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>)
          out.add_bool(4, x, /*always=*/true);
        else if constexpr (std::is_same_v<T, double>)
          out.add_double(2, x, /*always=*/true);
        else
          out.add_bytes(3, x);
      },
      v.value());
  return out;
}

int type_of(const HParamValue& v) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return kTypeBool;
        if constexpr (std::is_same_v<T, double>) return kTypeFloat64;
        return kTypeString;
      },
      v.value());
}

std::string plugin_data(int field, const ProtoEncoder& record) {
  ProtoEncoder data;
  data.add_message(field, record);
  return data.take();
}

}  // namespace

std::string HParamValue::str() const {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "True" : "False";  // as str(bool) in MLflow's Python client
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.17g", x);
          // The shortest form that reads back to the same double, as Python's repr prints it.
          for (int digits = 1; digits <= 17; ++digits) {
            std::snprintf(buf, sizeof buf, "%.*g", digits, x);
            if (std::strtod(buf, nullptr) == x) break;
          }
          return buf;
        } else {
          return x;
        }
      },
      value_);
}

std::string hparams_experiment(const HParams& hparams, const std::vector<std::string>& metric_tags) {
  ProtoEncoder experiment;
  for (const auto& [name, value] : hparams) {
    ProtoEncoder info;
    info.add_bytes(1, name);
    info.add_varint(4, static_cast<uint64_t>(type_of(value)));
    experiment.add_message(4, info);
  }
  for (const auto& tag : metric_tags) {
    ProtoEncoder metric_name;
    metric_name.add_bytes(2, tag);
    ProtoEncoder info;
    info.add_message(1, metric_name);
    experiment.add_message(5, info);
  }
  return plugin_data(kDataExperiment, experiment);
}

std::string hparams_session_start(const HParams& hparams, double start_time_secs) {
  ProtoEncoder start;
  for (const auto& [name, value] : hparams) {
    ProtoEncoder entry;  // a map entry: key = 1, value = 2
    entry.add_bytes(1, name);
    entry.add_message(2, proto_value(value));
    start.add_message(1, entry);
  }
  start.add_double(5, start_time_secs);
  return plugin_data(kDataSessionStart, start);
}

std::string hparams_session_end(bool success, double end_time_secs) {
  ProtoEncoder end;
  end.add_varint(1, success ? kStatusSuccess : kStatusFailure);
  end.add_double(2, end_time_secs);
  return plugin_data(kDataSessionEnd, end);
}

}  // namespace kiln::logs
