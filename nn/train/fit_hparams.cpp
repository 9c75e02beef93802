#include "kiln/nn/train/fit_hparams.h"

#include "kiln/data/loader.h"
#include "kiln/nn/train/fit.h"
#include "kiln/optim/optimizer.h"

namespace kiln::nn::train {

logs::HParams fit_hparams(const TrainContext& c) {
  logs::HParams h;
  if (c.optimizer) {
    h.insert_or_assign("optimizer", logs::HParamValue(c.optimizer->name()));
    for (const auto& [name, value] : c.optimizer->defaults().items())
      h.insert_or_assign(name, logs::HParamValue(c.optimizer->option(0, name)));
  }
  h.insert_or_assign("epochs", logs::HParamValue(c.epochs));
  if (c.initial_epoch != 0) h.insert_or_assign("initial_epoch", logs::HParamValue(c.initial_epoch));
  h.insert_or_assign("steps_per_epoch", logs::HParamValue(c.steps_per_epoch));
  if (c.train_loader)
    h.insert_or_assign("train_samples", logs::HParamValue(c.train_loader->dataset()->size()));
  if (const FitOptions* o = c.options) {
    if (o->clip_grad_norm) h.insert_or_assign("clip_grad_norm", logs::HParamValue(*o->clip_grad_norm));
    if (o->clip_grad_value) h.insert_or_assign("clip_grad_value", logs::HParamValue(*o->clip_grad_value));
    if (o->gradient_accumulation_steps != 1)
      h.insert_or_assign("gradient_accumulation_steps", logs::HParamValue(o->gradient_accumulation_steps));
    if (o->autocast) h.insert_or_assign("autocast", logs::HParamValue(true));
    h.insert_or_assign("scheduler", logs::HParamValue(o->scheduler != nullptr));
  }
  return h;
}

}  // namespace kiln::nn::train
