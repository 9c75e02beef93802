#include "kiln/nn/train/train_checkpoint.h"

#include "kiln/nn/io/checkpoint.h"
#include "kiln/nn/train/fit.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {

void save_training_checkpoint(TrainContext& context, const std::string& path) {
  if (!context.is_main_process()) return;
  KILN_CHECK(context.model != nullptr,
             "save_training_checkpoint: the training context has no model (call it from a fit callback)");
  // The parts the context has (fit sets them all; a hand-driven callback may lack the loader).
  io::Checkpoint parts{.optimizer = context.optimizer,
                       .scheduler = context.scheduler,
                       .grad_scaler = context.options != nullptr ? context.options->grad_scaler : nullptr,
                       .loader = context.train_loader,
                       .rng = true,
                       .progress = {.epoch = context.epoch + 1, .global_step = context.global_step}};
  if (context.history != nullptr) parts.history = context.history->to_map();
  io::save_checkpoint(path, *context.model, parts);
}

ResumePoint load_training_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                                     optim::LRScheduler* scheduler, data::DataLoader& loader,
                                     optim::GradScaler* grad_scaler) {
  io::Checkpoint parts{.optimizer = &optimizer,
                       .scheduler = scheduler,
                       .grad_scaler = grad_scaler,
                       .loader = &loader,
                       .rng = true};
  io::load_checkpoint(path, model, parts);
  ResumePoint r;
  r.initial_epoch = parts.progress.epoch;
  r.global_step = parts.progress.global_step;
  if (!parts.history.empty()) r.history = History::from_map(parts.history);
  return r;
}

}  // namespace kiln::nn::train
