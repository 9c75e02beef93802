// kiln/nn/train/progress_bar.h: the Keras-style progress display. On a terminal: one line per epoch
// redrawn in place per batch (at most every refresh_seconds, with "\r" and erase-to-end-of-line, so it
// never scrolls or flickers) showing the batch count, a bar fitted to the terminal width, the ETA,
// samples/s and the running loss and metrics. Not on a terminal (a log, CI) or with verbose 2: one line per
// epoch with the epoch's time and logs. Only rank 0 prints. Depends on callback.h.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "kiln/nn/train/callback.h"

namespace kiln::nn::train {

struct ProgressBarOptions {
  // Where to draw; a FILE* so the terminal test can be done through isatty and the window size.
  std::FILE* stream = stdout;
  // 1: per-batch bar on a terminal, epoch lines otherwise; 2: epoch lines always.
  int verbose = 1;
  double refresh_seconds = 0.1;
  // Terminal width; 0: asked from the terminal (TIOCGWINSZ), then $COLUMNS, then 80.
  int width = 0;
};

class ProgressBar : public Callback {
 public:
  explicit ProgressBar(ProgressBarOptions options = {});
  void on_train_begin(TrainContext& context) override;
  void on_epoch_begin(TrainContext& context) override;
  void on_batch_end(TrainContext& context) override;
  void on_epoch_end(TrainContext& context, Logs& logs) override;
  bool interactive() const { return interactive_; }

  // One formatted epoch line ("Epoch 3/15 - 4.1s - 13446 samples/s - loss: 0.3012 - ..."), for tests.
  static std::string epoch_line(int64_t epoch, int64_t epochs, double seconds, double samples_per_second,
                                const Logs& logs);

 private:
  void draw(TrainContext& context, bool final);
  int columns() const;
  ProgressBarOptions o_;
  bool interactive_ = false;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

}  // namespace kiln::nn::train
