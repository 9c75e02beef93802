// kiln/nn/log/summary_writer.h: kiln::logs::SummaryWriter, TensorBoard logs from C++, shaped like
// torch.utils.tensorboard.SummaryWriter.
//
//   kiln::logs::SummaryWriter tb("runs/mlp");
//   for (int64_t step = 0; ...; ++step) tb.add_scalar("loss/train", loss.item<double>(), step);
//   tb.add_histogram("fc1/weight", fc1->weight, epoch);
//   tb.add_image("samples/0", batch.x.select(0, 0), epoch);          // CHW in [0, 1], or u8
//   tb.add_hparams({{"lr", 1e-3}, {"optimizer", "adamw"}}, {{"hparam/accuracy", 0.89}});
//
// Then `tensorboard --logdir runs`. Every add_* only encodes and queues: the disk is written by a
// background thread every `flush_secs` (and on flush()/close()), so logging never waits for I/O.
// Thread-safe: several threads may log to one writer.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "kiln/nn/log/event_file.h"
#include "kiln/nn/log/hparams.h"
#include "kiln/tensor/tensor.h"

namespace kiln::logs {

struct SummaryWriterOptions {
  int max_queue = 10;       // pending events that trigger an early background write
  double flush_secs = 5.0;  // the longest an event stays in memory
  std::string filename_suffix = {};
};

struct ImageOptions {
  std::string dataformats = "CHW";  // "CHW", "HWC" or "HW", as in PyTorch
};

class SummaryWriter {
 public:
  // `log_dir` empty: runs/<Mon-DD_HH-MM-SS>_<hostname>, as PyTorch names it. Throws kiln::Error if the
  // folder or the event file cannot be created.
  explicit SummaryWriter(std::string log_dir = "", SummaryWriterOptions options = {});
  ~SummaryWriter();  // close(); errors are printed, not thrown
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  const std::string& log_dir() const { return log_dir_; }
  const std::string& event_file() const;

  // A scalar, stored as float32 (TensorBoard's simple_value). `walltime` defaults to now (seconds since
  // the epoch).
  void add_scalar(const std::string& tag, double value, int64_t step = 0,
                  std::optional<double> walltime = std::nullopt);
  // Several curves on one chart: each key becomes the run `<log_dir>/<main_tag>_<key>` with tag
  // `main_tag`, as in PyTorch.
  void add_scalars(const std::string& main_tag, const std::map<std::string, double>& values, int64_t step = 0,
                   std::optional<double> walltime = std::nullopt);
  // The histogram of every element (any dtype, any device) in TensorBoard's fixed bucket layout
  // (histogram.h). Empty or non-finite tensors are refused with kiln::Error.
  void add_histogram(const std::string& tag, const Tensor& values, int64_t step = 0,
                     std::optional<double> walltime = std::nullopt);
  // One image, PNG-encoded: 1 (gray), 3 (RGB) or 4 (RGBA) channels; floating values in [0, 1] (scaled
  // by 255 and rounded), integer values in [0, 255].
  void add_image(const std::string& tag, const Tensor& image, int64_t step = 0, ImageOptions options = {},
                 std::optional<double> walltime = std::nullopt);
  // Text, rendered as Markdown by TensorBoard's text plugin.
  void add_text(const std::string& tag, const std::string& text, int64_t step = 0,
                std::optional<double> walltime = std::nullopt);
  // A precision-recall curve: `labels` 0/1 (bool, integer or floating), `predictions` in [0, 1], same
  // number of elements; num_thresholds in [2, 10000]. Same counts as tensorboard.plugins.pr_curve.
  void add_pr_curve(const std::string& tag, const Tensor& labels, const Tensor& predictions, int64_t step = 0,
                    int num_thresholds = 127, std::optional<double> walltime = std::nullopt);
  // One row of TensorBoard's HParams table: the hyperparameters and final metrics of a run, written (as
  // PyTorch does) to the sub-run `<log_dir>/<run_name>` (default: the current time) together with the
  // metrics as scalars, so they appear as that run's columns.
  void add_hparams(const HParams& hparams, const std::map<std::string, double>& metrics,
                   std::string run_name = "", std::optional<double> walltime = std::nullopt);

  // Writes everything logged so far to disk (and fsyncs) before returning.
  void flush();
  // flush() and stop the background writers. Later add_* calls throw kiln::Error.
  void close();

 private:
  void write(const std::string& summary, int64_t step, std::optional<double> walltime);
  SummaryWriter& child(const std::string& subdir);

  std::string log_dir_;
  SummaryWriterOptions options_;
  std::unique_ptr<EventFileWriter> file_;
  std::mutex children_mutex_;
  std::map<std::string, std::unique_ptr<SummaryWriter>> children_;  // add_scalars runs, by subdirectory
};

}  // namespace kiln::logs
