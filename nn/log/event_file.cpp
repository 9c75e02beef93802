#include "kiln/nn/log/event_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "kiln/nn/log/crc32c.h"
#include "kiln/nn/log/proto_encoder.h"
#include "kiln/tensor/error.h"

namespace kiln::logs {
namespace {

// Event proto field numbers (tensorboard/compat/proto/event.proto).
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Distinguishes event files that one process opens in the same second (as TensorBoard's writers do).
std::atomic<int> file_counter{0};

void append_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_record(std::string& out, const std::string& data) {
  std::string header;
  append_le(header, data.size(), 8);
  out += header;
  append_le(out, masked_crc32c(header), 4);
  out += data;
  append_le(out, masked_crc32c(data), 4);
}

// Writes all of `bytes`, resuming after short writes and EINTR; returns "" or the error.
std::string write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::strerror(errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

double wall_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string make_summary_event(double wall_time, int64_t step, const std::string& summary) {
  ProtoEncoder event;
  event.add_double(kEventWallTime, wall_time);
  event.add_int64(kEventStep, step);
  event.add_bytes(kEventSummary, summary);
  return event.take();
}

EventFileWriter::EventFileWriter(const std::string& log_dir, EventFileOptions options)
    : options_(std::move(options)) {
  KILN_CHECK(options_.flush_secs > 0, "SummaryWriter: flush_secs must be positive, got ",
             options_.flush_secs);
  KILN_CHECK(options_.max_queue > 0, "SummaryWriter: max_queue must be positive, got ", options_.max_queue);
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  KILN_CHECK(!ec, "SummaryWriter: cannot create the log directory '", log_dir, "': ", ec.message());
  char name[512];
  std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%d.%d",
                static_cast<long long>(wall_time_now()), host_name().c_str(), static_cast<int>(getpid()),
                file_counter++);
  path_ = (std::filesystem::path(log_dir) / (std::string(name) + options_.filename_suffix)).string();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  KILN_CHECK(fd_ >= 0, "SummaryWriter: cannot create the event file '", path_, "': ", std::strerror(errno));

  ProtoEncoder version;
  version.add_double(kEventWallTime, wall_time_now());
  version.add_bytes(kEventFileVersion, "brain.Event:2");
  std::string record;
  append_record(record, version.bytes());
  std::string err = write_all(fd_, record);
  if (!err.empty()) {
    ::close(fd_);
    KILN_CHECK(false, "SummaryWriter: cannot write the event file '", path_, "': ", err);
  }
  thread_ = std::thread([this] { run(); });
}

EventFileWriter::~EventFileWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    // A destructor must not throw; the error still reaches the user.
    std::cerr << "kiln::logs::SummaryWriter: " << e.what() << "\n";
  }
}

void EventFileWriter::write_event(std::string event) {
  std::lock_guard lock(mutex_);
  KILN_CHECK(!closed_, "SummaryWriter: write after close() to '", path_, "'");
  pending_.push_back(std::move(event));
  if (static_cast<int>(pending_.size()) >= options_.max_queue) wake_.notify_one();
}

void EventFileWriter::write_records(const std::vector<std::string>& events) {
  if (events.empty()) return;
  std::string bytes;
  for (const auto& e : events) append_record(bytes, e);
  std::string err = write_all(fd_, bytes);
  if (!err.empty()) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) {
      error_ = "cannot write the event file '" + path_ + "': " + err;
      std::cerr << "kiln::logs::SummaryWriter: " << error_ << " (later events are lost)\n";
    }
  }
}

void EventFileWriter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.flush_secs);
    wake_.wait_until(lock, deadline, [&] {
      return stopping_ || requested_ > completed_ || static_cast<int>(pending_.size()) >= options_.max_queue;
    });
    std::vector<std::string> batch;
    batch.swap(pending_);
    uint64_t serving = requested_;
    bool stop = stopping_;
    lock.unlock();
    write_records(batch);
    if (serving > completed_ && ::fsync(fd_) != 0) {
      std::lock_guard guard(mutex_);
      if (error_.empty()) error_ = "cannot fsync the event file '" + path_ + "': " + std::strerror(errno);
    }
    lock.lock();
    if (serving > completed_) {
      completed_ = serving;
      written_.notify_all();
    }
    if (stop && pending_.empty()) return;
  }
}

void EventFileWriter::flush() {
  std::unique_lock lock(mutex_);
  if (closed_) return;
  uint64_t ticket = ++requested_;
  wake_.notify_one();
  written_.wait(lock, [&] { return completed_ >= ticket; });
  KILN_CHECK(error_.empty(), "SummaryWriter: ", error_);
}

void EventFileWriter::close() {
  {
    std::unique_lock lock(mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
    ++requested_;
    wake_.notify_one();
  }
  thread_.join();
  ::close(fd_);
  fd_ = -1;
  KILN_CHECK(error_.empty(), "SummaryWriter: ", error_);
}

}  // namespace kiln::logs
