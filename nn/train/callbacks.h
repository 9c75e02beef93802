// kiln/nn/train/callbacks.h: the standard callbacks, with Keras's names and semantics: EarlyStopping,
// ReduceLROnPlateau (driving optim::ReduceLROnPlateau), LearningRateScheduler, TerminateOnNaN, CSVLogger,
// LambdaCallback and ModelCheckpoint. ProgressBar is in progress_bar.h. Depends on callback.h.
//
// A monitor names a logs key ("val_loss", "accuracy"); a key that no epoch produces is a kiln::Error at
// the end of the first epoch naming the available keys (Keras only warns).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/nn/train/callback.h"
#include "kiln/nn/train/train_checkpoint.h"
#include "kiln/optim/reduce_lr_on_plateau.h"
#include "kiln/tensor/state_dict.h"

namespace kiln::nn::train {

// The value of `monitor` in `logs`, or a kiln::Error naming `who`, the monitor and the available keys.
double monitored_value(const Logs& logs, const std::string& monitor, const std::string& who);

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  Mode mode = Mode::automatic;
  double min_delta = 0.0;  // an improvement smaller than this does not count (>= 0; its sign is ignored)
  int64_t patience = 0;    // epochs without improvement before stopping (>= 0)
  // Stop right away unless the monitored value beats the baseline within `patience` epochs.
  std::optional<double> baseline = std::nullopt;
  int64_t start_from_epoch = 0;       // epochs before this one are not monitored (warm-up)
  bool restore_best_weights = false;  // at the end, load the model weights of the best epoch
};
class EarlyStopping : public Callback {
 public:
  // Throws kiln::Error for patience < 0 or start_from_epoch < 0, naming the option.
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  void on_train_end(TrainContext& context, const Logs& logs) override;
  // -1 when training ran to the end; otherwise the epoch after which it stopped.
  int64_t stopped_epoch() const { return stopped_epoch_; }
  int64_t best_epoch() const { return best_epoch_; }
  double best() const { return best_; }
  int64_t wait() const { return wait_; }
  const EarlyStoppingOptions& options() const { return o_; }

 private:
  bool improved(double value) const;
  EarlyStoppingOptions o_;
  Mode mode_ = Mode::min;
  double best_ = 0;
  int64_t best_epoch_ = -1, wait_ = 0, stopped_epoch_ = -1;
  StateDict best_weights_;
};

// Keras's ReduceLROnPlateau: optim::ReduceLROnPlateau stepped with the monitored value each epoch.
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  Mode mode = Mode::automatic;
  double factor = 0.1;
  int64_t patience = 10;
  double min_delta = 1e-4;  // the scheduler's threshold (relative, as PyTorch's default threshold_mode)
  int64_t cooldown = 0;
  double min_lr = 0.0;
  bool verbose = false;  // print a line when the rate is reduced
};
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  // The wrapped scheduler (after on_train_begin).
  optim::ReduceLROnPlateau* scheduler() const { return scheduler_.get(); }
  // The scheduler's counters, for a checkpoint; empty before on_train_begin. load_state_dict before fit
  // restores them when training begins (a resumed run continues its patience count).
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  ReduceLROnPlateauOptions o_;
  std::unique_ptr<optim::ReduceLROnPlateau> scheduler_;
  StateDict pending_;
};

// Sets every group's lr at the start of each epoch to schedule(epoch, current lr).
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int64_t epoch, double lr)>;
  explicit LearningRateScheduler(Schedule schedule, bool verbose = false);
  void on_epoch_begin(TrainContext& context) override;

 private:
  Schedule schedule_;
  bool verbose_;
};

// Stops training at the first batch whose loss is NaN or infinite (reads the loss every batch).
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(TrainContext& context) override;
  // The epoch and batch where it stopped, or -1.
  int64_t epoch() const { return epoch_; }
  int64_t batch() const { return batch_; }

 private:
  int64_t epoch_ = -1, batch_ = -1;
};

// Writes the epoch logs as CSV rows ("epoch,<keys...>"), rewriting the file atomically after each epoch.
// append: keep the rows already in the file (a resumed run).
struct CSVLoggerOptions {
  char separator = ',';
  bool append = false;
};
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path, CSVLoggerOptions options = {});
  void on_train_begin(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  CSVLoggerOptions o_;
  std::vector<std::string> header_;
  std::vector<std::string> rows_;
};

// A callback from functions (Keras's LambdaCallback); unset ones do nothing.
struct LambdaCallbackFns {
  std::function<void(TrainContext&)> on_train_begin = nullptr;
  std::function<void(TrainContext&, const Logs&)> on_train_end = nullptr;
  std::function<void(TrainContext&)> on_epoch_begin = nullptr;
  std::function<void(TrainContext&, Logs&)> on_epoch_end = nullptr;
  std::function<void(TrainContext&)> on_batch_begin = nullptr;
  std::function<void(TrainContext&)> on_batch_end = nullptr;
};
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackFns fns) : f_(std::move(fns)) {}
  void on_train_begin(TrainContext& c) override;
  void on_train_end(TrainContext& c, const Logs& logs) override;
  void on_epoch_begin(TrainContext& c) override;
  void on_epoch_end(TrainContext& c, Logs& logs) override;
  void on_batch_begin(TrainContext& c) override;
  void on_batch_end(TrainContext& c) override;

 private:
  LambdaCallbackFns f_;
};

// Saves a checkpoint through `save`: path is the filepath pattern with {epoch} (1-based, as Keras; with a
// format like {epoch:02d}) and any logs key ({val_loss:.4f}) filled in.
using SaveFn = std::function<void(TrainContext& context, const std::string& path)>;
// The default save function is save_training_checkpoint (train_checkpoint.h): the whole training state in
// one HDF5 checkpoint, from which fit resumes bit for bit.

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  Mode mode = Mode::automatic;
  bool save_best_only = false;  // save only when the monitored value improves
  int64_t every_n_epochs = 1;   // save every N epochs (>= 1)
  bool verbose = false;
  // Keep only the newest N files this callback wrote (0: keep all); older ones are removed after a save
  // succeeded, so a crash never leaves fewer than N.
  int64_t max_to_keep = 0;
  SaveFn save = save_training_checkpoint;
};
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  double best() const { return best_; }
  const std::string& last_path() const { return last_path_; }  // "" before the first save

 private:
  std::string filepath_;
  ModelCheckpointOptions o_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  std::string last_path_;
  std::vector<std::string> written_;  // oldest first, for max_to_keep
};

// `pattern` with {name} and {name:fmt} (printf-style fmt without '%', e.g. 02d, .4f) replaced: "epoch" by
// epoch + 1, other names by logs values. Throws kiln::Error naming an unknown key.
std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, const Logs& logs);

}  // namespace kiln::nn::train
