#include "kiln/nn/log/mlflow_run.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiln/nn/log/http_client.h"
#include "kiln/tensor/error.h"

namespace kiln::logs {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// MLflow's limits (mlflow/utils/validation.py): longer values are refused by the server, so they are
// refused here, at the call that made them.
constexpr size_t kMaxKeyLength = 250, kMaxParamValueLength = 6000, kMaxTagValueLength = 8000;
// runs/log-batch accepts at most 1000 metrics, 100 params and 100 tags, 1000 entities in all.
constexpr size_t kBatchMetrics = 1000, kBatchParams = 100, kBatchTags = 100;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void check_key(const char* op, const std::string& key) {
  KILN_CHECK(!key.empty() && key.size() <= kMaxKeyLength, "MlflowRun::", op, ": key '", key,
             "' must have 1 to ", kMaxKeyLength, " characters");
  for (char c : key)
    KILN_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ' ' ||
                   c == '/' || c == ':',
               "MlflowRun::", op, ": key '", key,
               "' may only hold letters, digits, '_', '-', '.', ' ', ':' and '/' (MLflow's rule)");
  KILN_CHECK(key.find("..") == std::string::npos && key.front() != '/', "MlflowRun::", op, ": key '", key,
             "' must not contain '..' or start with '/'");
}

// Metric values as MLflow's protobuf-JSON reads them: non-finite doubles are the strings "NaN",
// "Infinity" and "-Infinity" (JSON itself has no such numbers).
json metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

// The request body. Invalid UTF-8 in a user's key or value becomes U+FFFD instead of an exception,
// which would otherwise escape the sender thread.
std::string body(const json& request) { return request.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string error_message(const HttpResponse& r) {
  if (r.status == 0) return r.error;
  std::string msg = "HTTP " + std::to_string(r.status);
  try {
    json body = json::parse(r.body);
    if (body.contains("message")) msg += ": " + body["message"].get<std::string>();
  } catch (const std::exception&) {
    if (!r.body.empty()) msg += ": " + r.body.substr(0, 300);
  }
  return msg;
}

std::vector<std::string> auth_headers() {
  std::vector<std::string> headers;
  if (const char* token = std::getenv("MLFLOW_TRACKING_TOKEN"); token && *token)
    headers.push_back(std::string("Authorization: Bearer ") + token);
  return headers;
}

// http://user:password@host from MLFLOW_TRACKING_USERNAME/PASSWORD, as MLflow's clients use them.
std::string with_basic_auth(std::string uri) {
  const char* user = std::getenv("MLFLOW_TRACKING_USERNAME");
  const char* password = std::getenv("MLFLOW_TRACKING_PASSWORD");
  if (!user || !*user) return uri;
  size_t scheme_end = uri.find("://") + 3;
  return uri.substr(0, scheme_end) + HttpClient::escape(user) + ":" +
         HttpClient::escape(password ? password : "") + "@" + uri.substr(scheme_end);
}

std::string program_name() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("kiln") : exe.string();
}

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::finished:
      return "FINISHED";
    case RunStatus::failed:
      return "FAILED";
    case RunStatus::killed:
      return "KILLED";
  }
  return "FINISHED";
}

// Copies a file into a local artifact root atomically: a temporary file in the destination folder,
// fsync, rename.
bool copy_local(const std::string& from, const std::filesystem::path& to, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(to.parent_path(), ec);
  std::filesystem::path tmp = to;
  tmp += ".tmp-" + std::to_string(getpid());
  std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (!ec) {
    if (FILE* f = std::fopen(tmp.c_str(), "rb")) {
      fsync(fileno(f));
      std::fclose(f);
    }
    std::filesystem::rename(tmp, to, ec);
  }
  if (ec) *error = "cannot copy '" + from + "' to '" + to.string() + "': " + ec.message();
  return !ec;
}

}  // namespace

std::string MlflowReport::summary() const {
  std::ostringstream os;
  os << "MLflow run " << status_name(status) << (status_recorded ? "" : " (status not recorded)") << ": "
     << metrics_sent << " of " << metrics_logged << " metric points sent";
  if (metrics_lost) os << ", " << metrics_lost << " LOST";
  if (params_lost) os << ", " << params_lost << " params lost";
  if (tags_lost) os << ", " << tags_lost << " tags lost";
  os << ", " << artifacts_uploaded << " artifacts uploaded";
  if (artifacts_failed) os << ", " << artifacts_failed << " artifacts FAILED";
  if (!run_created) os << " (the run was never created)";
  if (!last_error.empty()) os << "; last error: " << last_error;
  return os.str();
}

