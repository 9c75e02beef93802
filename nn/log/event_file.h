// kiln/nn/log/event_file.h: an append-only TensorBoard event file written from a background thread.
//
// The format is TFRecord: each record is `uint64 length, uint32 masked_crc32c(length), bytes,
// uint32 masked_crc32c(bytes)` (little-endian), and each record is one serialized `Event` proto; the first
// carries `file_version = "brain.Event:2"`. The file name is `events.out.tfevents.<secs>.<host>.<pid>.<n>`
// as TensorBoard's file watcher expects.
//
// Callers never wait for the disk: `write_event` only appends the serialized event to an in-memory queue;
// the background thread frames and writes the queue every `flush_secs`, when `max_queue` events are
// pending, and on flush()/close(). Records are written whole with write(2), so a process killed at any
// moment leaves every previously written record intact (the page cache keeps them) and at most one
// truncated record at the end, which TensorBoard's reader skips. An event file is a growing log that
// TensorBoard tails while training runs, so it cannot be written atomically by rename; flush() and
// close() fsync it instead.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kiln::logs {

struct EventFileOptions {
  int max_queue = 10;       // pending events that wake the writer early
  double flush_secs = 5.0;  // the longest an event waits in memory
  std::string filename_suffix = {};
};

class EventFileWriter {
 public:
  // Creates `log_dir` (and parents) and the event file in it; throws kiln::Error naming the path when it
  // cannot. The file-version record is written before the constructor returns.
  explicit EventFileWriter(const std::string& log_dir, EventFileOptions options = {});
  ~EventFileWriter();  // close()
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Queues one serialized Event proto. Never blocks on I/O. After close() it throws kiln::Error.
  void write_event(std::string event);
  // Writes every queued event and fsyncs; throws kiln::Error if the background writer hit an I/O error.
  void flush();
  // flush() and stop the background thread. Idempotent.
  void close();

  const std::string& path() const { return path_; }

 private:
  void run();
  void write_records(const std::vector<std::string>& events);

  std::string path_;
  EventFileOptions options_;
  int fd_ = -1;

  std::mutex mutex_;
  std::condition_variable wake_;      // the writer thread waits here
  std::condition_variable written_;   // flush() waits here
  std::vector<std::string> pending_;  // serialized events not yet handed to the writer
  uint64_t requested_ = 0;            // flush requests made
  uint64_t completed_ = 0;            // flush requests the writer has served (wrote + fsynced)
  bool stopping_ = false;
  bool closed_ = false;
  std::string error_;  // the first I/O error of the writer thread
  std::thread thread_;
};

// The serialized Event {wall_time, step, summary}; `summary` is a serialized Summary proto.
std::string make_summary_event(double wall_time, int64_t step, const std::string& summary);
// Seconds since the Unix epoch, as TensorBoard's wall_time.
double wall_time_now();

}  // namespace kiln::logs
