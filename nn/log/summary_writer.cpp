#include "kiln/nn/log/summary_writer.h"

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "kiln/nn/log/png.h"
#include "kiln/nn/log/pr_curve.h"
#include "kiln/nn/log/summary.h"
#include "kiln/tensor/error.h"

namespace kiln::logs {
namespace {

std::string default_log_dir() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%b%d_%H-%M-%S", &local);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return (std::filesystem::path("runs") / (std::string(stamp) + "_" + host)).string();
}

void check_tag(const char* op, const std::string& tag) {
  KILN_CHECK(!tag.empty(), "SummaryWriter::", op, ": the tag is empty");
}

// The image as height x width x channels bytes.
struct Pixels {
  std::vector<uint8_t> bytes;
  int64_t height = 0, width = 0;
  int channels = 0;
};

Pixels to_pixels(const std::string& tag, const Tensor& image, const std::string& formats) {
  const char* where = "SummaryWriter::add_image";
  KILN_CHECK(image.defined(), where, ": tag '", tag, "': the image tensor is undefined");
  KILN_CHECK(formats == "CHW" || formats == "HWC" || formats == "HW", where, ": tag '", tag,
             "': dataformats must be \"CHW\", \"HWC\" or \"HW\", got \"", formats, "\"");
  KILN_CHECK(image.dim() == static_cast<int64_t>(formats.size()), where, ": tag '", tag, "': dataformats \"",
             formats, "\" needs a ", formats.size(), "-D tensor, got shape ", shape_str(image.shape()));
  Tensor hwc = formats == "CHW" ? image.permute({1, 2, 0}) : formats == "HW" ? image.unsqueeze(2) : image;
  Pixels p;
  p.height = hwc.size(0);
  p.width = hwc.size(1);
  int64_t c = hwc.size(2);
  KILN_CHECK(c == 1 || c == 3 || c == 4, where, ": tag '", tag, "': ", c, " channels in shape ",
             shape_str(image.shape()), " (dataformats \"", formats, "\"); TensorBoard shows 1, 3 or 4");
  KILN_CHECK(p.height > 0 && p.width > 0, where, ": tag '", tag, "': empty image of shape ",
             shape_str(image.shape()));
  p.channels = static_cast<int>(c);
  std::vector<double> values = hwc.to_vector<double>();  // row-major in HWC order
  p.bytes.resize(values.size());
  const DType dt = image.dtype();
  if (is_floating(dt)) {
    // A little slack above 1 and below 0 absorbs the rounding of a de-normalization.
    constexpr double kSlack = 1e-4;
    for (size_t i = 0; i < values.size(); ++i) {
      double v = values[i];
      KILN_CHECK(v >= -kSlack && v <= 1.0 + kSlack, where, ": tag '", tag, "': a ", dt,
                 " image needs values in [0, 1], found ", v, " (de-normalize it, or pass u8 in [0, 255])");
      p.bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
    }
  } else if (dt == DType::boolean) {
    for (size_t i = 0; i < values.size(); ++i) p.bytes[i] = values[i] != 0 ? 255 : 0;
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      double v = values[i];
      KILN_CHECK(v >= 0 && v <= 255, where, ": tag '", tag, "': a ", dt,
                 " image needs values in [0, 255], found ", v);
      p.bytes[i] = static_cast<uint8_t>(v);
    }
  }
  return p;
}

}  // namespace

SummaryWriter::SummaryWriter(std::string log_dir, SummaryWriterOptions options)
    : log_dir_(log_dir.empty() ? default_log_dir() : std::move(log_dir)), options_(std::move(options)) {
  file_ = std::make_unique<EventFileWriter>(
      log_dir_, EventFileOptions{options_.max_queue, options_.flush_secs, options_.filename_suffix});
}

SummaryWriter::~SummaryWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << "kiln::logs::SummaryWriter: " << e.what() << "\n";
  }
}

const std::string& SummaryWriter::event_file() const { return file_->path(); }

void SummaryWriter::write(const std::string& summary, int64_t step, std::optional<double> walltime) {
  file_->write_event(make_summary_event(walltime.value_or(wall_time_now()), step, summary));
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step,
                               std::optional<double> walltime) {
  check_tag("add_scalar", tag);
  write(scalar_summary(tag, static_cast<float>(value)), step, walltime);
}

SummaryWriter& SummaryWriter::child(const std::string& subdir) {
  std::lock_guard lock(children_mutex_);
  auto& slot = children_[subdir];
  if (!slot)
    slot = std::make_unique<SummaryWriter>((std::filesystem::path(log_dir_) / subdir).string(), options_);
  return *slot;
}