MlflowRun::MlflowRun(MlflowOptions options) : options_(std::move(options)) {
  uri_ = options_.tracking_uri;
  if (uri_.empty())
    if (const char* env = std::getenv("MLFLOW_TRACKING_URI")) uri_ = env;
  KILN_CHECK(!uri_.empty(), "MlflowRun: no tracking URI: pass MlflowOptions::tracking_uri or set ",
             "MLFLOW_TRACKING_URI (e.g. http://127.0.0.1:5000 for `mlflow server`)");
  KILN_CHECK(
      uri_.rfind("http://", 0) == 0 || uri_.rfind("https://", 0) == 0, "MlflowRun: tracking URI '", uri_,
      "' is not http(s)://; kiln talks to an MLflow tracking server (`mlflow server`), not a file store");
  while (!uri_.empty() && uri_.back() == '/') uri_.pop_back();
  KILN_CHECK(!options_.experiment_name.empty(), "MlflowRun: experiment_name is empty");
  KILN_CHECK(options_.request_timeout_s > 0 && options_.end_timeout_s >= 0 && options_.max_backoff_s > 0,
             "MlflowRun: timeouts must be positive");
  for (const auto& [key, value] : options_.tags) {
    check_key("tags", key);
    KILN_CHECK(value.size() <= kMaxTagValueLength, "MlflowRun: tag '", key, "' is longer than ",
               kMaxTagValueLength, " characters");
  }
  uri_ = with_basic_auth(uri_);
  start_time_ms_ = now_ms();
  http_ = std::make_unique<HttpClient>(options_.request_timeout_s, auth_headers());
  next_attempt_ = Clock::now();
  try_create_run();  // once, synchronously, so that run_id() is known at once when the server is up
  sender_ = std::thread([this] { run_sender(); });
}

MlflowRun::~MlflowRun() {
  try {
    end(std::uncaught_exceptions() > 0 ? RunStatus::failed : RunStatus::finished);
  } catch (const std::exception& e) {
    std::cerr << "kiln::logs::MlflowRun: " << e.what() << "\n";
  }
}

std::string MlflowRun::run_id() const {
  std::lock_guard lock(mutex_);
  return run_id_;
}

std::string MlflowRun::experiment_id() const {
  std::lock_guard lock(mutex_);
  return experiment_id_;
}

void MlflowRun::log_param(const std::string& key, const HParamValue& value) {
  check_key("log_param", key);
  std::string v = value.str();
  KILN_CHECK(v.size() <= kMaxParamValueLength, "MlflowRun::log_param: the value of '", key, "' has ",
             v.size(), " characters; MLflow keeps at most ", kMaxParamValueLength);
  std::lock_guard lock(mutex_);
  KILN_CHECK(!ending_, "MlflowRun::log_param('", key, "'): the run has ended");
  // MLflow params are immutable: the server refuses a new value for a key with a 400 that would take
  // down the whole batch it travels in, so the conflict is refused here, at the call.
  auto [it, inserted] = logged_params_.emplace(key, v);
  if (!inserted) {
    KILN_CHECK(it->second == v, "MlflowRun::log_param: '", key, "' was logged as ", it->second,
               " and cannot become ", v, " (MLflow params are immutable; log a metric or a tag instead)");
    return;  // the same value again: already queued or sent
  }
  params_.push_back({key, std::move(v)});
  wake_.notify_one();
}

void MlflowRun::log_params(const HParams& params) {
  for (const auto& [key, value] : params) log_param(key, value);
}

void MlflowRun::log_metric(const std::string& key, double value, int64_t step,
                           std::optional<int64_t> timestamp_ms) {
  check_key("log_metric", key);
  std::lock_guard lock(mutex_);
  KILN_CHECK(!ending_, "MlflowRun::log_metric('", key, "'): the run has ended");
  metrics_.push_back({key, value, timestamp_ms.value_or(now_ms()), step});
  ++report_.metrics_logged;
  if (metrics_.size() > options_.max_queued_metrics) {
    metrics_.pop_front();
    ++report_.metrics_lost;
  }
  wake_.notify_one();
}

void MlflowRun::log_metrics(const std::map<std::string, double>& metrics, int64_t step) {
  int64_t ts = now_ms();
  for (const auto& [key, value] : metrics) log_metric(key, value, step, ts);
}

