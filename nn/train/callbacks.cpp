#include "kiln/nn/train/callbacks.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "kiln/nn/module.h"
#include "kiln/nn/train/atomic_file.h"
#include "kiln/optim/optimizer.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {

double monitored_value(const Logs& logs, const std::string& monitor, const std::string& who) {
  auto it = logs.find(monitor);
  KILN_CHECK(it != logs.end(), who, ": monitor '", monitor,
             "' is not in the epoch's logs; available: ", join_keys(logs),
             " (val_* keys need validation data)");
  return it->second;
}

namespace {
// A deep copy: state_dict() returns views of the live tensors, which later steps overwrite.
StateDict clone_state(const StateDict& s) {
  StateDict out;
  for (const auto& [name, t] : s) out.insert(name, t.detach().clone());
  return out;
}
}  // namespace

// ---------------- EarlyStopping ----------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : o_(std::move(options)) {
  KILN_CHECK(o_.patience >= 0, "EarlyStopping: patience must be >= 0, got ", o_.patience);
  KILN_CHECK(o_.start_from_epoch >= 0, "EarlyStopping: start_from_epoch must be >= 0, got ",
             o_.start_from_epoch);
  KILN_CHECK(std::isfinite(o_.min_delta), "EarlyStopping: min_delta must be finite, got ", o_.min_delta);
  KILN_CHECK(!o_.monitor.empty(), "EarlyStopping: monitor must name a logs key");
  o_.min_delta = std::abs(o_.min_delta);
  mode_ = resolve_mode(o_.monitor, o_.mode);
}

bool EarlyStopping::improved(double value) const {
  if (!std::isfinite(value)) return false;
  return mode_ == Mode::min ? value < best_ - o_.min_delta : value > best_ + o_.min_delta;
}

void EarlyStopping::on_train_begin(TrainContext& context) {
  wait_ = 0;
  stopped_epoch_ = -1;
  best_epoch_ = -1;
  best_weights_ = StateDict();
  const double inf = std::numeric_limits<double>::infinity();
  best_ = mode_ == Mode::min ? inf : -inf;
}

void EarlyStopping::on_epoch_end(TrainContext& context, Logs& logs) {
  const double value = monitored_value(logs, o_.monitor, "EarlyStopping");
  if (context.epoch < o_.start_from_epoch) return;
  ++wait_;
  if (improved(value)) {
    best_ = value;
    best_epoch_ = context.epoch;
    if (o_.restore_best_weights) best_weights_ = clone_state(context.model->state_dict());
    // With a baseline, an epoch only resets the wait once it beats the baseline too (Keras).
    const bool beats_baseline = !o_.baseline || (mode_ == Mode::min ? value < *o_.baseline - o_.min_delta
                                                                    : value > *o_.baseline + o_.min_delta);
    if (beats_baseline) {
      wait_ = 0;
      return;
    }
  }
  // Keras waits `patience` epochs without improvement; with a baseline the first epochs count too.
  if (wait_ >= o_.patience && context.epoch > 0) {
    stopped_epoch_ = context.epoch;
    context.stop_training = true;
    std::ostringstream why;
    why << "EarlyStopping: " << o_.monitor << " did not improve for " << wait_ << " epochs";
    if (best_epoch_ >= 0) why << " (best " << best_ << " at epoch " << best_epoch_ + 1 << ")";
    context.stop_reason = why.str();
  }
}

void EarlyStopping::on_train_end(TrainContext& context, const Logs& logs) {
  if (o_.restore_best_weights && best_epoch_ >= 0 && !best_weights_.empty()) {
    context.model->load_state_dict(best_weights_);
  }
  if (stopped_epoch_ >= 0 && context.is_main_process() && context.verbose > 0) {
    std::ostream& os = context.output();
    os << "Epoch " << stopped_epoch_ + 1 << ": early stopping";
    if (o_.restore_best_weights && best_epoch_ >= 0)
      os << "; restored the weights of epoch " << best_epoch_ + 1 << " (" << o_.monitor << " " << best_
         << ")";
    os << "\n";
  }
}

