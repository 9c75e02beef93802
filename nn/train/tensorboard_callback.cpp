#include "kiln/nn/train/tensorboard_callback.h"

#include <filesystem>
#include <iostream>

#include "kiln/autograd/engine.h"
#include "kiln/data/loader.h"
#include "kiln/nn/log/summary_writer.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/module.h"
#include "kiln/nn/train/fit.h"
#include "kiln/nn/train/fit_hparams.h"
#include "kiln/optim/optimizer.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {
namespace {

std::string join(const std::string& dir, const std::string& sub) {
  return (std::filesystem::path(dir) / sub).string();
}

// Keras's tag for an epoch log: epoch_loss, epoch_accuracy; "lr" is epoch_learning_rate.
std::string epoch_tag(const std::string& key) { return key == "lr" ? "epoch_learning_rate" : "epoch_" + key; }

}  // namespace

TensorBoard::TensorBoard(TensorBoardOptions options) : o_(std::move(options)) {
  KILN_CHECK(!o_.log_dir.empty(), "TensorBoard: log_dir is empty");
  KILN_CHECK(o_.update_freq >= 0 && o_.histogram_freq >= 0 && o_.sample_images >= 0,
             "TensorBoard: update_freq, histogram_freq and sample_images must be >= 0, got ", o_.update_freq,
             ", ", o_.histogram_freq, ", ", o_.sample_images);
}

TensorBoard::~TensorBoard() = default;

void TensorBoard::on_train_begin(TrainContext& c) {
  if (!c.is_main_process()) return;
  logs::SummaryWriterOptions w{.flush_secs = o_.flush_secs};
  train_ = std::make_unique<logs::SummaryWriter>(join(o_.log_dir, "train"), w);
  validation_ = std::make_unique<logs::SummaryWriter>(join(o_.log_dir, "validation"), w);
  hparams_ = fit_hparams(c);
  for (const auto& [k, v] : o_.hparams) hparams_.insert_or_assign(k, v);
  if (o_.sample_images > 0) write_sample_images(c);
}

void TensorBoard::write_sample_images(TrainContext& c) {
  if (!c.train_loader) return;
  const data::DatasetPtr& ds = c.train_loader->dataset();
  int64_t n = std::min<int64_t>(o_.sample_images, ds->size());
  std::vector<int64_t> indices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  Tensor x = ds->get_batch(indices).x;
  // Images are (N, C, H, W) with a channel count TensorBoard shows; anything else (tabular rows,
  // sequences) has no picture.
  if (x.dim() != 4 || !(x.size(1) == 1 || x.size(1) == 3 || x.size(1) == 4)) return;
  for (int64_t i = 0; i < n; ++i) {
    Tensor img = x.select(0, i).to(DType::f64);
    if (is_floating(x.dtype())) {
      // Rescale to [0, 1] per image: inputs are often standardized (negative values).
      std::vector<double> v = img.to_vector<double>();
      auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      double range = *hi - *lo;
      img = range > 0 ? (img - *lo) / range : zeros_like(img);
    }
    train_->add_image("samples/" + std::to_string(i), img, c.initial_epoch);
  }
}

void TensorBoard::on_batch_end(TrainContext& c) {
  if (!train_ || o_.update_freq == 0 || !c.last_loss.defined()) return;
  // global_step was incremented by this batch's optimizer step.
  if (c.global_step % o_.update_freq == 0)
    train_->add_scalar("batch_loss", c.last_loss.item<double>(), c.global_step);
}

void TensorBoard::on_epoch_end(TrainContext& c, Logs& logs) {
  if (!train_) return;
  for (const auto& [key, value] : logs) {
    if (key.rfind("val_", 0) == 0)
      validation_->add_scalar(epoch_tag(key.substr(4)), value, c.epoch);
    else
      train_->add_scalar(epoch_tag(key), value, c.epoch);
  }
  if (o_.histogram_freq > 0 && c.epoch % o_.histogram_freq == 0) {
    // Diverged weights (NaN) must not end the training that TerminateOnNaN or the user may handle.
    try {
      write_histograms(c);
    } catch (const Error& e) {
      std::cerr << "kiln TensorBoard callback: histograms of epoch " << c.epoch << " skipped: " << e.what()
                << "\n";
    }
  }
}

void TensorBoard::write_histograms(TrainContext& c) {
  if (!c.model) return;
  auto params = c.model->named_parameters();
  for (const auto& [name, p] : params) train_->add_histogram("weights/" + name, p.detach(), c.epoch);
  if (!o_.write_gradients || !c.train_loader) return;

  const data::DatasetPtr& ds = c.train_loader->dataset();
  int64_t n = std::min<int64_t>(
      std::max<int64_t>(c.samples_seen / std::max<int64_t>(c.steps_per_epoch, 1), 1), ds->size());
  std::vector<int64_t> indices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  data::Batch batch = ds->get_batch(indices);
  std::vector<Tensor> saved;
  for (const auto& [name, p] : params) {
    saved.push_back(p.grad());
    p.set_grad(Tensor());
  }
  const bool was_training = c.model->is_training();
  c.model->eval();
  try {
    Tensor out = (*c.model)(batch.x.to(c.device));
    Tensor y = batch.y.to(c.device);
    Tensor loss =
        c.options && c.options->loss ? c.options->loss(out, y) : nn::functional::cross_entropy(out, y);
    loss.backward();
    for (const auto& [name, p] : params)
      if (p.grad().defined()) train_->add_histogram("gradients/" + name, p.grad(), c.epoch);
  } catch (...) {
    c.model->train(was_training);
    for (size_t i = 0; i < params.size(); ++i) params[i].second.set_grad(saved[i]);
    throw;
  }
  c.model->train(was_training);
  for (size_t i = 0; i < params.size(); ++i) params[i].second.set_grad(saved[i]);
}

void TensorBoard::on_train_end(TrainContext& c, const Logs& logs) {
  if (!train_) return;
  std::map<std::string, double> metrics;
  for (const auto& [key, value] : logs)
    if (key != "lr") metrics["hparam/" + key] = value;
  if (!hparams_.empty() && !metrics.empty()) {
    logs::SummaryWriter root(o_.log_dir, {.flush_secs = o_.flush_secs});
    root.add_hparams(hparams_, metrics, ".");
    root.close();
  }
  train_->close();
  validation_->close();
}

}  // namespace kiln::nn::train