void MlflowRun::set_tag(const std::string& key, const std::string& value) {
  check_key("set_tag", key);
  KILN_CHECK(value.size() <= kMaxTagValueLength, "MlflowRun::set_tag: the value of '", key, "' has ",
             value.size(), " characters; MLflow keeps at most ", kMaxTagValueLength);
  std::lock_guard lock(mutex_);
  KILN_CHECK(!ending_, "MlflowRun::set_tag('", key, "'): the run has ended");
  tags_.push_back({key, value});
  wake_.notify_one();
}

void MlflowRun::log_artifact(const std::string& local_path, const std::string& artifact_path) {
  std::error_code ec;
  KILN_CHECK(std::filesystem::is_regular_file(local_path, ec), "MlflowRun::log_artifact: '", local_path,
             "' is not a readable file");
  KILN_CHECK(
      artifact_path.find("..") == std::string::npos && (artifact_path.empty() || artifact_path[0] != '/'),
      "MlflowRun::log_artifact: artifact_path '", artifact_path, "' must be relative, without '..'");
  std::lock_guard lock(mutex_);
  KILN_CHECK(!ending_, "MlflowRun::log_artifact('", local_path, "'): the run has ended");
  artifacts_.push_back({local_path, artifact_path});
  wake_.notify_one();
}

void MlflowRun::note_failure(const std::string& what, bool transient) {
  // Called with mutex_ held.
  report_.last_error = what;
  if (!transient) {
    std::cerr << "kiln::logs::MlflowRun: the tracking server refused a request: " << what << "\n";
    return;
  }
  backoff_s_ = backoff_s_ == 0 ? 0.25 : std::min(options_.max_backoff_s, backoff_s_ * 2);
  next_attempt_ =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff_s_));
  if (!warned_unreachable_) {
    warned_unreachable_ = true;
    std::cerr << "kiln::logs::MlflowRun: cannot reach the MLflow tracking server at " << options_.tracking_uri
              << (options_.tracking_uri.empty() ? uri_ : "") << " (" << what
              << "); training goes on, metrics are queued and retried in the background\n";
  }
}

void MlflowRun::note_success() {
  if (warned_unreachable_ && backoff_s_ > 0)
    std::cerr << "kiln::logs::MlflowRun: the tracking server is reachable again; sending the queue\n";
  backoff_s_ = 0;
  warned_unreachable_ = false;
}

bool MlflowRun::try_create_run() {
  try {
    return create_run();
  } catch (const std::exception& e) {
    // A 2xx answer that is not MLflow's JSON (another server on that port, a proxy's page): reported
    // and retried like an unreachable server, never thrown into the training thread.
    std::lock_guard lock(mutex_);
    note_failure(std::string("the answer is not an MLflow tracking server's: ") + e.what(), true);
    return false;
  }
}

bool MlflowRun::create_run() {
  // Get or create the experiment by name (the HTTP calls run without the lock: only this thread talks
  // to the server).
  std::string experiment_id;
  {
    std::lock_guard lock(mutex_);
    experiment_id = experiment_id_;
  }
  auto fail = [&](const HttpResponse& r) {
    std::lock_guard lock(mutex_);
    note_failure(error_message(r), r.transient());
    if (!r.transient()) {
      // The server will never accept this run (a deleted experiment, a permission problem): give up.
      report_.last_error = "cannot create the run: " + error_message(r);
      next_attempt_ = Clock::time_point::max();
    }
    return false;
  };
  if (experiment_id.empty()) {
    HttpResponse r = http_->get(
        api("experiments/get-by-name?experiment_name=" + HttpClient::escape(options_.experiment_name)));
    if (r.ok()) {
      json body = json::parse(r.body, nullptr, false);
      if (body.is_discarded() || !body.contains("experiment")) return fail({.status = 400, .body = r.body});
      if (body["experiment"].value("lifecycle_stage", "active") == "deleted")
        return fail({.status = 400,
                     .body = R"({"message": "experiment ')" + options_.experiment_name +
                             R"(' is deleted; restore it or use another name"})"});
      experiment_id = body["experiment"]["experiment_id"].get<std::string>();
    } else if (r.status == 404) {
      HttpResponse c =
          http_->post_json(api("experiments/create"), body(json{{"name", options_.experiment_name}}));
      if (!c.ok()) return fail(c);  // RESOURCE_ALREADY_EXISTS (a race) is 400 too; the retry finds it
      experiment_id = json::parse(c.body)["experiment_id"].get<std::string>();
    } else {
      return fail(r);
    }
    std::lock_guard lock(mutex_);
    experiment_id_ = experiment_id;
  }
  json tags = json::array();
  std::map<std::string, std::string> all_tags = {{"mlflow.source.name", program_name()},
                                                 {"mlflow.source.type", "LOCAL"}};
  if (const char* user = std::getenv("USER")) all_tags["mlflow.user"] = user;
  for (const auto& [k, v] : options_.tags) all_tags[k] = v;
  for (const auto& [k, v] : all_tags) tags.push_back({{"key", k}, {"value", v}});
  json request = {{"experiment_id", experiment_id}, {"start_time", start_time_ms_}, {"tags", tags}};
  if (!options_.run_name.empty()) request["run_name"] = options_.run_name;
  HttpResponse r = http_->post_json(api("runs/create"), body(request));
  if (!r.ok()) return fail(r);
  json info = json::parse(r.body)["run"]["info"];
  std::lock_guard lock(mutex_);
  run_id_ = info["run_id"].get<std::string>();
  artifact_uri_ = info.value("artifact_uri", "");
  report_.run_created = true;
  note_success();
  return true;
}

