// kiln/nn/train/tensorboard_callback.h: the TensorBoard callback (Keras's keras.callbacks.TensorBoard),
// TensorBoard logs of a fit through kiln::logs::SummaryWriter.
//
//   train::fit(model, opt, loader, val, {.epochs = 10, .metrics = {"accuracy"},
//              .callbacks = {std::make_shared<train::TensorBoard>(train::TensorBoardOptions{
//                  .log_dir = "runs/mlp", .update_freq = 100})}});
//   // then: tensorboard --logdir runs
//
// Layout, as Keras writes it so the training and validation curves share a chart: `<log_dir>/train`
// holds epoch_<key> for every training log (epoch_loss, epoch_accuracy, epoch_learning_rate), batch_loss
// every `update_freq` optimizer steps, the weight and gradient histograms and the sample images;
// `<log_dir>/validation` holds epoch_<key> for the val_ logs; `<log_dir>` itself holds the run's
// hyperparameters (from the fit options, the optimizer and TensorBoardOptions::hparams) with its final
// metrics, for TensorBoard's HPARAMS table. Only the main process (rank 0) writes.
//
// Gradient histograms: fit zeroes the gradients right after each optimizer step, before callbacks run,
// so at the end of every `histogram_freq`-th epoch (0, N, 2N, ...) this callback computes the gradients of
// the loss on the first training batch itself, in eval mode (no dropout draws, no batch-norm statistics
// updates, the parameters' gradients restored afterwards), so training is unchanged bit for bit.
#pragma once

#include <memory>
#include <string>

#include "kiln/nn/log/hparams.h"
#include "kiln/nn/train/callback.h"

namespace kiln::logs {
class SummaryWriter;
}

namespace kiln::nn::train {

struct TensorBoardOptions {
  std::string log_dir = "runs";
  int64_t update_freq = 0;     // batch_loss every N optimizer steps; 0: epochs only
  int64_t histogram_freq = 1;  // weight and gradient histograms every N epochs; 0: none
  bool write_gradients = true;
  int64_t sample_images = 3;   // images from the first training batch (N, C, H, W with C in 1, 3, 4); 0: none
  logs::HParams hparams = {};  // added to those read from the fit options and the optimizer
  double flush_secs = 5.0;
};

class TensorBoard : public Callback {
 public:
  explicit TensorBoard(TensorBoardOptions options = {});
  ~TensorBoard() override;

  void on_train_begin(TrainContext& context) override;
  void on_batch_end(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  void on_train_end(TrainContext& context, const Logs& logs) override;

  const TensorBoardOptions& options() const { return o_; }

 private:
  void write_histograms(TrainContext& context);
  void write_sample_images(TrainContext& context);

  TensorBoardOptions o_;
  std::unique_ptr<logs::SummaryWriter> train_, validation_;
  logs::HParams hparams_;
};

}  // namespace kiln::nn::train
