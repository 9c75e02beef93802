// kiln/nn/train/callback.h: the Callback interface and the TrainContext every hook receives, as Keras's
// callbacks: fit calls on_train_begin, then per epoch on_epoch_begin, per batch on_batch_begin /
// on_batch_end, on_epoch_end with the epoch's logs (which a callback may extend, e.g. with "lr"), and
// on_train_end. A callback stops training by setting context.stop_training. Callbacks are plain objects a
// hand-written loop may call too. Depends on nn, optim and data (pointers only).
//
//   struct PrintLoss : train::Callback {
//     void on_epoch_end(train::TrainContext& c, train::Logs& logs) override {
//       if (c.is_main_process()) std::cout << c.epoch << " " << logs.at("loss") << "\n";
//     }
//   };
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/train/history.h"
#include "kiln/nn/train/logs.h"
#include "kiln/tensor/device.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {
class Optimizer;
class LRScheduler;
class ReduceLROnPlateau;
}  // namespace kiln::optim
namespace kiln::data {
class DataLoader;
}
namespace kiln::nn {
class Module;
}

namespace kiln::nn::train {

struct FitOptions;

// What a callback can reach while fit runs. Pointers are owned by the caller of fit (or by fit for the
// loaders it makes) and valid from on_train_begin to on_train_end.
struct TrainContext {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* scheduler = nullptr;  // FitOptions::scheduler, or null
  data::DataLoader* train_loader = nullptr;
  data::DataLoader* validation_loader = nullptr;  // null without validation
  const FitOptions* options = nullptr;
  History* history = nullptr;  // the epochs recorded so far (including a History passed in to continue)
  Device device = Device::cpu();

  int64_t epoch = 0;            // the current epoch, 0-based (printed 1-based, as Keras)
  int64_t epochs = 0;           // the epoch fit ends before (FitOptions::epochs)
  int64_t initial_epoch = 0;    // where this fit started
  int64_t steps_per_epoch = 0;  // batches in an epoch
  int64_t batch = 0;            // the current batch of the epoch, 0-based
  int64_t global_step = 0;      // optimizer steps taken since initial_epoch 0 (resumes with the epoch)
  int64_t samples_seen = 0;     // training samples of the current epoch so far

  // Set by a callback to end training after the current batch (checked after every batch and epoch).
  bool stop_training = false;
  std::string stop_reason;  // why, for the summary (e.g. "EarlyStopping: val_loss did not improve ...")

  // Distributed training: only rank 0 prints, logs and saves (callbacks that write ask this).
  int rank = 0;
  int world_size = 1;
  bool is_main_process() const { return rank == 0; }

  // FitOptions::verbose, and where messages go (FitOptions::out; stdout when null).
  int verbose = 0;
  std::ostream* out = nullptr;
  std::ostream& output() const;

  // The running means of the training loss and metrics over the epoch so far. Reads the device (a
  // synchronization on CUDA): call it when showing progress, not per batch. Set by fit.
  std::function<Logs()> running_logs;
  // The loss of the last batch, a detached 0-d tensor on the device (no host read until asked).
  Tensor last_loss;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(TrainContext& context) {}
  // logs: the last epoch's logs (empty when no epoch ran).
  virtual void on_train_end(TrainContext& context, const Logs& logs) {}
  virtual void on_epoch_begin(TrainContext& context) {}
  // logs: the epoch's training and validation values; a callback may add entries. History records the
  // logs after every callback ran, so what one adds is kept.
  virtual void on_epoch_end(TrainContext& context, Logs& logs) {}
  virtual void on_batch_begin(TrainContext& context) {}
  // After the optimizer step of context.batch (or its accumulation); context.last_loss is that batch's.
  virtual void on_batch_end(TrainContext& context) {}
  // Called after the epoch's training batches and before its validation pass.
  virtual void on_validation_begin(TrainContext& context) {}
  virtual void on_validation_end(TrainContext& context, const Logs& val_logs) {}
};
using CallbackPtr = std::shared_ptr<Callback>;

}  // namespace kiln::nn::train
