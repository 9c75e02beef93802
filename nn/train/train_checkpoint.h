// kiln/nn/train/train_checkpoint.h: a training run as one HDF5 checkpoint (nn/io/checkpoint.h) that fit
// continues from bit for bit: the model, the optimizer, the scheduler, a GradScaler, the training loader's
// position, the default generator (dropout, augmentation), the epochs done, the global step and the History.
//
//   fit(model, opt, loader, val, {.epochs = 20, .scheduler = &sched,
//                                 .callbacks = {std::make_shared<ModelCheckpoint>("run/last.h5")}});
//   // ... later, in a new process, with the same model, optimizer, scheduler and loader built again:
//   ResumePoint r = load_training_checkpoint("run/last.h5", model, opt, &sched, loader);
//   fit(model, opt, loader, val, {.epochs = 20, .initial_epoch = r.initial_epoch, .scheduler = &sched,
//                                 .history = r.history});
#pragma once

#include <cstdint>
#include <string>

#include "kiln/data/loader.h"
#include "kiln/nn/module.h"
#include "kiln/nn/train/callback.h"
#include "kiln/nn/train/history.h"
#include "kiln/optim/grad_scaler.h"
#include "kiln/optim/lr_scheduler.h"
#include "kiln/optim/optimizer.h"

namespace kiln::nn::train {

// ModelCheckpoint's default save function: at the end of epoch `context.epoch`, writes (on the main process
// only) everything fit needs to continue with the next epoch, atomically (the previous file survives a
// crash). Parts the context lacks (a callback driven by hand may have no loader) are left out.
void save_training_checkpoint(TrainContext& context, const std::string& path);

// Where a resumed fit starts: FitOptions{.initial_epoch = r.initial_epoch, .history = r.history}.
struct ResumePoint {
  int64_t initial_epoch = 0;  // epochs completed when the file was written
  int64_t global_step = 0;    // optimizer steps taken by then
  History history;
};

// Restores a save_training_checkpoint file into objects built as for the run that saved (same model,
// optimizer kind and groups, scheduler kind, loader dataset and options). Verifies the whole file before
// changing anything; kiln::Error naming what differs otherwise. grad_scaler: when the run used one.
ResumePoint load_training_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                                     optim::LRScheduler* scheduler, data::DataLoader& loader,
                                     optim::GradScaler* grad_scaler = nullptr);

}  // namespace kiln::nn::train
