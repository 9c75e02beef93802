// kiln/nn/train/fit.h: fit, evaluate and predict — Keras's model.fit / evaluate / predict for kiln
// modules. fit trains `model` with `optimizer` over a DataLoader for options.epochs epochs, validates after
// each, drives the callbacks, the LR schedule (per epoch or per batch, as the scheduler needs), gradient
// clipping and accumulation, class weights and mixed precision, shows progress (verbose), and returns the
// History with its diagnostics.
//
//   auto h = train::fit(model, opt, loader, val_dataset,
//                       {.epochs = 15, .metrics = {"accuracy"}, .scheduler = &sched,
//                        .callbacks = {std::make_shared<train::EarlyStopping>(
//                            train::EarlyStoppingOptions{.patience = 3, .restore_best_weights = true})}});
//   train::Logs test = train::evaluate(model, test_dataset, {.metrics = {"accuracy"}});
//   Tensor logits = train::predict(model, test_dataset);
//
// Exact resume from outside fit. A checkpoint taken at the end of epoch e (ModelCheckpoint, or by hand)
// must hold: the model's state_dict; the optimizer's state_dict; the scheduler's state_dict (and the
// scheduler() state of a ReduceLROnPlateau callback where used); History::to_map(); the training
// DataLoader's state_dict(); kiln::default_generator()'s seed and offset (dropout and augmentation draw
// from it); and a GradScaler's state_dict with autocast. Restore them all, then call fit with
// initial_epoch = e + 1 and options.history = the restored History: the run continues bit for bit as if it
// had never stopped (test_train_fit's ResumeIsBitExact proves it). Without steps_per_epoch, fit sets the
// training loader's epoch to the fit epoch (DataLoader::set_epoch) before each epoch, so the order of a
// resumed epoch depends only on the loader's seed and the epoch number.
//
// Device: batches are moved to options.device, or to the device of the model's first parameter.
// Depends on nn, optim, data, autograd and classic.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/data/loader.h"
#include "kiln/nn/module.h"
#include "kiln/nn/train/callback.h"
#include "kiln/nn/train/history.h"
#include "kiln/nn/train/metrics.h"
#include "kiln/optim/grad_scaler.h"
#include "kiln/optim/lr_scheduler.h"
#include "kiln/optim/optimizer.h"

namespace kiln::nn::train {

// loss(output, target) -> a 0-d tensor. The default is cross-entropy over class scores (with the class
// weights of FitOptions::class_weight).
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

// When the LR scheduler steps: automatic = per batch for schedules counted in optimizer steps (OneCycleLR),
// per epoch for the others (Keras's and PyTorch's conventions).
enum class StepInterval { automatic, epoch, batch };

// Per-class loss weights: none, an explicit (K) tensor, or "balanced" (n_samples / (K * count_k) from the
// training labels, as scikit-learn's compute_class_weight).
using ClassWeight = std::variant<std::monostate, Tensor, std::string>;

// How fit cooperates with data-parallel training (one process per rank). Ranks other than 0 print, log and
// save nothing (TrainContext::is_main_process). all_reduce_sum / all_gather combine a metric's states
// (MetricState) across ranks before compute(); unset on a single process.
struct Distributed {
  int rank = 0;
  int world_size = 1;
  std::function<void(Tensor& t)> all_reduce_sum = nullptr;      // in place: the sum over ranks
  std::function<Tensor(const Tensor& t)> all_gather = nullptr;  // the ranks' tensors concatenated on dim 0
};

// Where validation data comes from: nothing, a loader, a dataset (batched by fit), or a fraction of the
// training set held out (only for fit's dataset form, which builds the training loader itself).
class Validation {
 public:
  Validation() = default;
  Validation(data::DataLoader& loader) : loader_(&loader) {}
  Validation(data::DatasetPtr dataset) : dataset_(std::move(dataset)) {}
  template <class D>
  requires std::derived_from<D, data::Dataset> Validation(std::shared_ptr<D> dataset)
      : dataset_(std::move(dataset)) {}
  template <data::DatasetType D>
  Validation(D&& dataset) : dataset_(data::share(std::forward<D>(dataset))) {}
  // Holds out `fraction` of the training set (a random split seeded by the default generator).
  static Validation split(double fraction) {
    Validation v;
    v.split_ = fraction;
    return v;
  }
  bool empty() const { return !loader_ && !dataset_ && !split_; }
  data::DataLoader* loader() const { return loader_; }
  const data::DatasetPtr& dataset() const { return dataset_; }
  std::optional<double> split_fraction() const { return split_; }

