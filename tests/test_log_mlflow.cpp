// MlflowRun against a real `mlflow server` (SQLite backend, served artifacts), read back with MLflow's
// own Python client; and the failure paths: a server killed mid-run, restarted mid-run, down at start.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "support/mlflow_server.h"
#include "support/python_validator.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

using namespace kiln;
using kiln::logs::MlflowReport;
using kiln::logs::MlflowRun;
using kiln::logs::RunStatus;
using kiln::test::TempDir;
using nlohmann::json;

namespace {

// A short real training run (a linear model fitted with SGD), logging its loss per batch and epoch.
struct HandLoop {
  nn::Linear model{4, 1};
  optim::SGD opt{model.parameters(), {.lr = 0.05}};
  Tensor x, y;
  json points = json::object();  // key -> [[step, value], ...] as logged
  int64_t step = 0;

  HandLoop() {
    manual_seed(7);
    x = randn({64, 4});
    y = x.matmul(from_vector<float>({1.0f, -2.0f, 0.5f, 3.0f}, Shape{4, 1})) + 0.1;
  }
  void epoch(MlflowRun& run, int epoch_index) {
    double total = 0;
    for (int b = 0; b < 4; ++b) {
      Tensor xb = x.narrow(0, b * 16, 16), yb = y.narrow(0, b * 16, 16);
      opt.zero_grad();
      Tensor loss = nn::functional::mse_loss(model(xb), yb);
      loss.backward();
      opt.step();
      double v = loss.item<double>();
      total += v;
      run.log_metric("batch_loss", v, step);
      points["batch_loss"].push_back({step, v});
      ++step;
    }
    run.log_metric("loss", total / 4, epoch_index);
    points["loss"].push_back({epoch_index, total / 4});
  }
};

// Checks with MlflowClient that the run holds exactly `expected` (params, tags, metric points, status,
// artifacts).
void check_with_mlflow_client(const std::string& uri, const std::string& run_id, const json& expected) {
  TempDir tmp("kiln-mlflow-check");
  std::string path = tmp / "expected.json";
  std::ofstream(path) << expected.dump();
  test::PythonResult r = test::run_python(R"PY(
import sys, json, math, os, tempfile
from mlflow.tracking import MlflowClient
uri, run_id, expected = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
def fail(m):
    print('FAIL:', m); sys.exit(1)
c = MlflowClient(tracking_uri=uri)
run = c.get_run(run_id)
exp = c.get_experiment(run.info.experiment_id)
if exp.name != expected['experiment']: fail('experiment %r' % exp.name)
if run.info.status != expected['status']: fail('status %r' % run.info.status)
if run.info.end_time is None: fail('no end time')
if run.info.run_name != expected['run_name']: fail('run name %r' % run.info.run_name)
if run.data.params != expected['params']: fail('params %r != %r' % (run.data.params, expected['params']))
for k, v in expected['tags'].items():
    if run.data.tags.get(k) != v: fail('tag %s: %r' % (k, run.data.tags.get(k)))
def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b
for key, points in expected['metrics'].items():
    hist = sorted((m.step, m.value) for m in c.get_metric_history(run_id, key))
    want = sorted((s, float(v)) for s, v in points)
    if len(hist) != len(want) or not all(hs == ws and same(hv, wv) for (hs, hv), (ws, wv) in zip(hist, want)):
        fail('metric %s: %r != %r' % (key, hist[:6], want[:6]))
for rel, content in expected.get('artifacts', {}).items():
    folder = os.path.dirname(rel)
    listed = [a.path for a in c.list_artifacts(run_id, folder or None)]
    if rel not in listed: fail('artifact %s not in %r' % (rel, listed))
    local = c.download_artifacts(run_id, rel, tempfile.mkdtemp())
    if open(local).read() != content: fail('artifact %s content differs' % rel)
print('ok')
)PY",
                                          {uri, run_id, path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& content) {
  std::string path = dir / name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace

TEST(MlflowRun, HandWrittenLoopReadBackByMlflowClient) {
  TempDir tmp("kiln-mlflow");
  test::MlflowServer server(tmp.path());
  std::string why;
  if (!server.start(&why)) FAIL() << why;

  MlflowRun run({.tracking_uri = server.uri(),
                 .experiment_name = "kiln-hand-loop",
                 .run_name = "linear-sgd",
                 .tags = {{"team", "kiln"}}});
  ASSERT_FALSE(run.run_id().empty());
  run.log_params({{"lr", 0.05}, {"optimizer", "sgd"}, {"epochs", 3}, {"nesterov", false}});
  run.set_tag("stage", "test");
  HandLoop loop;
  for (int e = 0; e < 3; ++e) loop.epoch(run, e);
  // Values JSON cannot carry as numbers still arrive.
  run.log_metric("odd", std::numeric_limits<double>::quiet_NaN(), 0);
  run.log_metric("odd", std::numeric_limits<double>::infinity(), 1);
  run.log_metric("odd", -0.0, 2);
  // float() reads the strings; MLflow's store keeps +inf as the largest double, as with its Python client.
  loop.points["odd"] = json::array({{0, "nan"}, {1, std::numeric_limits<double>::max()}, {2, -0.0}});
  std::string csv = "epoch,loss\n0,1.5\n1,0.7\n2,0.3\n";
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>\n";
  run.log_artifact(write_file(tmp, "history.csv", csv));
  run.log_artifact(write_file(tmp, "loss.svg", svg), "plots");
  MlflowReport report = run.end();
  EXPECT_TRUE(report.complete()) << report.summary();
  EXPECT_EQ(report.metrics_logged, 12u + 3u + 3u);
  EXPECT_EQ(report.metrics_sent, report.metrics_logged);
  EXPECT_EQ(report.artifacts_uploaded, 2u);

  json expected = {{"experiment", "kiln-hand-loop"},
                   {"run_name", "linear-sgd"},
                   {"status", "FINISHED"},
                   {"params", {{"lr", "0.05"}, {"optimizer", "sgd"}, {"epochs", "3"}, {"nesterov", "False"}}},
                   {"tags", {{"team", "kiln"}, {"stage", "test"}, {"mlflow.source.type", "LOCAL"}}},
                   {"metrics", loop.points},
                   {"artifacts", {{"history.csv", csv}, {"plots/loss.svg", svg}}}};
  check_with_mlflow_client(server.uri(), run.run_id(), expected);
}

namespace {
size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(MlflowRun, ServerKilledMidRunTrainingFinishesAndReportsLostPoints) {
  TempDir tmp("kiln-mlflow-kill");
  test::MlflowServer server(tmp.path());
  std::string why;
  if (!server.start(&why)) FAIL() << why;
  MlflowRun run({.tracking_uri = server.uri(), .experiment_name = "kiln-kill", .end_timeout_s = 2.0});
  ASSERT_FALSE(run.run_id().empty());
  HandLoop loop;
  loop.epoch(run, 0);
  testing::internal::CaptureStderr();
  server.kill();
  auto t0 = std::chrono::steady_clock::now();
  for (int e = 1; e < 4; ++e) loop.epoch(run, e);  // training goes on: logging neither throws nor waits
  MlflowReport report = run.end();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(loop.step, 16);
  EXPECT_EQ(report.metrics_logged, 20u);
  EXPECT_GE(report.metrics_lost, 15u);  // everything logged after the kill, at least
  EXPECT_EQ(report.metrics_sent + report.metrics_lost, report.metrics_logged);
  EXPECT_FALSE(report.status_recorded);
  EXPECT_FALSE(report.complete());
  EXPECT_LT(seconds, 2.0 + 10.0 + 5.0) << "end() must give up after end_timeout_s (+ one request timeout)";
  EXPECT_EQ(count_of(err, "cannot reach the MLflow tracking server"), 1u) << err;
  EXPECT_NE(err.find("LOST"), std::string::npos) << "the loss is reported: " << err;
}

TEST(MlflowRun, ServerRestartedMidRunLosesNothing) {
  TempDir tmp("kiln-mlflow-restart");
  test::MlflowServer server(tmp.path());
  std::string why;
  if (!server.start(&why)) FAIL() << why;
  MlflowRun run({.tracking_uri = server.uri(),
                 .experiment_name = "kiln-restart",
                 .run_name = "restarted",
                 .end_timeout_s = 120.0,
                 .max_backoff_s = 1.0});
  ASSERT_FALSE(run.run_id().empty());
  run.log_param("lr", 0.05);
  HandLoop loop;
  loop.epoch(run, 0);
  server.kill();
  loop.epoch(run, 1);  // queued while the server is down
  loop.epoch(run, 2);
  test::MlflowServer again(tmp.path(), server.port());  // same database, same port
  if (!again.start(&why)) FAIL() << why;
  MlflowReport report = run.end();
  EXPECT_TRUE(report.complete()) << report.summary();
  EXPECT_EQ(report.metrics_lost, 0u);
  json expected = {{"experiment", "kiln-restart"}, {"run_name", "restarted"}, {"status", "FINISHED"},
                   {"params", {{"lr", "0.05"}}},   {"tags", json::object()},  {"metrics", loop.points}};
  check_with_mlflow_client(again.uri(), run.run_id(), expected);
}

TEST(MlflowRun, ServerDownAtStartWarnsOnceAndCountsEverythingLost) {
  std::string uri = "http://127.0.0.1:" + std::to_string(test::free_port());  // nothing listens there
  testing::internal::CaptureStderr();
  MlflowReport report;
  {
    MlflowRun run({.tracking_uri = uri, .end_timeout_s = 1.0});
    EXPECT_TRUE(run.run_id().empty());
    for (int i = 0; i < 50; ++i) run.log_metric("loss", 1.0 / (i + 1), i);
    run.log_param("lr", 0.1);
    report = run.end(RunStatus::failed);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(report.run_created);
  EXPECT_EQ(report.metrics_logged, 50u);
  EXPECT_EQ(report.metrics_lost, 50u);
  EXPECT_EQ(report.params_lost, 1u);
  EXPECT_EQ(count_of(err, "cannot reach the MLflow tracking server"), 1u) << err;
  EXPECT_NE(err.find("never created"), std::string::npos) << err;
}

TEST(MlflowRun, AServerThatIsNotMlflowIsReportedNeverThrown) {
  // Python's http.server serves files: get-by-name answers 200 with JSON that is not MLflow's (a number
  // where MLflow sends a string id), every POST 501.
  TempDir tmp("kiln-not-mlflow");
  std::filesystem::create_directories(tmp / "api/2.0/mlflow/experiments");
  std::ofstream(tmp / "api/2.0/mlflow/experiments/get-by-name") << R"({"experiment": {"experiment_id": 5}})";
  int port = test::free_port();
  std::string why;
  std::string python = test::test_python(&why);
  if (python.empty()) FAIL() << why;
  test::ServerProcess server(
      {python, "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory", tmp.path()},
      tmp / "server.log");
  ASSERT_TRUE(server.wait_for_port(port, 60, &why)) << why;
  testing::internal::CaptureStderr();
  MlflowReport report;
  {
    MlflowRun run({.tracking_uri = "http://127.0.0.1:" + std::to_string(port), .end_timeout_s = 1.0});
    run.log_metric("loss", 0.5, 0);
    run.log_param("bad_utf8", std::string("\xff\xfe"));  // must not throw in the sender either
    report = run.end();
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(report.run_created);
  EXPECT_EQ(report.metrics_lost, 1u);
  EXPECT_NE(err.find("not an MLflow tracking server"), std::string::npos) << err;
}

TEST(MlflowRun, BadInputIsAClearError) {
  std::string uri = "http://127.0.0.1:" + std::to_string(test::free_port());
  testing::internal::CaptureStderr();
  {
    MlflowRun run({.tracking_uri = uri, .end_timeout_s = 0.0});
    EXPECT_THROW(run.log_metric("", 1.0), Error);
    EXPECT_THROW(run.log_metric("bad*key", 1.0), Error);
    EXPECT_THROW(run.log_param("../escape", 1), Error);
    EXPECT_THROW(run.log_param("long", std::string(7000, 'x')), Error);
    EXPECT_THROW(run.log_artifact("/nonexistent/file.csv"), Error);
    run.log_param("lr", 0.1);
    EXPECT_NO_THROW(run.log_param("lr", 0.1));  // the same value again is fine
    EXPECT_THROW(run.log_param("lr", 0.2), Error);
    run.end();
    EXPECT_THROW(run.log_metric("after_end", 1.0), Error);
  }
  testing::internal::GetCapturedStderr();
  EXPECT_THROW(MlflowRun({.tracking_uri = "file:///tmp/mlruns"}), Error);
  const char* saved = std::getenv("MLFLOW_TRACKING_URI");
  std::string saved_value = saved ? saved : "";
  unsetenv("MLFLOW_TRACKING_URI");
  try {
    MlflowRun run;
    ADD_FAILURE() << "no tracking URI must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MLFLOW_TRACKING_URI"), std::string::npos) << e.what();
  }
  if (saved) setenv("MLFLOW_TRACKING_URI", saved_value.c_str(), 1);
}