// Whether the run on the server already holds every param of `params` with the same value: a batch
// whose response was lost (the server died after committing it) is refused when sent again, because
// MLflow stores a param once.
static bool params_already_stored(HttpClient& http, const std::string& url, const std::vector<json>& params) {
  HttpResponse r = http.get(url);
  if (!r.ok()) return false;
  json run = json::parse(r.body, nullptr, false);
  if (run.is_discarded()) return false;
  std::map<std::string, std::string> stored;
  for (const auto& p : run["run"]["data"].value("params", json::array()))
    stored[p.value("key", "")] = p.value("value", "");
  for (const auto& p : params) {
    auto it = stored.find(p["key"].get<std::string>());
    if (it == stored.end() || it->second != p["value"].get<std::string>()) return false;
  }
  return true;
}

bool MlflowRun::send_batch(std::unique_lock<std::mutex>& lock) {
  // Takes a batch under the lock, sends it without, and removes it from the queues on success. Params
  // and tags travel apart from metrics, so that a refused param can never take metric points with it.
  const bool params_and_tags = !params_.empty() || !tags_.empty();
  size_t n_metrics = params_and_tags ? 0 : std::min(metrics_.size(), kBatchMetrics);
  size_t n_params = std::min(params_.size(), kBatchParams);
  size_t n_tags = std::min(tags_.size(), kBatchTags);
  json request = {
      {"run_id", run_id_}, {"metrics", json::array()}, {"params", json::array()}, {"tags", json::array()}};
  for (size_t i = 0; i < n_metrics; ++i) {
    const Metric& m = metrics_[i];
    request["metrics"].push_back(
        {{"key", m.key}, {"value", metric_value(m.value)}, {"timestamp", m.timestamp_ms}, {"step", m.step}});
  }
  for (size_t i = 0; i < n_params; ++i)
    request["params"].push_back({{"key", params_[i].key}, {"value", params_[i].value}});
  for (size_t i = 0; i < n_tags; ++i)
    request["tags"].push_back({{"key", tags_[i].key}, {"value", tags_[i].value}});
  const std::string get_run = api("runs/get?run_id=" + HttpClient::escape(run_id_));
  lock.unlock();
  HttpResponse r = http_->post_json(api("runs/log-batch"), body(request));
  const bool stored_before =
      !r.ok() && !r.transient() && n_params > 0 &&
      params_already_stored(*http_, get_run, request["params"].get<std::vector<json>>());
  lock.lock();
  if (!r.ok() && r.transient()) {
    note_failure(error_message(r), true);
    return false;
  }
  if (!r.ok() && !stored_before) {
    // The server refused the batch for its contents: retrying cannot help, so it is counted as lost and
    // named.
    note_failure(error_message(r), false);
    report_.metrics_lost += n_metrics;
    report_.params_lost += n_params;
    report_.tags_lost += n_tags;
  } else {
    report_.metrics_sent += n_metrics;
    note_success();
  }
  metrics_.erase(metrics_.begin(), metrics_.begin() + static_cast<std::ptrdiff_t>(n_metrics));
  params_.erase(params_.begin(), params_.begin() + static_cast<std::ptrdiff_t>(n_params));
  tags_.erase(tags_.begin(), tags_.begin() + static_cast<std::ptrdiff_t>(n_tags));
  return true;
}