void SummaryWriter::add_scalars(const std::string& main_tag, const std::map<std::string, double>& values,
                                int64_t step, std::optional<double> walltime) {
  check_tag("add_scalars", main_tag);
  std::string prefix = main_tag;
  std::replace(prefix.begin(), prefix.end(), '/', '_');
  for (const auto& [key, value] : values) {
    KILN_CHECK(!key.empty() && key.find('/') == std::string::npos, "SummaryWriter::add_scalars: tag '",
               main_tag, "': key '", key, "' must be non-empty and without '/' (it names a run folder)");
    child(prefix + "_" + key).add_scalar(main_tag, value, step, walltime);
  }
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, int64_t step,
                                  std::optional<double> walltime) {
  check_tag("add_histogram", tag);
  KILN_CHECK(values.defined(), "SummaryWriter::add_histogram: tag '", tag, "': the tensor is undefined");
  KILN_CHECK(values.numel() > 0, "SummaryWriter::add_histogram: tag '", tag, "': the tensor of shape ",
             shape_str(values.shape()), " has no elements");
  std::vector<double> v = values.to_vector<double>();
  size_t bad = 0;
  for (double x : v) bad += !std::isfinite(x);
  KILN_CHECK(bad == 0, "SummaryWriter::add_histogram: tag '", tag, "': ", bad, " of ", v.size(),
             " values are NaN or infinite (shape ", shape_str(values.shape()), ")");
  write(histogram_summary(tag, make_histogram(v)), step, walltime);
}

void SummaryWriter::add_image(const std::string& tag, const Tensor& image, int64_t step, ImageOptions options,
                              std::optional<double> walltime) {
  check_tag("add_image", tag);
  Pixels p = to_pixels(tag, image, options.dataformats);
  std::string png = encode_png(p.bytes.data(), p.height, p.width, p.channels);
  write(image_summary(tag, png, p.height, p.width, p.channels), step, walltime);
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, int64_t step,
                             std::optional<double> walltime) {
  check_tag("add_text", tag);
  write(text_summary(tag, text), step, walltime);
}

void SummaryWriter::add_pr_curve(const std::string& tag, const Tensor& labels, const Tensor& predictions,
                                 int64_t step, int num_thresholds, std::optional<double> walltime) {
  check_tag("add_pr_curve", tag);
  std::vector<float> data = pr_curve_data(tag, labels, predictions, num_thresholds);
  write(pr_curve_summary(tag, data, num_thresholds), step, walltime);
}

void SummaryWriter::add_hparams(const HParams& hparams, const std::map<std::string, double>& metrics,
                                std::string run_name, std::optional<double> walltime) {
  KILN_CHECK(!hparams.empty(), "SummaryWriter::add_hparams: no hyperparameters given");
  for (const auto& [name, value] : hparams)
    KILN_CHECK(!name.empty(), "SummaryWriter::add_hparams: a hyperparameter has an empty name");
  double now = walltime.value_or(wall_time_now());
  if (run_name.empty()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", now);
    run_name = buf;
  }
  KILN_CHECK(run_name.find("..") == std::string::npos && run_name.front() != '/',
             "SummaryWriter::add_hparams: run_name '", run_name, "' must stay inside the log directory");
  std::vector<std::string> tags;
  for (const auto& [tag, value] : metrics) {
    check_tag("add_hparams", tag);
    tags.push_back(tag);
  }
  SummaryWriter& run = child(run_name);
  run.write(plugin_summary(kHParamsExperimentTag, kHParamsPlugin, hparams_experiment(hparams, tags)), 0, now);
  run.write(plugin_summary(kHParamsSessionStartTag, kHParamsPlugin, hparams_session_start(hparams, now)), 0,
            now);
  run.write(plugin_summary(kHParamsSessionEndTag, kHParamsPlugin, hparams_session_end(true, now)), 0, now);
  for (const auto& [tag, value] : metrics) run.add_scalar(tag, value, 0, now);
}

void SummaryWriter::flush() {
  file_->flush();
  std::lock_guard lock(children_mutex_);
  for (auto& [name, writer] : children_) writer->flush();
}

void SummaryWriter::close() {
  {
    std::lock_guard lock(children_mutex_);
    for (auto& [name, writer] : children_) writer->close();
  }
  file_->close();
}

}  // namespace kiln::logs
