// The experiment-log callbacks of fit: TensorBoard (read back with TensorBoard's own loader) and
// MLflowLogger (against a real `mlflow server`, read back with MlflowClient).
#include <signal.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "support/mlflow_server.h"
#include "support/python_validator.h"
#include "support/temp_dir.h"
#include "support/tensorboard_reader.h"

using namespace kiln;
namespace train = kiln::nn::train;
using kiln::test::TempDir;
using nlohmann::json;

namespace {

// Three classes of 8x8 one-channel images that a small model separates within a few epochs.
struct Problem {
  std::shared_ptr<data::TensorDataset> train_set, val_set;
  Problem() {
    manual_seed(11);
    auto make = [](int64_t n) {
      Tensor y = randint(0, 3, {n});
      Tensor x = randn({n, 1, 8, 8}) * 0.5 + y.to(DType::f32).reshape({n, 1, 1, 1});
      return std::make_shared<data::TensorDataset>(x, y);
    };
    train_set = make(96);
    val_set = make(48);
  }
};

struct Trained {
  train::History history;
  std::vector<std::vector<double>> params;
};

Trained fit_once(const Problem& p, std::vector<train::CallbackPtr> callbacks, int64_t epochs = 3) {
  manual_seed(5);
  nn::Sequential model{nn::Conv2d(1, 4, 3, {.padding = 1}), nn::ReLU(), nn::Flatten(), nn::Dropout(0.1),
                       nn::Linear(4 * 8 * 8, 3)};
  optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  data::DataLoader loader(p.train_set, {.batch_size = 16, .shuffle = true, .seed = 3});
  Trained t;
  t.history = train::fit(model, opt, loader, train::Validation(data::DatasetPtr(p.val_set)),
                         {.epochs = epochs,
                          .metrics = {"accuracy"},
                          .verbose = 0,
                          .callbacks = callbacks,
                          .diagnostics = false});
  for (const auto& [name, param] : model.named_parameters()) t.params.push_back(param.to_vector<double>());
  return t;
}

std::atomic<int> sigints{0};
extern "C" void count_sigint(int) { ++sigints; }

json history_json(const train::History& h) {
  json j;
  for (const auto& key : h.keys()) j[key] = h.at(key);
  return j;
}

}  // namespace

