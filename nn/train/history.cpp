#include "kiln/nn/train/history.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiln/nn/train/atomic_file.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string number(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void History::append(int64_t epoch, const Logs& logs) {
  KILN_CHECK(epochs_.empty() || epoch > epochs_.back(), "History::append: epoch ", epoch,
             " does not follow the last recorded epoch ", epochs_.empty() ? -1 : epochs_.back());
  const std::size_t n = epochs_.size();
  epochs_.push_back(epoch);
  for (auto& [key, series] : series_) series.push_back(kNaN);
  for (const auto& [key, value] : logs) {
    auto [it, added] = series_.try_emplace(key, std::vector<double>(n + 1, kNaN));
    it->second[n] = value;
  }
}

void History::set_last(const Logs& logs) {
  KILN_CHECK(!epochs_.empty(), "History::set_last: no epoch recorded yet");
  const std::size_t n = epochs_.size();
  for (auto& [key, series] : series_) series.back() = kNaN;
  for (const auto& [key, value] : logs) {
    auto [it, added] = series_.try_emplace(key, std::vector<double>(n, kNaN));
    it->second.back() = value;
  }
}

std::vector<std::string> History::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : series_) out.push_back(k);
  return out;
}

const std::vector<double>& History::at(const std::string& key) const {
  auto it = series_.find(key);
  KILN_CHECK(it != series_.end(), "History: no series '", key, "'; recorded: ", join_keys(keys()));
  return it->second;
}

Logs History::logs(std::size_t i) const {
  KILN_CHECK(i < epochs_.size(), "History::logs: index ", i, " out of range for ", epochs_.size(),
             " recorded epochs");
  Logs out;
  for (const auto& [k, v] : series_)
    if (!std::isnan(v[i])) out[k] = v[i];
  return out;
}

int64_t History::best_epoch(const std::string& monitor, Mode mode) const {
  const auto& s = at(monitor);
  const bool up = resolve_mode(monitor, mode) == Mode::max;
  int64_t best = -1;
  double best_v = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!std::isfinite(s[i])) continue;
    if (best < 0 || (up ? s[i] > best_v : s[i] < best_v)) best = static_cast<int64_t>(i), best_v = s[i];
  }
  KILN_CHECK(best >= 0, "History::best_epoch: '", monitor, "' has no finite value in ", s.size(), " epochs");
  return epochs_[static_cast<std::size_t>(best)];
}

double History::best_value(const std::string& monitor, Mode mode) const {
  int64_t e = best_epoch(monitor, mode);
  for (std::size_t i = 0; i < epochs_.size(); ++i)
    if (epochs_[i] == e) return at(monitor)[i];
  return kNaN;
}

std::map<std::string, std::vector<double>> History::to_map() const {
  std::map<std::string, std::vector<double>> out = series_;
  std::vector<double> epochs(epochs_.begin(), epochs_.end());
  out["epoch"] = epochs;
  return out;
}

History History::from_map(const std::map<std::string, std::vector<double>>& map) {
  auto it = map.find("epoch");
  KILN_CHECK(it != map.end(), "History::from_map: no \"epoch\" series");
  History h;
  for (double e : it->second) {
    KILN_CHECK(std::isfinite(e) && e == std::floor(e) && e >= 0, "History::from_map: epoch ", e,
               " is not a non-negative integer");
    KILN_CHECK(h.epochs_.empty() || e > static_cast<double>(h.epochs_.back()),
               "History::from_map: epochs must increase (", e, " after ", h.epochs_.back(), ")");
    h.epochs_.push_back(static_cast<int64_t>(e));
  }
  for (const auto& [k, v] : map) {
    if (k == "epoch") continue;
    KILN_CHECK(v.size() == h.epochs_.size(), "History::from_map: series '", k, "' has ", v.size(),
               " values for ", h.epochs_.size(), " epochs");
    h.series_[k] = v;
  }
  return h;
}

std::string History::to_csv() const {
  std::ostringstream os;
  os << "epoch";
  for (const auto& [k, v] : series_) os << ',' << k;
  os << '\n';
  for (std::size_t i = 0; i < epochs_.size(); ++i) {
    os << epochs_[i];
    for (const auto& [k, v] : series_) os << ',' << number(v[i]);
    os << '\n';
  }
  return os.str();
}

std::string History::to_json() const {
  nlohmann::ordered_json j;
  j["epoch"] = epochs_;
  for (const auto& [k, v] : series_) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (double x : v) arr.push_back(std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json());
    j[k] = arr;
  }
  return j.dump(2) + "\n";
}

void History::save_csv(const std::string& path) const { write_file_atomically(path, to_csv()); }
void History::save_json(const std::string& path) const { write_file_atomically(path, to_json()); }

History History::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    KILN_CHECK(false, "History::from_json: not valid JSON: ", e.what());
  }
  KILN_CHECK(j.is_object(), "History::from_json: expected an object of series");
  std::map<std::string, std::vector<double>> map;
  for (auto it = j.begin(); it != j.end(); ++it) {
    KILN_CHECK(it.value().is_array(), "History::from_json: series '", it.key(), "' is not an array");
    std::vector<double> v;
    for (const auto& x : it.value()) {
      KILN_CHECK(x.is_null() || x.is_number(), "History::from_json: series '", it.key(),
                 "' holds a non-number");
      v.push_back(x.is_null() ? kNaN : x.get<double>());
    }
    map[it.key()] = std::move(v);
  }
  return from_map(map);
}

History History::load_json(const std::string& path) { return from_json(read_file(path)); }

void History::plot(const std::string& path, const PlotOptions& options) const {
  write_file_atomically(path, to_svg(options));
}

void History::set_validation_predictions(Tensor y_true, Tensor y_pred) {
  val_true_ = std::move(y_true);
  val_pred_ = std::move(y_pred);
}

classic::ClassificationReport History::classification_report_dict(
    const classic::ReportOptions& options) const {
  KILN_CHECK(has_validation_predictions(),
             "History::classification_report: no validation predictions were recorded (fit records them "
             "when it validates with the classification loss)");
  return classic::classification_report_dict(val_true_, val_pred_, options);
}

std::string History::classification_report(const classic::ReportOptions& options) const {
  KILN_CHECK(has_validation_predictions(),
             "History::classification_report: no validation predictions were recorded (fit records them "
             "when it validates with the classification loss)");
  return classic::classification_report(val_true_, val_pred_, options);
}

}  // namespace kiln::nn::train
