#include "kiln/nn/train/mlflow_callback.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "kiln/nn/train/atomic_file.h"
#include "kiln/nn/train/fit_hparams.h"
#include "kiln/nn/train/history.h"

namespace kiln::nn::train {
namespace {

// Set by the SIGINT handler (all a signal handler may safely do); read after each batch.
std::atomic<bool> interrupt_requested{false};
struct sigaction previous_sigint;

extern "C" void request_interrupt(int) { interrupt_requested.store(true); }

}  // namespace

MLflowLogger::MLflowLogger(MLflowLoggerOptions options) : o_(std::move(options)) {}

MLflowLogger::~MLflowLogger() {
  restore_interrupt_handler();
  if (run_ && !ended_) end(logs::RunStatus::failed);
}

void MLflowLogger::restore_interrupt_handler() {
  if (!handling_interrupt_) return;
  sigaction(SIGINT, &previous_sigint, nullptr);
  handling_interrupt_ = false;
}

void MLflowLogger::on_train_begin(TrainContext& c) {
  if (!c.is_main_process() || run_) return;
  run_ = std::make_unique<logs::MlflowRun>(o_.run);
  logs::HParams params = fit_hparams(c);
  for (const auto& [k, v] : o_.params) params.insert_or_assign(k, v);
  run_->log_params(params);
  if (o_.handle_interrupt) {
    interrupt_requested.store(false);
    struct sigaction sa {};
    sa.sa_handler = request_interrupt;
    sigemptyset(&sa.sa_mask);
    handling_interrupt_ = sigaction(SIGINT, &sa, &previous_sigint) == 0;
  }
}

void MLflowLogger::on_batch_end(TrainContext& c) {
  if (handling_interrupt_ && interrupt_requested.load()) {
    c.stop_training = true;
    c.stop_reason = "interrupted (SIGINT)";
  }
  if (!run_ || ended_ || o_.log_every_n_batches == 0 || !c.last_loss.defined()) return;
  if (c.global_step % o_.log_every_n_batches == 0)
    run_->log_metric("batch_loss", c.last_loss.item<double>(), c.global_step);
}

void MLflowLogger::on_epoch_end(TrainContext& c, Logs& logs) {
  if (!run_ || ended_) return;
  run_->log_metrics(logs, c.epoch);
}

void MLflowLogger::on_train_end(TrainContext& c, const Logs& logs) {
  const bool interrupted = handling_interrupt_ && interrupt_requested.load();
  restore_interrupt_handler();
  if (!run_ || ended_) return;
  const logs::RunStatus status = interrupted ? logs::RunStatus::killed : logs::RunStatus::finished;
  if (o_.log_history && c.history && !c.history->empty()) {
    // A private folder: the files are uploaded by MlflowRun's sender, read when sent, so they must stay
    // until end() returns.
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("kiln-mlflow-" + std::to_string(getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir);
    write_file_atomically((dir / "history.csv").string(), c.history->to_csv());
    run_->log_artifact((dir / "history.csv").string());
    write_file_atomically((dir / "history.svg").string(), c.history->to_svg());
    run_->log_artifact((dir / "history.svg").string());
    for (const auto& path : o_.artifacts) run_->log_artifact(path);
    end(status);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    for (const auto& path : o_.artifacts) run_->log_artifact(path);
    end(status);
  }
  // The interrupt was the user's: now that the run is recorded, the previous handler gets it.
  if (interrupted) raise(SIGINT);
}

logs::MlflowReport MLflowLogger::end(logs::RunStatus status) {
  if (!run_ || ended_) return report_;
  ended_ = true;
  report_ = run_->end(status);
  return report_;
}

}  // namespace kiln::nn::train
