// History::to_svg: one panel per metric (the training series and its val_ twin), then the learning rate
// (log scale), each with the best epoch of the monitored key marked.
#include <algorithm>
#include <cmath>

#include "kiln/nn/train/history.h"
#include "kiln/nn/train/svg_chart.h"

namespace kiln::nn::train {

std::string History::to_svg(const PlotOptions& options) const {
  std::vector<double> x;
  for (int64_t e : epochs_) x.push_back(static_cast<double>(e + 1));  // epochs shown 1-based, as printed
  std::string monitor = options.monitor;
  if (monitor.empty()) monitor = has("val_loss") ? "val_loss" : "loss";
  double best_x = NAN;
  std::string best_label;
  if (has(monitor)) {
    bool any = false;
    for (double v : at(monitor)) any = any || std::isfinite(v);
    if (any) {
      const int64_t b = best_epoch(monitor, options.mode);
      best_x = static_cast<double>(b + 1);
      best_label = "best " + monitor + " (epoch " + std::to_string(b + 1) + ")";
    }
  }
  std::vector<svg::Panel> panels;
  std::vector<std::string> bases;
  for (const auto& [key, s] : series_)
    if (key != "lr" && key.rfind("val_", 0) != 0) bases.push_back(key);
  // Validation-only keys still get a panel.
  for (const auto& [key, s] : series_)
    if (key.rfind("val_", 0) == 0 && !has(key.substr(4))) bases.push_back(key);
  // The loss first, as Keras plots it.
  std::stable_partition(bases.begin(), bases.end(), [](const std::string& k) { return k == "loss"; });
  for (const auto& base : bases) {
    svg::Panel p;
    p.title = base;
    p.x_label = "epoch";
    p.y_label = base;
    if (has(base) && base.rfind("val_", 0) != 0)
      p.series.push_back({"train " + base, x, at(base), "#1f77b4", false});
    const std::string val = base.rfind("val_", 0) == 0 ? base : "val_" + base;
    if (has(val)) p.series.push_back({val, x, at(val), "#ff7f0e", true});
    if (std::isfinite(best_x)) p.markers.push_back({best_x, best_label, "#2ca02c"});
    panels.push_back(std::move(p));
  }
  if (has("lr")) {
    svg::Panel p;
    p.title = "learning rate";
    p.x_label = "epoch";
    p.y_label = "lr";
    bool positive = true;
    for (double v : at("lr")) positive = positive && (!std::isfinite(v) || v > 0);
    p.log_y = positive;
    p.series.push_back({"lr", x, at("lr"), "#9467bd", false});
    if (std::isfinite(best_x)) p.markers.push_back({best_x, best_label, "#2ca02c"});
    panels.push_back(std::move(p));
  }
  return svg::render(panels, {.title = options.title,
                              .panel_width = options.panel_width,
                              .panel_height = options.panel_height,
                              .columns = options.columns});
}

}  // namespace kiln::nn::train
