// kiln/nn/train/diagnostics.h: what went wrong in a training run, found from its History, the per-batch
// record fit keeps (losses, gradient norms, the first non-finite batch) and a look at the data and the
// model: overfitting, underfitting, non-finite loss (naming the batch and the first module whose output
// went non-finite), exploding gradients, a learning rate too high or too low, dead ReLUs, class imbalance,
// unscaled inputs, training rows repeated in the validation set, and an unseeded run. Each Finding names
// its evidence and the fix. fit runs diagnose() at its end; a hand-written loop may fill a TrainingRecord
// itself. Depends on nn, data and history.h.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/nn/module.h"
#include "kiln/nn/train/finding.h"
#include "kiln/nn/train/history.h"

namespace kiln::nn::train {

struct DiagnosticsOptions {
  int64_t overfit_patience = 3;     // val_loss rising this many epochs while loss falls
  double overfit_gap = 0.10;        // training minus validation accuracy
  double exploding_norm = 1e3;      // a gradient norm above this (or 100x the first epoch's median)
  double dead_relu_fraction = 0.5;  // units never active on the probe sample
  double imbalance_ratio = 3.0;     // most / least frequent training class
  int64_t probe_samples = 1024;     // rows looked at for input scale and dead units
};

// What fit records per run beyond the History.
struct TrainingRecord {
  std::vector<double> batch_losses;  // every training batch's loss, in order
  std::vector<double> grad_norms;    // sampled total gradient norms (every few steps), in order
  // The first batch whose loss was not finite: its global index and the first module (dotted name and
  // type) whose output or parameters were not finite then.
  std::optional<int64_t> first_non_finite_batch;
  std::optional<int64_t> first_non_finite_epoch;
  std::string first_non_finite_module;
  bool seeded = true;                       // kiln::manual_seed was called before the run
  std::string loss_kind = "cross_entropy";  // "cross_entropy" (classification) or "custom"
};

// Every finding for the run. `train` / `validation` may be null (their checks are skipped).
std::vector<Finding> diagnose(nn::Module& model, const History& history, const TrainingRecord& record,
                              const data::DatasetPtr& train, const data::DatasetPtr& validation,
                              const DiagnosticsOptions& options = {});

// The report printed at the end of fit ("Diagnostics: no problems found" when empty).
std::string format_findings(const std::vector<Finding>& findings);

// The individual checks, for tests and hand-written loops.
std::optional<Finding> check_overfitting(const History& h, const DiagnosticsOptions& o = {});
std::optional<Finding> check_underfitting(nn::Module& model, const History& h, const data::DatasetPtr& train,
                                          const DiagnosticsOptions& o = {});
std::optional<Finding> check_non_finite(const TrainingRecord& r);
std::optional<Finding> check_exploding_gradients(const TrainingRecord& r, const DiagnosticsOptions& o = {});
std::optional<Finding> check_learning_rate(const History& h, const TrainingRecord& r);
std::optional<Finding> check_dead_relus(nn::Module& model, const data::DatasetPtr& train,
                                        const DiagnosticsOptions& o = {});
std::optional<Finding> check_class_imbalance(const data::DatasetPtr& train, const DiagnosticsOptions& o = {});
std::optional<Finding> check_input_scale(const data::DatasetPtr& train, const DiagnosticsOptions& o = {});
std::optional<Finding> check_train_val_overlap(const data::DatasetPtr& train,
                                               const data::DatasetPtr& validation);

// The first module (depth-first, leaves only) whose output on `x` is not finite, or whose parameters are
// not, as "name (Type)"; "" when all are finite. Runs one forward pass in eval mode without a graph.
std::string first_non_finite_module(nn::Module& model, const Tensor& x);

}  // namespace kiln::nn::train
