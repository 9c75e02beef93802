// kiln/nn/io/checkpoint.h: everything a training run needs to continue bit for bit, in one HDF5 file.
//
//   io::save_checkpoint("run/last.h5", model, {.optimizer = &opt, .scheduler = &sched, .loader = &loader,
//                                             .progress = {.epoch = 2, .global_step = 860},
//                                             .history = history});
//   // ... a new process builds the same model, optimizer, scheduler and loader, then:
//   io::Checkpoint ck{.optimizer = &opt, .scheduler = &sched, .loader = &loader};
//   io::load_checkpoint("run/last.h5", model, ck);    // ck.progress, ck.history, ck.extra filled in
//
// Groups of the file (h5dump -H shows them):
//   /model        the model's state dict (weights.h), PyTorch's dotted names
//   /optimizer    Optimizer::state_dict() (state.<i>.<slot>, param_groups.<g>.<option>); attribute `name`
//   /scheduler    LRScheduler::state_dict()
//   /grad_scaler  GradScaler::state_dict()
//   /loader       DataLoader::state_dict() (seed, epoch, position: batches of the epoch delivered)
//   /rng          the default generator: seed, offset (i64, the u64 bits)
//   /progress     epoch, global_step (i64 0-d)
//   /history      one f64 vector per metric
//   /extra        the user's key/values: integers (i64 0-d), reals (f64 0-d), strings, tensors
// Only the parts given are written; loading fills the parts given and requires the file to have them.
// The objects must be built as for the run that saved (same model, optimizer kind and groups, scheduler
// kind and options, loader dataset and options); their state then continues exactly. Depends on nn, optim,
// data and the HDF5 C library (in the .cpp only).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "kiln/data/loader.h"
#include "kiln/nn/io/weights.h"
#include "kiln/nn/module.h"
#include "kiln/optim/grad_scaler.h"
#include "kiln/optim/lr_scheduler.h"
#include "kiln/optim/optimizer.h"

namespace kiln::nn::io {

// Where training stands: epochs completed and optimizer steps taken.
struct TrainingProgress {
  int64_t epoch = 0;
  int64_t global_step = 0;
};
// Metric name -> one value per epoch (a Keras History's `history` dict).
using History = std::map<std::string, std::vector<double>>;
using ExtraValue = std::variant<int64_t, double, std::string, Tensor>;
using Extra = std::map<std::string, ExtraValue>;

// The parts of a checkpoint besides the model. The pointers are borrowed: saving reads their state,
// loading writes it. rng: also save / restore the default generator (dropout, random init, draws).
struct Checkpoint {
  optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* scheduler = nullptr;
  optim::GradScaler* grad_scaler = nullptr;
  data::DataLoader* loader = nullptr;
  bool rng = true;
  TrainingProgress progress = {};
  History history = {};
  Extra extra = {};
};

// Writes the checkpoint atomically (temporary file in the same folder, fsync, rename, fsync the folder):
// at every moment `path` holds the previous complete file or the new one. Tensors stream one at a time
// from their devices. Throws kiln::Error naming the path and what failed (the old file is then untouched).
void save_checkpoint(const std::string& path, const Module& model, const Checkpoint& parts);
// The short form: model, optimizer, scheduler (may be null) and user key/values.
void save_checkpoint(const std::string& path, const Module& model, optim::Optimizer& optimizer,
                     optim::LRScheduler* scheduler = nullptr, const Extra& extra = {});

// Reads and verifies the whole file (every checksum, every name, dtype and shape against the model) before
// changing anything, then restores the model and every part given, and fills progress, history and extra.
// strict = false loads the model entries that match and returns the report; the other parts always load
// strictly. kiln::Error for a missing part, a mismatch (strict) or a bad file.
LoadReport load_checkpoint(const std::string& path, Module& model, Checkpoint& parts,
                           const LoadOptions& options = {});

}  // namespace kiln::nn::io