 private:
  data::DataLoader* loader_ = nullptr;
  data::DatasetPtr dataset_;
  std::optional<double> split_;
};

struct FitOptions {
  int64_t epochs = 1;  // fit runs epochs initial_epoch .. epochs - 1 (Keras)
  int64_t initial_epoch = 0;
  // Batches per epoch; unset: the loader's size. Fewer ends each epoch early (the loader's epoch is
  // continued by the next one, as Keras's steps_per_epoch over a repeating dataset).
  std::optional<int64_t> steps_per_epoch = std::nullopt;
  std::optional<int64_t> validation_steps = std::nullopt;  // batches per validation pass; unset: all
  int64_t validation_freq = 1;                             // validate every N epochs (and the last)
  int64_t validation_batch_size = 256;                     // when validation is a dataset or a split

  LossFn loss = nullptr;
  std::vector<MetricSpec> metrics = {};

  optim::LRScheduler* scheduler = nullptr;
  StepInterval scheduler_interval = StepInterval::automatic;

  std::optional<double> clip_grad_norm = std::nullopt;   // max total 2-norm of the gradients
  std::optional<double> clip_grad_value = std::nullopt;  // max |element|
  int64_t gradient_accumulation_steps = 1;  // optimizer steps every N batches (loss divided by N)
  ClassWeight class_weight = {};

  std::optional<Device> device = std::nullopt;
  // Mixed precision: autocast::Guard(device, autocast_dtype) around forward and loss; with a GradScaler,
  // the loss is scaled, gradients unscaled before clipping, and steps with inf/NaN gradients skipped.
  bool autocast = false;
  DType autocast_dtype = DType::f16;
  optim::GradScaler* grad_scaler = nullptr;

  // 0: silent; 1: a progress bar (redrawn per batch on a terminal, one line per epoch otherwise); 2: one
  // line per epoch. A ProgressBar among the callbacks replaces the default one.
  int verbose = 1;
  std::ostream* out = nullptr;  // where verbose output and the diagnostics go; null: stdout
  std::vector<CallbackPtr> callbacks = {};

  // The epochs before initial_epoch (resume): fit appends to a copy of it and returns that.
  History history = {};

  // The end-of-fit report (diagnostics.h): printed when verbose > 0, always in History::diagnostics().
  bool diagnostics = true;

  Distributed distributed = {};
};

// Trains; returns the History (options.history continued). Throws kiln::Error naming the option for an
// empty loader, epochs <= initial_epoch ... (see each option), a validation set whose feature shape differs
// from training, an unknown metric, or a loss that is not a scalar.
History fit(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& train_loader,
            const Validation& validation = {}, const FitOptions& options = {});
// The dataset form: fit builds the training loader with `loader` options (and holds out
// Validation::split first, if asked).
History fit(nn::Module& model, optim::Optimizer& optimizer, data::DatasetPtr train,
            const data::LoaderOptions& loader, const Validation& validation = {},
            const FitOptions& options = {});

struct EvaluateOptions {
  LossFn loss = nullptr;  // default: cross-entropy
  std::vector<MetricSpec> metrics = {};
  int64_t batch_size = 256;  // for the dataset forms
  std::optional<int64_t> steps = std::nullopt;
  std::optional<Device> device = std::nullopt;
  bool autocast = false;
  DType autocast_dtype = DType::f16;
  Distributed distributed = {};
};
// The mean loss and the metrics over the data, in eval mode without a graph (the model's mode is restored).
Logs evaluate(nn::Module& model, data::DataLoader& loader, const EvaluateOptions& options = {});
Logs evaluate(nn::Module& model, data::DatasetPtr dataset, const EvaluateOptions& options = {});

struct PredictOptions {
  int64_t batch_size = 256;  // for the dataset form
  std::optional<int64_t> steps = std::nullopt;
  std::optional<Device> device = std::nullopt;
  bool autocast = false;
  DType autocast_dtype = DType::f16;
};
// The model's outputs for every example, concatenated along dim 0, on the model's device.
Tensor predict(nn::Module& model, data::DataLoader& loader, const PredictOptions& options = {});
Tensor predict(nn::Module& model, data::DatasetPtr dataset, const PredictOptions& options = {});
Tensor predict(nn::Module& model, const Tensor& x, const PredictOptions& options = {});

// The device fit and evaluate use: `requested`, else that of the model's first parameter or buffer, else
// the CPU.
Device resolve_device(const nn::Module& model, const std::optional<Device>& requested);

}  // namespace kiln::nn::train
