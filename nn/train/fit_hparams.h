// kiln/nn/train/fit_hparams.h: the hyperparameters of a fit, for the experiment-log callbacks
// (TensorBoard's HPARAMS table, MLflow's params).
#pragma once

#include "kiln/nn/log/hparams.h"
#include "kiln/nn/train/callback.h"

namespace kiln::nn::train {

// "optimizer" (its name) and its group-0 options ("lr" as the fit starts, "weight_decay", "momentum",
// ...), "epochs", "initial_epoch", "steps_per_epoch", "train_samples", and the fit options that change
// training when set: "clip_grad_norm", "clip_grad_value", "gradient_accumulation_steps", "autocast",
// "scheduler" (present or not).
logs::HParams fit_hparams(const TrainContext& context);

}  // namespace kiln::nn::train
