// kiln/nn/train/mlflow_callback.h: the MLflowLogger callback, a fit tracked as one MLflow run through
// kiln::logs::MlflowRun: the hyperparameters (fit options, optimizer, MLflowLoggerOptions::params) as
// params, every epoch log as a metric at step = epoch, and at the end the History CSV and its SVG plot
// (plus any `artifacts` files) as artifacts, then the run ends FINISHED. The tracking URI comes from
// MLflowLoggerOptions::run.tracking_uri or MLFLOW_TRACKING_URI.
//
//   auto mlflow = std::make_shared<train::MLflowLogger>(train::MLflowLoggerOptions{
//       .run = {.experiment_name = "fashion-mnist", .run_name = "mlp"}});
//   train::fit(..., {.callbacks = {mlflow}});
//
// fit does not tell callbacks when it throws, so a run whose training began and never reached
// on_train_end ends FAILED when the callback is destroyed (or as given to end()). Ctrl-C (SIGINT) during
// fit stops training after the current batch, ends the run KILLED with what was logged, and then
// delivers SIGINT to the handler that was there before (by default: the program ends, as Ctrl-C expects).
// Only the main process (rank 0) logs. Network trouble never stops training (MlflowRun queues and retries);
// report() says what reached the server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/log/mlflow_run.h"
#include "kiln/nn/train/callback.h"

namespace kiln::nn::train {

struct MLflowLoggerOptions {
  logs::MlflowOptions run = {};
  logs::HParams params = {};                // added to those read from the fit
  bool log_history = true;                  // history.csv and history.svg as artifacts
  std::vector<std::string> artifacts = {};  // more files to upload at the end (a checkpoint, ...)
  int64_t log_every_n_batches = 0;          // also batch_loss every N optimizer steps; 0: epochs only
  bool handle_interrupt = true;             // SIGINT: stop, end the run KILLED, then re-deliver SIGINT
};

class MLflowLogger : public Callback {
 public:
  explicit MLflowLogger(MLflowLoggerOptions options = {});
  ~MLflowLogger() override;  // end(FAILED) if training began and did not finish

  void on_train_begin(TrainContext& context) override;
  void on_batch_end(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  void on_train_end(TrainContext& context, const Logs& logs) override;

  // Ends the run now with `status` (idempotent); the report of what reached the server.
  logs::MlflowReport end(logs::RunStatus status);
  // The run (null before on_train_begin and on ranks other than 0).
  logs::MlflowRun* run() const { return run_.get(); }
  const logs::MlflowReport& report() const { return report_; }

 private:
  MLflowLoggerOptions o_;
  std::unique_ptr<logs::MlflowRun> run_;
  void restore_interrupt_handler();

  logs::MlflowReport report_;
  bool ended_ = false;
  bool handling_interrupt_ = false;
};

}  // namespace kiln::nn::train