// ---------------- ReduceLROnPlateau ----------------

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : o_(std::move(options)) {
  KILN_CHECK(o_.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got ", o_.patience);
  KILN_CHECK(o_.factor > 0 && o_.factor < 1, "ReduceLROnPlateau: factor must lie in (0, 1), got ", o_.factor);
  KILN_CHECK(o_.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got ", o_.cooldown);
  KILN_CHECK(o_.min_lr >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got ", o_.min_lr);
}

void ReduceLROnPlateau::on_train_begin(TrainContext& context) {
  const bool up = resolve_mode(o_.monitor, o_.mode) == Mode::max;
  // A second fit with the same callback continues its counters.
  if (scheduler_) return;
  scheduler_ = std::make_unique<optim::ReduceLROnPlateau>(
      *context.optimizer,
      optim::ReduceLROnPlateauOptions{.mode = up ? optim::PlateauMode::max : optim::PlateauMode::min,
                                      .factor = o_.factor,
                                      .patience = o_.patience,
                                      .threshold = o_.min_delta,
                                      .cooldown = o_.cooldown,
                                      .min_lr = o_.min_lr});
  if (!pending_.empty()) {
    scheduler_->load_state_dict(pending_);
    pending_ = StateDict();
  }
}

StateDict ReduceLROnPlateau::state_dict() const {
  return scheduler_ ? scheduler_->state_dict() : StateDict();
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
  if (scheduler_)
    scheduler_->load_state_dict(state);
  else
    pending_ = state;
}

void ReduceLROnPlateau::on_epoch_end(TrainContext& context, Logs& logs) {
  const double value = monitored_value(logs, o_.monitor, "ReduceLROnPlateau");
  const double before = context.optimizer->lr();
  scheduler_->step(value);
  const double after = context.optimizer->lr();
  if (after < before && o_.verbose && context.is_main_process()) {
    std::ostream& os = context.output();
    os << "Epoch " << context.epoch + 1 << ": ReduceLROnPlateau reducing learning rate to " << after << "\n";
  }
}

// ---------------- LearningRateScheduler ----------------

LearningRateScheduler::LearningRateScheduler(Schedule schedule, bool verbose)
    : schedule_(std::move(schedule)), verbose_(verbose) {
  KILN_CHECK(schedule_ != nullptr, "LearningRateScheduler: the schedule function is empty");
}

void LearningRateScheduler::on_epoch_begin(TrainContext& context) {
  optim::Optimizer& opt = *context.optimizer;
  const double lr = schedule_(context.epoch, opt.lr());
  KILN_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: the schedule returned lr ", lr,
             " for epoch ", context.epoch, "; it must be a finite value >= 0");
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g) opt.set_lr(g, lr);
  if (verbose_ && context.is_main_process()) {
    std::ostream& os = context.output();
    os << "Epoch " << context.epoch + 1 << ": LearningRateScheduler setting learning rate to " << lr << "\n";
  }
}

// ---------------- TerminateOnNaN ----------------

void TerminateOnNaN::on_batch_end(TrainContext& context) {
  if (!context.last_loss.defined()) return;
  const double v = context.last_loss.item<double>();
  if (std::isfinite(v)) return;
  epoch_ = context.epoch;
  batch_ = context.batch;
  context.stop_training = true;
  std::ostringstream why;
  why << "TerminateOnNaN: batch " << context.batch << " of epoch " << context.epoch + 1 << " had loss " << v;
  context.stop_reason = why.str();
  if (context.is_main_process() && context.verbose > 0) {
    std::ostream& os = context.output();
    os << "\n" << context.stop_reason << ", terminating training\n";
  }
}

// ---------------- CSVLogger ----------------

CSVLogger::CSVLogger(std::string path, CSVLoggerOptions options) : path_(std::move(path)), o_(options) {
  KILN_CHECK(!path_.empty(), "CSVLogger: path must not be empty");
}

namespace {
std::vector<std::string> split_line(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep)
      out.push_back(cur), cur.clear();
    else if (c != '\r')
      cur += c;
  }
  out.push_back(cur);
  return out;
}
std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void CSVLogger::on_train_begin(TrainContext& context) {
  header_.clear();
  rows_.clear();
  if (!o_.append) return;
  std::ifstream in(path_);
  if (!in) return;  // nothing to append to yet
  std::string line;
  if (std::getline(in, line) && !line.empty()) header_ = split_line(line, o_.separator);
  while (std::getline(in, line))
    if (!line.empty()) rows_.push_back(line);
}

void CSVLogger::on_epoch_end(TrainContext& context, Logs& logs) {
  if (!context.is_main_process()) return;
  if (header_.empty()) {
    header_.push_back("epoch");
    for (const auto& [k, v] : logs) header_.push_back(k);
  }
  std::ostringstream row;
  row << context.epoch;
  for (std::size_t i = 1; i < header_.size(); ++i) {
    auto it = logs.find(header_[i]);
    row << o_.separator << (it == logs.end() ? "" : csv_number(it->second));
  }
  rows_.push_back(row.str());
  std::ostringstream file;
  for (std::size_t i = 0; i < header_.size(); ++i)
    file << (i ? std::string(1, o_.separator) : "") << header_[i];
  file << "\n";
  for (const auto& r : rows_) file << r << "\n";
  write_file_atomically(path_, file.str());
}

