#include "kiln/nn/train/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "kiln/nn/train/fit.h"

namespace kiln::nn::train {

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) return fmt("%.0fs", std::ceil(s));
  const long t = std::lround(s);
  char buf[32];
  if (t < 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
std::string value(double v) {
  if (std::isnan(v)) return "nan";
  const double a = std::abs(v);
  return (a != 0 && (a < 1e-3 || a >= 1e5)) ? fmt("%.3e", v) : fmt("%.4f", v);
}
std::string logs_text(const Logs& logs) {
  // Keras's order: the training values, then lr, then the validation values.
  std::string out;
  for (int pass = 0; pass < 3; ++pass)
    for (const auto& [k, v] : logs) {
      const bool val = k.rfind("val_", 0) == 0, lr = k == "lr";
      if ((pass == 0 && !val && !lr) || (pass == 1 && lr) || (pass == 2 && val))
        out += " - " + k + ": " + (lr ? fmt("%.2e", v) : value(v));
    }
  return out;
}
}  // namespace

ProgressBar::ProgressBar(ProgressBarOptions options) : o_(options) {}

int ProgressBar::columns() const {
  if (o_.width > 0) return o_.width;
  winsize ws{};
  if (o_.stream && ::ioctl(fileno(o_.stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    int n = std::atoi(c);
    if (n > 0) return n;
  }
  return 80;
}

std::string ProgressBar::epoch_line(int64_t epoch, int64_t epochs, double seconds, double samples_per_second,
                                    const Logs& logs) {
  std::ostringstream os;
  os << "Epoch " << epoch + 1 << "/" << epochs << " - " << fmt("%.1fs", seconds) << " - "
     << fmt("%.0f", samples_per_second) << " samples/s" << logs_text(logs);
  return os.str();
}

void ProgressBar::on_train_begin(TrainContext& context) {
  interactive_ = o_.verbose == 1 && o_.stream && ::isatty(fileno(o_.stream));
}

void ProgressBar::on_epoch_begin(TrainContext& context) {
  epoch_start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::on_batch_end(TrainContext& context) {
  if (!interactive_ || !context.is_main_process()) return;
  auto now = std::chrono::steady_clock::now();
  const bool last = context.batch + 1 >= context.steps_per_epoch;
  if (!last && std::chrono::duration<double>(now - last_draw_).count() < o_.refresh_seconds) return;
  last_draw_ = now;
  draw(context, false);
}

void ProgressBar::draw(TrainContext& context, bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const int64_t done = context.batch + 1, total = std::max<int64_t>(context.steps_per_epoch, 1);
  const double rate = elapsed > 0 ? static_cast<double>(context.samples_seen) / elapsed : 0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : NAN;
  std::string head = "Epoch " + std::to_string(context.epoch + 1) + "/" + std::to_string(context.epochs) +
                     " " + std::to_string(done) + "/" + std::to_string(total) + " ";
  std::string tail = " - ETA " + duration(eta) + " - " + fmt("%.0f", rate) + " samples/s";
  if (context.running_logs) tail += logs_text(context.running_logs());
  const int width = columns();
  // The bar takes what the text leaves, between 10 and 30 cells; text past the width is cut, so the line
  // never wraps (a wrapped line cannot be redrawn in place).
  int bar = std::min<int>(30, width - static_cast<int>(head.size() + tail.size()) - 2);
  std::string line = head;
  if (bar >= 10) {
    const int filled =
        static_cast<int>(static_cast<double>(bar) * static_cast<double>(done) / static_cast<double>(total));
    line += "[" + std::string(static_cast<size_t>(filled), '=') + (filled < bar ? ">" : "") +
            std::string(static_cast<size_t>(std::max(0, bar - filled - 1)), '.') + "]";
  }
  line += tail;
  if (static_cast<int>(line.size()) > width - 1) line.resize(static_cast<size_t>(std::max(0, width - 1)));
  // Carriage return, the new text, erase the rest of the old line: one write, no blank frame between.
  std::string frame = "\r" + line + "\x1b[K";
  std::fwrite(frame.data(), 1, frame.size(), o_.stream);
  std::fflush(o_.stream);
}

void ProgressBar::on_epoch_end(TrainContext& context, Logs& logs) {
  if (!context.is_main_process() || !o_.stream) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(context.samples_seen) / elapsed : 0;
  std::string line = epoch_line(context.epoch, context.epochs, elapsed, rate, logs);
  if (interactive_) line = "\r" + line + "\x1b[K";
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), o_.stream);
  std::fflush(o_.stream);
}

}  // namespace kiln::nn::train
