#include "kiln/nn/train/logs.h"

namespace kiln::nn::train {

Mode resolve_mode(const std::string& monitor, Mode mode) {
  if (mode != Mode::automatic) return mode;
  std::string name = monitor.rfind("val_", 0) == 0 ? monitor.substr(4) : monitor;
  for (const char* up : {"acc", "auc", "precision", "recall", "f1", "r2"})
    if (name.find(up) != std::string::npos) return Mode::max;
  return Mode::min;
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "(none)" : out;
}

std::string join_keys(const Logs& logs) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : logs) keys.push_back(k);
  return join_keys(keys);
}

}  // namespace kiln::nn::train