// ---------------- LambdaCallback ----------------

void LambdaCallback::on_train_begin(TrainContext& c) {
  if (f_.on_train_begin) f_.on_train_begin(c);
}
void LambdaCallback::on_train_end(TrainContext& c, const Logs& logs) {
  if (f_.on_train_end) f_.on_train_end(c, logs);
}
void LambdaCallback::on_epoch_begin(TrainContext& c) {
  if (f_.on_epoch_begin) f_.on_epoch_begin(c);
}
void LambdaCallback::on_epoch_end(TrainContext& c, Logs& logs) {
  if (f_.on_epoch_end) f_.on_epoch_end(c, logs);
}
void LambdaCallback::on_batch_begin(TrainContext& c) {
  if (f_.on_batch_begin) f_.on_batch_begin(c);
}
void LambdaCallback::on_batch_end(TrainContext& c) {
  if (f_.on_batch_end) f_.on_batch_end(c);
}

// ---------------- ModelCheckpoint ----------------

std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, const Logs& logs) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    KILN_CHECK(close != std::string::npos, "ModelCheckpoint: unclosed '{' in filepath '", pattern, "'");
    std::string field = pattern.substr(i + 1, close - i - 1);
    std::string fmt;
    if (auto colon = field.find(':'); colon != std::string::npos)
      fmt = field.substr(colon + 1), field.resize(colon);
    KILN_CHECK(fmt.find_first_not_of("0123456789.+-# dfegxiu") == std::string::npos,
               "ModelCheckpoint: format '", fmt, "' of {", field, "} in '", pattern,
               "' is not a printf number format such as 02d or .4f");
    char buf[128];
    if (field == "epoch") {
      std::string f = "%" + (fmt.empty() ? std::string("d") : fmt);
      if (f.back() == 'd' || f.back() == 'i' || f.back() == 'x' || f.back() == 'u') {
        f.insert(f.size() - 1, "ll");
        std::snprintf(buf, sizeof buf, f.c_str(), static_cast<long long>(epoch + 1));
      } else {
        std::snprintf(buf, sizeof buf, f.c_str(), static_cast<double>(epoch + 1));
      }
    } else {
      auto it = logs.find(field);
      KILN_CHECK(it != logs.end(), "ModelCheckpoint: {", field, "} in filepath '", pattern,
                 "' is not in the epoch's logs; available: epoch, ", join_keys(logs));
      std::string f = "%" + (fmt.empty() ? std::string("g") : fmt);
      KILN_CHECK(f.back() == 'f' || f.back() == 'e' || f.back() == 'g', "ModelCheckpoint: {", field, ":", fmt,
                 "} needs a floating format (f, e or g)");
      std::snprintf(buf, sizeof buf, f.c_str(), it->second);
    }
    out += buf;
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), o_(std::move(options)) {
  KILN_CHECK(!filepath_.empty(), "ModelCheckpoint: filepath must not be empty");
  KILN_CHECK(o_.every_n_epochs >= 1, "ModelCheckpoint: every_n_epochs must be >= 1, got ", o_.every_n_epochs);
  KILN_CHECK(o_.save != nullptr, "ModelCheckpoint: the save function is empty");
  KILN_CHECK(o_.max_to_keep >= 0, "ModelCheckpoint: max_to_keep must be >= 0 (0 keeps all), got ",
             o_.max_to_keep);
}

void ModelCheckpoint::on_epoch_end(TrainContext& context, Logs& logs) {
  if ((context.epoch + 1) % o_.every_n_epochs != 0) return;
  if (o_.save_best_only) {
    const double v = monitored_value(logs, o_.monitor, "ModelCheckpoint");
    const bool up = resolve_mode(o_.monitor, o_.mode) == Mode::max;
    if (!std::isfinite(v)) return;
    if (!std::isnan(best_) && !(up ? v > best_ : v < best_)) return;
    best_ = v;
  }
  const std::string path = format_checkpoint_path(filepath_, context.epoch, logs);
  // Every rank computes the same path (so a collective save function can run on all of them); the
  // default writes on rank 0 only.
  o_.save(context, path);
  last_path_ = path;
  if (o_.max_to_keep > 0 && context.is_main_process()) {
    std::erase(written_, path);  // a pattern without {epoch} overwrites one file
    written_.push_back(path);
    while (static_cast<int64_t>(written_.size()) > o_.max_to_keep) {
      std::error_code ec;
      std::filesystem::remove(written_.front(), ec);
      written_.erase(written_.begin());
    }
  }
  if (o_.verbose && context.is_main_process()) {
    std::ostream& os = context.output();
    os << "Epoch " << context.epoch + 1 << ": saved " << path << "\n";
  }
}

}  // namespace kiln::nn::train
