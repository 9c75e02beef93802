// kiln/nn/log/log.h: experiment logs, read by the tools a team already uses: TensorBoard event files
// (SummaryWriter) and MLflow tracking (MlflowRun).
#pragma once

#include "kiln/nn/log/hparams.h"
#include "kiln/nn/log/mlflow_run.h"
#include "kiln/nn/log/summary_writer.h"
