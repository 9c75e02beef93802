// fit / evaluate / predict. The training step is the hand-written loop of the demo, made general: the
// batch's loss and metrics are accumulated on the device and read once per epoch, so the loop adds no
// host synchronization to a step (on the CPU the loss is read per batch for the NaN diagnosis; that read
// is free there, the value being computed already).
#include "kiln/nn/train/fit.h"

#include <cmath>
#include <iostream>
#include <limits>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/classic/imbalance.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/train/diagnostics.h"
#include "kiln/nn/train/progress_bar.h"
#include "kiln/optim/clip_grad.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/random.h"

namespace kiln::nn::train {

Device resolve_device(const nn::Module& model, const std::optional<Device>& requested) {
  if (requested) return *requested;
  for (const auto& p : model.parameters()) return p.device();
  for (const auto& b : model.buffers()) return b.device();
  return Device::cpu();
}

namespace {

constexpr int64_t kGradNormEvery = 8;  // steps between the sampled gradient norms of the diagnostics

LossFn cross_entropy_loss(Tensor weight) {
  return [weight](const Tensor& output, const Tensor& target) {
    KILN_CHECK(output.dim() >= 2,
               "fit: the default loss (cross-entropy) needs class scores (N, K), got output ",
               shape_str(output.shape()), "; pass FitOptions::loss for other models");
    nn::functional::CrossEntropyOptions o;
    if (weight.defined()) o.weight = weight.device() == output.device() ? weight : weight.to(output.device());
    return nn::functional::cross_entropy(output, target, o);
  };
}

// The ranks' combined metric state (sum or concatenation) before compute().
void reduce_states(Metric& m, const Distributed& d) {
  if (d.world_size <= 1) return;
  for (MetricState s : m.states()) {
    if (!s.tensor->defined()) continue;
    if (s.reduction == StateReduction::sum && d.all_reduce_sum) d.all_reduce_sum(*s.tensor);
    if (s.reduction == StateReduction::concat && d.all_gather) *s.tensor = d.all_gather(*s.tensor);
  }
}

std::vector<MetricPtr> resolve_metrics(const std::vector<MetricSpec>& specs) {
  std::vector<MetricPtr> out;
  for (const auto& s : specs) out.push_back(s.resolve());
  return out;
}

void check_scalar_loss(const Tensor& loss, const char* who) {
  KILN_CHECK(loss.defined() && loss.numel() == 1 && loss.dim() <= 1, who,
             ": the loss (FitOptions::loss) must return a scalar (0-d) tensor, got ",
             loss.defined() ? shape_str(loss.shape()) : std::string("an undefined tensor"),
             "; reduce it with mean() or sum()");
  KILN_CHECK(is_floating(loss.dtype()), who, ": the loss must be floating, got ", dtype_name(loss.dtype()));
}

// Per-class weights from FitOptions::class_weight (none, a tensor, or "balanced").
Tensor class_weights(const ClassWeight& cw, const data::Dataset& train) {
  if (std::holds_alternative<std::monostate>(cw)) return Tensor();
  if (const Tensor* t = std::get_if<Tensor>(&cw)) {
    KILN_CHECK(t->defined() && t->dim() == 1 && is_floating(t->dtype()),
               "FitOptions::class_weight: expected a floating (K) tensor, got ",
               t->defined() ? shape_str(t->shape()) : std::string("an undefined tensor"));
    return t->to(DType::f32);
  }
  const std::string& name = std::get<std::string>(cw);
  KILN_CHECK(name == "balanced", "FitOptions::class_weight: expected a tensor or \"balanced\", got \"", name,
             "\"");
  Tensor y = train.targets();
  KILN_CHECK(y.defined() && y.dim() == 1 && !is_floating(y.dtype()),
             "FitOptions::class_weight = \"balanced\" needs integer class labels (N) as training targets");
  y = y.to(DType::i64);
  const int64_t k = y.max().item<int64_t>() + 1;
  KILN_CHECK(y.min().item<int64_t>() >= 0, "FitOptions::class_weight = \"balanced\": labels must be >= 0");
  // scikit-learn's n / (K * count) over the classes present; an absent class keeps weight 1.
  std::vector<int64_t> counts(static_cast<size_t>(k), 0);
  for (int64_t v : y.to_vector<int64_t>()) ++counts[static_cast<size_t>(v)];
  std::vector<int64_t> present;
  for (int64_t c = 0; c < k; ++c)
    if (counts[static_cast<size_t>(c)] > 0) present.push_back(c);
  Tensor w = classic::compute_class_weight("balanced", from_vector(present), y);
  std::vector<float> full_w(static_cast<size_t>(k), 1.0f);
  auto wv = w.to_vector<double>();
  for (size_t i = 0; i < present.size(); ++i)
    full_w[static_cast<size_t>(present[i])] = static_cast<float>(wv[i]);
  return from_vector(full_w);
}

// The sum of squared gradient elements over every parameter, as a 0-d f64 tensor on their device (an
// undefined tensor when no parameter has a gradient).
Tensor grad_norm(const std::vector<Tensor>& params) {
  autograd::NoGradGuard no_grad;
  Tensor total;
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor s = g.to(DType::f64).square().sum();
    total = total.defined() ? total + s : s;
  }
  return total.defined() ? total.sqrt() : total;
}

// The shape of one example's features, for the training/validation consistency check.
Shape example_shape(const data::Dataset& ds) {
  if (ds.size() == 0) return {};
  return ds.get(0).x.shape();
}

// One validation / evaluation pass.
struct EvalPass {
  Logs logs;
  Tensor y_true, y_pred;  // class labels and predictions (CPU i64), when collect_predictions
};

EvalPass run_evaluation(nn::Module& model, data::DataLoader& loader, const LossFn& loss_fn,
                        std::vector<MetricPtr>& metrics, Device device, std::optional<int64_t> steps,
                        bool autocast_on, DType autocast_dtype, const Distributed& dist,
                        bool collect_predictions, const char* who) {
  const bool was_training = model.is_training();
  model.eval();
  autograd::NoGradGuard no_grad;
  Mean loss_mean("loss");
  for (auto& m : metrics) m->reset();
  std::vector<Tensor> trues, preds;
  int64_t n = 0;
  try {
    for (auto& batch : loader) {
      if (steps && n >= *steps) break;
      Tensor x = batch.x.to(device), y = batch.y.defined() ? batch.y.to(device) : Tensor();
      Tensor out;
      {
        std::optional<autocast::Guard> guard;
        if (autocast_on) guard.emplace(device, autocast_dtype);
        out = model(x);
        if (y.defined()) {
          Tensor loss = loss_fn(out, y);
          check_scalar_loss(loss, who);
          loss_mean.update(loss, x.size(0));
        }
      }
      if (y.defined()) {
        for (auto& m : metrics) m->update(out, y);
        if (collect_predictions && out.dim() == 2 && out.size(1) >= 2) {
          trues.push_back(y.reshape({-1}).to(DType::i64));
          preds.push_back(out.argmax(1));
        }
      }
      ++n;
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  KILN_CHECK(n > 0, who, ": the loader yielded no batches (an empty dataset?)");
  EvalPass r;
  reduce_states(loss_mean, dist);
  r.logs["loss"] = loss_mean.compute();
  for (auto& m : metrics) {
    reduce_states(*m, dist);
    r.logs[m->name()] = m->compute();
  }
  if (!trues.empty()) {
    r.y_true = cat(trues, 0).to(Device::cpu());
    r.y_pred = cat(preds, 0).to(Device::cpu());
  }
  return r;
}

// Everything fit needs once the loaders exist.
struct FitRun {
  nn::Module& model;
  optim::Optimizer& optimizer;
  data::DataLoader& train_loader;
  data::DataLoader* val_loader;
  data::DatasetPtr val_dataset;
  const FitOptions& o;
};

void validate_options(const FitOptions& o) {
  KILN_CHECK(o.epochs >= 0, "FitOptions::epochs must be >= 0, got ", o.epochs);
  KILN_CHECK(o.initial_epoch >= 0, "FitOptions::initial_epoch must be >= 0, got ", o.initial_epoch);
  KILN_CHECK(o.epochs >= o.initial_epoch, "FitOptions::epochs (", o.epochs, ") must be >= initial_epoch (",
             o.initial_epoch, "): fit runs epochs initial_epoch .. epochs - 1");
  KILN_CHECK(!o.steps_per_epoch || *o.steps_per_epoch > 0, "FitOptions::steps_per_epoch must be > 0, got ",
             o.steps_per_epoch.value_or(0));
  KILN_CHECK(!o.validation_steps || *o.validation_steps > 0, "FitOptions::validation_steps must be > 0, got ",
             o.validation_steps.value_or(0));
  KILN_CHECK(o.validation_freq >= 1, "FitOptions::validation_freq must be >= 1, got ", o.validation_freq);
  KILN_CHECK(o.validation_batch_size >= 1, "FitOptions::validation_batch_size must be >= 1, got ",
             o.validation_batch_size);
  KILN_CHECK(o.gradient_accumulation_steps >= 1, "FitOptions::gradient_accumulation_steps must be >= 1, got ",
             o.gradient_accumulation_steps);
  KILN_CHECK(!o.clip_grad_norm || *o.clip_grad_norm > 0, "FitOptions::clip_grad_norm must be > 0, got ",
             o.clip_grad_norm.value_or(0));
  KILN_CHECK(!o.clip_grad_value || *o.clip_grad_value > 0, "FitOptions::clip_grad_value must be > 0, got ",
             o.clip_grad_value.value_or(0));
  KILN_CHECK(o.verbose >= 0 && o.verbose <= 2, "FitOptions::verbose must be 0, 1 or 2, got ", o.verbose);
  KILN_CHECK(o.distributed.world_size >= 1 && o.distributed.rank >= 0 &&
                 o.distributed.rank < o.distributed.world_size,
             "FitOptions::distributed: rank ", o.distributed.rank,
             " must lie in [0, world_size = ", o.distributed.world_size, ")");
  for (const auto& c : o.callbacks) KILN_CHECK(c != nullptr, "FitOptions::callbacks holds a null callback");
}

bool steps_per_batch(const FitOptions& o) {
  if (!o.scheduler) return false;
  if (o.scheduler_interval != StepInterval::automatic) return o.scheduler_interval == StepInterval::batch;
  return dynamic_cast<optim::OneCycleLR*>(o.scheduler) != nullptr;
}

History run_fit(FitRun& run) {
  const FitOptions& o = run.o;
  nn::Module& model = run.model;
  optim::Optimizer& opt = run.optimizer;
  data::DataLoader& loader = run.train_loader;
  KILN_CHECK(loader.dataset() && loader.dataset()->size() > 0 && loader.size() > 0,
             "fit: the training loader is empty (", loader.dataset() ? loader.dataset()->size() : 0,
             " examples): nothing to train on");
  if (run.val_loader) {
    KILN_CHECK(run.val_loader->size() > 0, "fit: the validation loader is empty (no batches)");
    Shape tr = example_shape(*loader.dataset()), va = example_shape(*run.val_loader->dataset());
    KILN_CHECK(tr == va, "fit: validation examples have feature shape ", shape_str(va),
               " but training examples have ", shape_str(tr), " (the validation argument)");
  }

  const Device device = resolve_device(model, o.device);
  const data::Dataset& train_ds = *loader.dataset();
  LossFn loss_fn = o.loss;
  const bool default_loss = !loss_fn;
  Tensor weights = class_weights(o.class_weight, train_ds);
  KILN_CHECK(
      !weights.defined() || default_loss,
      "FitOptions::class_weight works with the default cross-entropy loss; with a custom FitOptions::loss "
      "put the weights into the loss itself");
  if (default_loss) loss_fn = cross_entropy_loss(weights.defined() ? weights.to(device) : Tensor());
  LossFn val_loss_fn = default_loss ? cross_entropy_loss(Tensor()) : o.loss;
  std::vector<MetricPtr> metrics = resolve_metrics(o.metrics), val_metrics = resolve_metrics(o.metrics);

  History history = o.history;
  TrainContext ctx;
  ctx.model = &model;
  ctx.optimizer = &opt;
  ctx.scheduler = o.scheduler;
  ctx.train_loader = &loader;
  ctx.validation_loader = run.val_loader;
  ctx.options = &o;
  ctx.history = &history;
  ctx.device = device;
  ctx.epochs = o.epochs;
  ctx.initial_epoch = o.initial_epoch;
  ctx.steps_per_epoch = o.steps_per_epoch.value_or(loader.size());
  ctx.global_step = o.initial_epoch * ((ctx.steps_per_epoch + o.gradient_accumulation_steps - 1) /
                                       o.gradient_accumulation_steps);
  ctx.rank = o.distributed.rank;
  ctx.world_size = o.distributed.world_size;
  ctx.verbose = o.verbose;
  ctx.out = o.out;

  Mean loss_mean("loss");
  ctx.running_logs = [&]() {
    Logs l;
    l["loss"] = loss_mean.compute();
    for (auto& m : metrics) l[m->name()] = m->compute();
    return l;
  };

  std::vector<CallbackPtr> callbacks = o.callbacks;
  bool has_bar = false;
  for (const auto& c : callbacks) has_bar = has_bar || dynamic_cast<ProgressBar*>(c.get()) != nullptr;
  if (o.verbose > 0 && !has_bar)
    callbacks.push_back(std::make_shared<ProgressBar>(ProgressBarOptions{.verbose = o.verbose}));

  const bool per_batch_schedule = steps_per_batch(o);
  const std::vector<Tensor> params = opt.all_params();
  TrainingRecord record;
  record.seeded = default_generator().seed() != Generator().seed();
  record.loss_kind = default_loss ? "cross_entropy" : "custom";
  std::vector<Tensor> device_losses, device_norms;  // read once per epoch

  // steps_per_epoch continues the loader's epoch across fit epochs; without it every fit epoch is one
  // loader epoch, numbered like the fit epoch (so a resumed fit sees the same orders).
  std::optional<data::DataLoader::Iterator> it;
  auto next_batch = [&]() -> data::Batch* {
    if (it) {
      ++*it;
      if (!(*it == loader.end())) return &**it;
    }
    it.emplace(loader.begin());
    return *it == loader.end() ? nullptr : &**it;
  };

  for (auto& c : callbacks) c->on_train_begin(ctx);
  Logs last_logs;
  for (int64_t epoch = o.initial_epoch; epoch < o.epochs && !ctx.stop_training; ++epoch) {
    ctx.epoch = epoch;
    ctx.batch = 0;
    ctx.samples_seen = 0;
    if (!o.steps_per_epoch) {
      loader.set_epoch(epoch);
      it.reset();
    }
    model.train();
    loss_mean.reset();
    for (auto& m : metrics) m->reset();
    for (auto& c : callbacks) c->on_epoch_begin(ctx);
    const double epoch_lr = opt.lr();

    int64_t accumulated = 0;
    for (int64_t b = 0; b < ctx.steps_per_epoch; ++b) {
      data::Batch* batch = next_batch();
      if (!batch) break;
      ctx.batch = b;
      for (auto& c : callbacks) c->on_batch_begin(ctx);
      Tensor x = batch->x.to(device), y = batch->y.to(device);
      const int64_t n = x.size(0);
      Tensor out, loss;
      {
        std::optional<autocast::Guard> guard;
        if (o.autocast) guard.emplace(device, o.autocast_dtype);
        out = model(x);
        loss = loss_fn(out, y);
      }
      check_scalar_loss(loss, "fit");
      if (device.is_cpu()) {
        const double v = loss.item<double>();
        record.batch_losses.push_back(v);
        if (!std::isfinite(v) && !record.first_non_finite_batch) {
          record.first_non_finite_batch = ctx.global_step;
          record.first_non_finite_epoch = epoch;
          record.first_non_finite_module = first_non_finite_module(model, x);
          model.train();
        }
      } else {
        device_losses.push_back(loss.detach());
      }
      Tensor to_backward = o.gradient_accumulation_steps > 1
                               ? loss / static_cast<double>(o.gradient_accumulation_steps)
                               : loss;
      if (o.grad_scaler) to_backward = o.grad_scaler->scale(to_backward);
      to_backward.backward();
      ++accumulated;
      const bool last_of_epoch = b + 1 == ctx.steps_per_epoch;
      if (accumulated == o.gradient_accumulation_steps || last_of_epoch) {
        if (o.grad_scaler && (o.clip_grad_norm || o.clip_grad_value)) o.grad_scaler->unscale_(opt);
        Tensor norm;
        if (o.clip_grad_norm)
          norm = optim::clip_grad_norm_tensor_(params, *o.clip_grad_norm);
        else if (o.diagnostics && ctx.global_step % kGradNormEvery == 0)
          norm = grad_norm(params);
        if (o.clip_grad_value) optim::clip_grad_value_(params, *o.clip_grad_value);
        if (o.diagnostics && norm.defined() && ctx.global_step % kGradNormEvery == 0)
          device_norms.push_back(norm);
        if (o.grad_scaler) {
          o.grad_scaler->step(opt);
          o.grad_scaler->update();
        } else {
          opt.step();
        }
        opt.zero_grad();
        if (per_batch_schedule) o.scheduler->step();
        ++ctx.global_step;
        accumulated = 0;
      }
      {
        autograd::NoGradGuard no_grad;
        Tensor detached = loss.detach();
        loss_mean.update(detached, n);
        Tensor out_d = out.detach();
        for (auto& m : metrics) m->update(out_d, y);
        ctx.last_loss = detached;
      }
      ctx.samples_seen += n;
      for (auto& c : callbacks) c->on_batch_end(ctx);
      if (ctx.stop_training) break;
    }
    if (o.scheduler && !per_batch_schedule) o.scheduler->step();

    if (!device_losses.empty()) {
      for (double v : stack(device_losses).to(DType::f64).to(Device::cpu()).to_vector<double>()) {
        if (!std::isfinite(v) && !record.first_non_finite_batch) {
          record.first_non_finite_batch = static_cast<int64_t>(record.batch_losses.size());
          record.first_non_finite_epoch = epoch;
        }
        record.batch_losses.push_back(v);
      }
      device_losses.clear();
    }
    if (!device_norms.empty()) {
      for (double v : stack(device_norms).to(DType::f64).to(Device::cpu()).to_vector<double>())
        record.grad_norms.push_back(v);
      device_norms.clear();
    }

    Logs logs;
    reduce_states(loss_mean, o.distributed);
    logs["loss"] = loss_mean.compute();
    for (auto& m : metrics) {
      reduce_states(*m, o.distributed);
      logs[m->name()] = m->compute();
    }
    logs["lr"] = epoch_lr;

    const bool validate =
        run.val_loader && ((epoch + 1 - o.initial_epoch) % o.validation_freq == 0 || epoch + 1 == o.epochs);
    if (validate) {
      for (auto& c : callbacks) c->on_validation_begin(ctx);
      EvalPass v =
          run_evaluation(model, *run.val_loader, val_loss_fn, val_metrics, device, o.validation_steps,
                         o.autocast, o.autocast_dtype, o.distributed, default_loss, "fit (validation)");
      for (const auto& [k, val] : v.logs) logs["val_" + k] = val;
      if (v.y_true.defined()) history.set_validation_predictions(v.y_true, v.y_pred);
      for (auto& c : callbacks) c->on_validation_end(ctx, v.logs);
    }
    // The History holds this epoch while the callbacks run (a checkpoint saves it), and whatever they add.
    history.append(epoch, logs);
    for (auto& c : callbacks) c->on_epoch_end(ctx, logs);
    history.set_last(logs);
    last_logs = logs;
  }
  for (auto& c : callbacks) c->on_train_end(ctx, last_logs);

  if (o.diagnostics) {
    data::DatasetPtr val_ds = run.val_dataset  ? run.val_dataset
                              : run.val_loader ? run.val_loader->dataset()
                                               : nullptr;
    std::vector<Finding> findings = diagnose(model, history, record, loader.dataset(), val_ds);
    if (o.verbose > 0 && ctx.is_main_process()) {
      std::ostream& os = o.out ? *o.out : std::cout;
      os << format_findings(findings) << std::flush;
    }
    history.set_diagnostics(std::move(findings));
  }
  return history;
}

}  // namespace

History fit(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& train_loader,
            const Validation& validation, const FitOptions& options) {
  validate_options(options);
  KILN_CHECK(
      !validation.split_fraction(),
      "fit: Validation::split needs the dataset form fit(model, optimizer, dataset, loader_options, ...), "
      "which builds the training loader from the remaining examples");
  std::unique_ptr<data::DataLoader> own_val;
  data::DataLoader* val = validation.loader();
  if (!val && validation.dataset()) {
    KILN_CHECK(validation.dataset()->size() > 0, "fit: the validation dataset is empty");
    own_val = std::make_unique<data::DataLoader>(
        validation.dataset(), data::LoaderOptions{.batch_size = options.validation_batch_size, .seed = 0});
    val = own_val.get();
  }
  FitRun run{model, optimizer, train_loader, val, nullptr, options};
  return run_fit(run);
}

History fit(nn::Module& model, optim::Optimizer& optimizer, data::DatasetPtr train,
            const data::LoaderOptions& loader, const Validation& validation, const FitOptions& options) {
  validate_options(options);
  KILN_CHECK(train && train->size() > 0, "fit: the training dataset is empty");
  if (auto f = validation.split_fraction()) {
    KILN_CHECK(*f > 0 && *f < 1, "fit: Validation::split fraction must lie in (0, 1), got ", *f);
    Generator& g = default_generator();
    const uint64_t seed = g.seed() ^ (0x9E3779B97F4A7C15ull * (g.advance(1) + 1));
    auto parts = data::random_split(train, {1.0 - *f, *f}, seed);
    KILN_CHECK(parts[1].size() > 0 && parts[0].size() > 0, "fit: Validation::split(", *f, ") of ",
               train->size(), " examples leaves an empty training or validation part");
    data::DataLoader tl(std::make_shared<data::Subset>(parts[0]), loader);
    auto val_ds = std::make_shared<data::Subset>(parts[1]);
    data::DataLoader vl(val_ds, {.batch_size = options.validation_batch_size, .seed = 0});
    FitRun run{model, optimizer, tl, &vl, val_ds, options};
    return run_fit(run);
  }
  data::DataLoader tl(train, loader);
  return fit(model, optimizer, tl, validation, options);
}

Logs evaluate(nn::Module& model, data::DataLoader& loader, const EvaluateOptions& options) {
  KILN_CHECK(!options.steps || *options.steps > 0, "EvaluateOptions::steps must be > 0, got ",
             options.steps.value_or(0));
  KILN_CHECK(loader.size() > 0, "evaluate: the loader is empty (no batches)");
  LossFn loss_fn = options.loss ? options.loss : cross_entropy_loss(Tensor());
  std::vector<MetricPtr> metrics = resolve_metrics(options.metrics);
  return run_evaluation(model, loader, loss_fn, metrics, resolve_device(model, options.device), options.steps,
                        options.autocast, options.autocast_dtype, options.distributed, false, "evaluate")
      .logs;
}

Logs evaluate(nn::Module& model, data::DatasetPtr dataset, const EvaluateOptions& options) {
  KILN_CHECK(dataset && dataset->size() > 0, "evaluate: the dataset is empty");
  KILN_CHECK(options.batch_size >= 1, "EvaluateOptions::batch_size must be >= 1, got ", options.batch_size);
  data::DataLoader loader(dataset, {.batch_size = options.batch_size, .seed = 0});
  return evaluate(model, loader, options);
}

Tensor predict(nn::Module& model, data::DataLoader& loader, const PredictOptions& options) {
  KILN_CHECK(!options.steps || *options.steps > 0, "PredictOptions::steps must be > 0, got ",
             options.steps.value_or(0));
  KILN_CHECK(loader.size() > 0, "predict: the loader is empty (no batches)");
  const Device device = resolve_device(model, options.device);
  const bool was_training = model.is_training();
  model.eval();
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> outs;
  try {
    int64_t n = 0;
    for (auto& batch : loader) {
      if (options.steps && n++ >= *options.steps) break;
      std::optional<autocast::Guard> guard;
      if (options.autocast) guard.emplace(device, options.autocast_dtype);
      outs.push_back(model(batch.x.to(device)));
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return cat(outs, 0);
}

Tensor predict(nn::Module& model, data::DatasetPtr dataset, const PredictOptions& options) {
  KILN_CHECK(dataset && dataset->size() > 0, "predict: the dataset is empty");
  KILN_CHECK(options.batch_size >= 1, "PredictOptions::batch_size must be >= 1, got ", options.batch_size);
  data::DataLoader loader(dataset, {.batch_size = options.batch_size, .seed = 0});
  return predict(model, loader, options);
}

Tensor predict(nn::Module& model, const Tensor& x, const PredictOptions& options) {
  KILN_CHECK(x.defined() && x.dim() >= 1 && x.size(0) > 0, "predict: x must be a non-empty batch (N, ...)");
  return predict(model, std::make_shared<data::TensorDataset>(x), options);
}

}  // namespace kiln::nn::train
