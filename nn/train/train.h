// kiln/nn/train/train.h: the training loop layer: fit / evaluate / predict, metrics, callbacks, the
// progress bar, History and its plot, diagnostics and lr_find (namespace kiln::nn::train).
#pragma once

#include "kiln/nn/train/callback.h"
#include "kiln/nn/train/callbacks.h"
#include "kiln/nn/train/diagnostics.h"
#include "kiln/nn/train/finding.h"
#include "kiln/nn/train/fit.h"
#include "kiln/nn/train/fit_hparams.h"
#include "kiln/nn/train/history.h"
#include "kiln/nn/train/logs.h"
#include "kiln/nn/train/lr_find.h"
#include "kiln/nn/train/metrics.h"
#include "kiln/nn/train/mlflow_callback.h"
#include "kiln/nn/train/neural_net_estimator.h"
#include "kiln/nn/train/progress_bar.h"
#include "kiln/nn/train/tensorboard_callback.h"
#include "kiln/nn/train/train_checkpoint.h"