bool MlflowRun::upload_artifact(const Artifact& a, std::string* error) {
  std::string name = std::filesystem::path(a.local_path).filename().string();
  std::string rel = a.artifact_path.empty() ? name : a.artifact_path + "/" + name;
  std::string root = artifact_uri_;
  const std::string proxy = "mlflow-artifacts:";
  if (root.rfind(proxy, 0) == 0) {
    // mlflow-artifacts:/<path> or mlflow-artifacts://<host>/<path>: the tracking server proxies uploads.
    std::string path = root.substr(proxy.size());
    if (path.rfind("//", 0) == 0)
      path = path.substr(path.find('/', 2) == std::string::npos ? path.size() : path.find('/', 2));
    std::string url = uri_ + "/api/2.0/mlflow-artifacts/artifacts";
    std::stringstream segments(path + "/" + rel);
    for (std::string seg; std::getline(segments, seg, '/');)
      if (!seg.empty()) url += "/" + HttpClient::escape(seg);
    std::ifstream in(a.local_path, std::ios::binary);
    if (!in) {
      *error = "cannot read '" + a.local_path + "'";
      return true;  // nothing to retry
    }
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    HttpResponse r = http_->put(url, content, "application/octet-stream");
    if (r.ok()) return true;
    *error = "uploading '" + a.local_path + "': " + error_message(r);
    return !r.transient();
  }
  std::string local = root.rfind("file://", 0) == 0 ? root.substr(7) : root;
  if (!local.empty() && local[0] == '/') {
    copy_local(a.local_path, std::filesystem::path(local) / rel, error);
    return true;
  }
  *error = "the run's artifact store '" + root +
           "' is neither served by the tracking server (mlflow-artifacts:) nor a local folder";
  return true;
}

void MlflowRun::run_sender() {
  std::unique_lock lock(mutex_);
  while (true) {
    bool work = !metrics_.empty() || !params_.empty() || !tags_.empty() || !artifacts_.empty();
    auto now = Clock::now();
    if (ending_ && now >= end_deadline_) break;
    if (ending_ && next_attempt_ == Clock::time_point::max()) break;  // the server refused the run for good
    bool created = report_.run_created;
    if ((!created || work || ending_) && now >= next_attempt_) {
      if (!created) {
        lock.unlock();
        try_create_run();
        lock.lock();
        continue;
      }
      if (!metrics_.empty() || !params_.empty() || !tags_.empty()) {
        send_batch(lock);
        continue;
      }
      if (!artifacts_.empty()) {
        Artifact a = artifacts_.front();
        lock.unlock();
        std::string error;
        bool done = upload_artifact(a, &error);
        lock.lock();
        if (!done) {
          note_failure(error, true);
          continue;
        }
        artifacts_.pop_front();
        if (error.empty()) {
          ++report_.artifacts_uploaded;
        } else {
          ++report_.artifacts_failed;
          note_failure(error, false);
        }
        continue;
      }
      if (ending_) {
        json request = {{"run_id", run_id_}, {"status", status_name(report_.status)}, {"end_time", now_ms()}};
        lock.unlock();
        HttpResponse r = http_->post_json(api("runs/update"), body(request));
        lock.lock();
        if (r.ok()) {
          report_.status_recorded = true;
          break;
        }
        note_failure(error_message(r), r.transient());
        if (!r.transient()) break;
        continue;
      }
    }
    // Sleep until there is work, the backoff has passed, or end() is called.
    auto wake_at = std::min(next_attempt_ > now ? next_attempt_ : Clock::time_point::max(),
                            now + std::chrono::seconds(3600));
    if (ending_) wake_at = std::min(wake_at, end_deadline_);
    wake_.wait_until(lock, wake_at, [&] {
      bool has_work = !metrics_.empty() || !params_.empty() || !tags_.empty() || !artifacts_.empty();
      return (ending_ && (Clock::now() >= end_deadline_ || Clock::now() >= next_attempt_)) ||
             (Clock::now() >= next_attempt_ && (has_work || !report_.run_created));
    });
  }
  // Whatever is still queued is lost.
  report_.metrics_lost += metrics_.size();
  report_.params_lost += params_.size();
  report_.tags_lost += tags_.size();
  report_.artifacts_failed += artifacts_.size();
  metrics_.clear();
  params_.clear();
  tags_.clear();
  artifacts_.clear();
}

MlflowReport MlflowRun::end(RunStatus status) {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return report_;
    ended_ = true;
    ending_ = true;
    report_.status = status;
    end_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options_.end_timeout_s));
    // A retry pending from an earlier failure is tried once more now rather than after its backoff.
    if (next_attempt_ != Clock::time_point::max()) next_attempt_ = std::min(next_attempt_, Clock::now());
    wake_.notify_one();
  }
  sender_.join();
  MlflowReport report;
  {
    std::lock_guard lock(mutex_);
    report = report_;
  }
  if (!report.complete()) std::cerr << "kiln::logs::MlflowRun: " << report.summary() << "\n";
  return report;
}

}  // namespace kiln::logs
