// kiln/nn/log/mlflow_run.h: kiln::logs::MlflowRun, one MLflow run tracked over the server's REST API.
//
//   // The tracking URI from $MLFLOW_TRACKING_URI (or MlflowOptions::tracking_uri).
//   kiln::logs::MlflowRun run({.experiment_name = "fashion-mnist", .run_name = "mlp"});
//   run.log_params({{"lr", 1e-3}, {"optimizer", "adamw"}});
//   for (...) run.log_metric("loss", loss, step);
//   run.log_artifact("history.csv");
//   kiln::logs::MlflowReport report = run.end();  // FINISHED; end(RunStatus::failed) after an exception
//
// Logging never blocks training on the network and a failing network never throws: every call only
// queues; a background thread sends the queue in `runs/log-batch` requests (up to 1000 metrics each),
// retrying with exponential backoff while the server is unreachable. end() waits up to `end_timeout_s`
// for the queue to drain, then reports how many points were lost. A server that is down at start gives
// one warning, and the run is created as soon as it comes up. Bad arguments (an invalid key, a value
// too long for MLflow) throw kiln::Error at the call, naming the key.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kiln/nn/log/hparams.h"

namespace kiln::logs {

class HttpClient;

enum class RunStatus { finished, failed, killed };

struct MlflowOptions {
  std::string tracking_uri = {};                 // http(s)://host:port; empty: $MLFLOW_TRACKING_URI
  std::string experiment_name = "Default";       // created when missing
  std::string run_name = {};                     // empty: the server picks one
  std::map<std::string, std::string> tags = {};  // run tags at creation
  double request_timeout_s = 10.0;               // one HTTP request
  double end_timeout_s = 30.0;                   // how long end() waits for the queue to drain
  double max_backoff_s = 8.0;                    // retry delays double from 0.25 s up to this
  size_t max_queued_metrics = 1'000'000;         // beyond this the oldest points are dropped (and counted)
};

struct MlflowReport {
  bool run_created = false;
  RunStatus status = RunStatus::finished;
  bool status_recorded = false;  // the server accepted the final status
  size_t metrics_logged = 0, metrics_sent = 0, metrics_lost = 0;
  size_t params_lost = 0, tags_lost = 0;
  size_t artifacts_uploaded = 0, artifacts_failed = 0;
  std::string last_error = {};  // the last failure, empty when nothing failed
  bool complete() const {
    return run_created && status_recorded && metrics_lost == 0 && params_lost == 0 && tags_lost == 0 &&
           artifacts_failed == 0;
  }
  std::string summary() const;  // one line for the log
};

class MlflowRun {
 public:
  explicit MlflowRun(MlflowOptions options = {});
  // end(FAILED) when destroyed by an exception, end(FINISHED) otherwise; never throws.
  ~MlflowRun();
  MlflowRun(const MlflowRun&) = delete;
  MlflowRun& operator=(const MlflowRun&) = delete;

  const std::string& tracking_uri() const { return uri_; }
  std::string run_id() const;         // empty until the server has created the run
  std::string experiment_id() const;  // likewise

  void log_param(const std::string& key, const HParamValue& value);
  void log_params(const HParams& params);
  // `timestamp_ms` defaults to now (milliseconds since the epoch), as MLflow's clients stamp metrics.
  void log_metric(const std::string& key, double value, int64_t step = 0,
                  std::optional<int64_t> timestamp_ms = std::nullopt);
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step = 0);
  void set_tag(const std::string& key, const std::string& value);
  // Uploads the file (read when it is sent) as `<artifact_path>/<file name>` of the run's artifacts,
  // through the server's artifact proxy (`mlflow server` serves artifacts by default) or into a local
  // artifact root.
  void log_artifact(const std::string& local_path, const std::string& artifact_path = "");

  // Ships everything queued, records the status and end time, stops the sender. Idempotent: a second
  // call returns the first report.
  MlflowReport end(RunStatus status = RunStatus::finished);

 private:
  struct KeyValue {
    std::string key, value;
  };
  struct Metric {
    std::string key;
    double value;
    int64_t timestamp_ms, step;
  };
  struct Artifact {
    std::string local_path, artifact_path;
  };

  void run_sender();
  bool try_create_run();  // sender thread only (and the constructor, before it starts); never throws
  bool create_run();
  bool send_batch(std::unique_lock<std::mutex>& lock);
  bool upload_artifact(const Artifact& a, std::string* error);
  void note_failure(const std::string& what, bool transient);
  void note_success();
  std::string api(const std::string& endpoint) const { return uri_ + "/api/2.0/mlflow/" + endpoint; }

  MlflowOptions options_;
  std::string uri_;
  int64_t start_time_ms_ = 0;
  std::unique_ptr<HttpClient> http_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string run_id_, experiment_id_, artifact_uri_;
  std::deque<Metric> metrics_;
  std::vector<KeyValue> params_, tags_;
  std::map<std::string, std::string> logged_params_;  // every param logged, to refuse a changed value
  std::deque<Artifact> artifacts_;
  bool ending_ = false, ended_ = false;
  std::chrono::steady_clock::time_point end_deadline_;
  std::chrono::steady_clock::time_point next_attempt_;
  double backoff_s_ = 0;
  bool warned_unreachable_ = false;
  MlflowReport report_;
  std::thread sender_;
};

}  // namespace kiln::logs
