// kiln/nn/train/history.h: History, the per-epoch record of a fit: every loss, metric and the learning
// rate, keyed as the epoch logs (logs.h), plus the validation predictions of the last validated epoch for a
// classification report. It converts to and from a plain map of series (what a checkpoint stores), saves
// as CSV and JSON, and plots itself to a self-contained SVG (history_plot.cpp). Depends on tensor and
// classic (the report).
//
//   History h = fit(model, opt, loader, val, {.epochs = 10});
//   int64_t best = h.best_epoch("val_loss");         // 0-based epoch number
//   h.save_csv(dir + "/history.csv"); h.plot(dir + "/history.svg");
//   std::cout << h.classification_report();
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/classic/metrics.h"
#include "kiln/nn/train/finding.h"
#include "kiln/nn/train/logs.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::train {

struct PlotOptions {
  std::string title = "Training history";
  int panel_width = 420;   // pixels per panel
  int panel_height = 260;  // pixels per panel
  int columns = 2;         // panels per row
  // The monitored key whose best epoch is marked on every panel; empty: "val_loss" if recorded, else
  // "loss".
  std::string monitor = "";
  Mode mode = Mode::automatic;
};

class History {
 public:
  History() = default;

  // Records epoch `epoch` (0-based) with its logs. Epochs must increase; a key new in this epoch reads NaN
  // for the epochs before it, and a key missing from this epoch reads NaN for it (e.g. val_* when
  // validation ran every other epoch).
  void append(int64_t epoch, const Logs& logs);
  // Replaces the logs of the last recorded epoch (fit adds what callbacks put into the epoch's logs).
  void set_last(const Logs& logs);

  std::size_t size() const { return epochs_.size(); }  // epochs recorded
  bool empty() const { return epochs_.empty(); }
  const std::vector<int64_t>& epochs() const { return epochs_; }
  // Keys in sorted order ("loss", "lr", "val_loss", ...).
  std::vector<std::string> keys() const;
  bool has(const std::string& key) const { return series_.count(key) != 0; }
  // The series of one key, one value per recorded epoch. Throws kiln::Error naming the available keys.
  const std::vector<double>& at(const std::string& key) const;
  const std::vector<double>& operator[](const std::string& key) const { return at(key); }
  // The logs of the i-th recorded epoch (NaN entries left out).
  Logs logs(std::size_t i) const;

  // The epoch (0-based number, as in epochs()) with the best finite value of `monitor`; the first such
  // epoch on ties. Throws kiln::Error naming the available keys for an unknown monitor, or when no epoch
  // has a finite value.
  int64_t best_epoch(const std::string& monitor, Mode mode = Mode::automatic) const;
  double best_value(const std::string& monitor, Mode mode = Mode::automatic) const;

  // {"epoch": [...], key: [...]} — everything needed to continue the record (a checkpoint stores it).
  std::map<std::string, std::vector<double>> to_map() const;
  // The inverse of to_map(). Throws kiln::Error for a missing "epoch" series or series of unequal length.
  static History from_map(const std::map<std::string, std::vector<double>>& map);

  // CSV: header "epoch,<keys...>", one row per epoch, values with 17 significant digits (NaN written
  // empty). JSON: {"epoch": [...], "<key>": [...]} with null for NaN. Both written atomically.
  std::string to_csv() const;
  std::string to_json() const;
  void save_csv(const std::string& path) const;
  void save_json(const std::string& path) const;
  static History from_json(const std::string& text);
  static History load_json(const std::string& path);

  // The SVG picture: one panel per metric (training and validation curves), a learning-rate panel, the
  // best epoch marked, axes with ticks and a legend (history_plot.cpp).
  std::string to_svg(const PlotOptions& options = {}) const;
  void plot(const std::string& path, const PlotOptions& options = {}) const;

  // The labels and predicted classes of the last validated epoch (fit records them for classification
  // losses). classification_report() throws kiln::Error when none were recorded.
  void set_validation_predictions(Tensor y_true, Tensor y_pred);
  bool has_validation_predictions() const { return val_true_.defined(); }
  const Tensor& validation_true() const { return val_true_; }
  const Tensor& validation_pred() const { return val_pred_; }
  std::string classification_report(const classic::ReportOptions& options = {}) const;
  classic::ClassificationReport classification_report_dict(const classic::ReportOptions& options = {}) const;

  // The diagnostics of the fit that made this History (diagnostics.h); empty when none were found or
  // diagnostics were off.
  const std::vector<Finding>& diagnostics() const { return findings_; }
  void set_diagnostics(std::vector<Finding> findings) { findings_ = std::move(findings); }

 private:
  std::vector<int64_t> epochs_;
  std::map<std::string, std::vector<double>> series_;
  Tensor val_true_, val_pred_;
  std::vector<Finding> findings_;
};

}  // namespace kiln::nn::train