TEST(TensorBoardCallback, FitLogsReadBackByTensorBoardAndTrainingIsUnchanged) {
  std::string why;
  if (!test::python_has({"tensorboard", "numpy", "PIL"}, &why)) FAIL() << why;
  TempDir tmp("kiln-tb-cb");
  Problem p;
  Trained plain = fit_once(p, {});
  auto tb = std::make_shared<train::TensorBoard>(train::TensorBoardOptions{.log_dir = tmp / "mlp",
                                                                           .update_freq = 2,
                                                                           .histogram_freq = 1,
                                                                           .sample_images = 2,
                                                                           .hparams = {{"model", "cnn"}}});
  Trained logged = fit_once(p, {tb});
  EXPECT_EQ(plain.params, logged.params) << "logging (gradient histograms included) must not change training";

  json expected = {{"history", history_json(logged.history)},
                   {"params", {"0.weight", "0.bias", "4.weight", "4.bias"}},
                   {"steps_per_epoch", 6}};
  std::string expect_path = tmp / "expected.json";
  std::ofstream(expect_path) << expected.dump();
  test::PythonResult r = test::run_python(std::string(test::kTensorBoardLoader) + R"PY(
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2
logdir, expected = sys.argv[1], json.load(open(sys.argv[2]))
h = expected['history']
runs = load_runs(logdir)
if not {'train', 'validation', '.'} <= set(runs): fail('runs %r' % list(runs))
tr, va = scalars(runs['train']), scalars(runs['validation'])
def series(points): return [(s, v) for s, v in points]
for key, tag in [('loss', 'epoch_loss'), ('accuracy', 'epoch_accuracy'), ('lr', 'epoch_learning_rate')]:
    want = [(e, np.float32(v)) for e, v in enumerate(h[key])]
    if tr.get(tag) != want: fail('train %s: %r != %r' % (tag, tr.get(tag), want))
for key, tag in [('val_loss', 'epoch_loss'), ('val_accuracy', 'epoch_accuracy')]:
    want = [(e, np.float32(v)) for e, v in enumerate(h[key])]
    if va.get(tag) != want: fail('validation %s: %r != %r' % (tag, va.get(tag), want))
steps = [s for s, _ in tr.get('batch_loss', [])]
if steps != list(range(2, 3 * expected['steps_per_epoch'] + 1, 2)): fail('batch_loss steps %r' % steps)
acc = event_accumulator.EventAccumulator(os.path.join(logdir, 'train'), size_guidance={'histograms': 0, 'images': 0})
acc.Reload()
tags = acc.Tags()
for name in expected['params']:
    for kind in ('weights', 'gradients'):
        hs = acc.Histograms('%s/%s' % (kind, name))
        if [x.step for x in hs] != [0, 1, 2]: fail('%s/%s steps %r' % (kind, name, [x.step for x in hs]))
        if hs[0].histogram_value.num <= 0: fail('empty histogram')
    if acc.Histograms('gradients/' + name)[-1].histogram_value.max == 0 and acc.Histograms('gradients/' + name)[-1].histogram_value.min == 0:
        fail('gradients of %s are all zero' % name)
if sorted(t for t in tags['images']) != ['samples/0', 'samples/1']: fail('images %r' % tags['images'])
img = acc.Images('samples/0')[0]
if (img.width, img.height) != (8, 8): fail('image size')
hp = [v for e in runs['.'] for v in e.summary.value if v.tag == '_hparams_/session_start_info']
if not hp: fail('no hparams session')
start = plugin_data_pb2.HParamsPluginData.FromString(hp[0].metadata.plugin_data.content).session_start_info.hparams
if start['optimizer'].string_value != 'SGD' or start['lr'].number_value != 0.05 or start['model'].string_value != 'cnn' or start['epochs'].number_value != 3:
    fail('hparams %r' % start)
final = scalars(runs['.'])
if final.get('hparam/val_accuracy') != [(0, np.float32(h['val_accuracy'][-1]))]: fail('final metrics %r' % final)
print('ok')
)PY",
                                          {tmp / "mlp", expect_path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(MLflowLoggerCallback, FitTrackedByARealServerFailedFitEndsFailedInterruptedEndsKilled) {
  TempDir tmp("kiln-mlflow-cb");
  test::MlflowServer server(tmp.path());
  std::string why;
  if (!server.start(&why)) FAIL() << why;
  Problem p;
  auto logger = std::make_shared<train::MLflowLogger>(train::MLflowLoggerOptions{
      .run = {.tracking_uri = server.uri(), .experiment_name = "kiln-fit", .run_name = "cnn"},
      .params = {{"model", "cnn"}}});
  Trained t = fit_once(p, {logger});
  ASSERT_NE(logger->run(), nullptr);
  EXPECT_TRUE(logger->report().complete()) << logger->report().summary();
  std::string run_id = logger->run()->run_id();

  // A fit that throws in its second epoch: the run ends FAILED when the callback goes away.
  std::string failed_id;
  {
    auto failing = std::make_shared<train::MLflowLogger>(train::MLflowLoggerOptions{
        .run = {.tracking_uri = server.uri(), .experiment_name = "kiln-fit", .run_name = "broken"}});
    auto thrower = std::make_shared<train::LambdaCallback>(train::LambdaCallbackFns{
        .on_epoch_begin = [](train::TrainContext& c) { KILN_CHECK(c.epoch < 1, "injected failure"); }});
    EXPECT_THROW(fit_once(p, {failing, thrower}), Error);
    failed_id = failing->run()->run_id();
  }

  // Ctrl-C in the second epoch: training stops after that batch, the run ends KILLED, and the handler
  // that was installed before fit gets the signal afterwards.
  struct sigaction counting {
  }, previous{};
  counting.sa_handler = count_sigint;
  sigemptyset(&counting.sa_mask);
  sigaction(SIGINT, &counting, &previous);
  auto interrupted = std::make_shared<train::MLflowLogger>(train::MLflowLoggerOptions{
      .run = {.tracking_uri = server.uri(), .experiment_name = "kiln-fit", .run_name = "interrupted"}});
  auto ctrl_c = std::make_shared<train::LambdaCallback>(
      train::LambdaCallbackFns{.on_batch_end = [](train::TrainContext& c) {
        if (c.epoch == 1 && c.batch == 2) raise(SIGINT);
      }});
  Trained stopped = fit_once(p, {ctrl_c, interrupted});
  sigaction(SIGINT, &previous, nullptr);
  EXPECT_EQ(sigints.load(), 1) << "the earlier SIGINT handler gets the interrupt once the run is recorded";
  EXPECT_EQ(stopped.history.size(), 2u);
  std::string killed_id = interrupted->run()->run_id();

  json expected = {{"history", history_json(t.history)}, {"csv", t.history.to_csv()}};
  std::string expect_path = tmp / "expected.json";
  std::ofstream(expect_path) << expected.dump();
  test::PythonResult r = test::run_python(R"PY(
import sys, json, os, tempfile
from mlflow.tracking import MlflowClient
uri, run_id, failed_id, killed_id, expected = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.load(open(sys.argv[5]))
def fail(m):
    print('FAIL:', m); sys.exit(1)
c = MlflowClient(tracking_uri=uri)
run = c.get_run(run_id)
if run.info.status != 'FINISHED' or run.info.run_name != 'cnn': fail('run %r' % run.info)
p = run.data.params
if p.get('optimizer') != 'SGD' or p.get('lr') != '0.05' or p.get('momentum') != '0.9' or p.get('epochs') != '3' or p.get('model') != 'cnn':
    fail('params %r' % p)
for key, values in expected['history'].items():
    hist = sorted((m.step, m.value) for m in c.get_metric_history(run_id, key))
    if hist != list(enumerate(values)): fail('metric %s: %r != %r' % (key, hist, values))
names = sorted(a.path for a in c.list_artifacts(run_id))
if names != ['history.csv', 'history.svg']: fail('artifacts %r' % names)
d = tempfile.mkdtemp()
if open(c.download_artifacts(run_id, 'history.csv', d)).read() != expected['csv']: fail('csv differs')
if '<svg' not in open(c.download_artifacts(run_id, 'history.svg', d)).read(): fail('svg')
bad = c.get_run(failed_id)
if bad.info.status != 'FAILED': fail('failed run status %r' % bad.info.status)
if [m.step for m in c.get_metric_history(failed_id, 'loss')] != [0]: fail('failed run metrics')
killed = c.get_run(killed_id)
if killed.info.status != 'KILLED': fail('interrupted run status %r' % killed.info.status)
if sorted(m.step for m in c.get_metric_history(killed_id, 'loss')) != [0, 1]: fail('interrupted run metrics')
if 'history.csv' not in [a.path for a in c.list_artifacts(killed_id)]: fail('interrupted run artifacts')
print('ok')
)PY",
                                          {server.uri(), run_id, failed_id, killed_id, expect_path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}
