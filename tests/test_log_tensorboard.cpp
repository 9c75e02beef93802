// SummaryWriter checked by TensorBoard itself: the event files are read back with tensorboard's own
// loader (EventFileLoader, EventAccumulator, its protos and PR-curve summary code) and by a real
// `tensorboard` server through its HTTP data API.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "support/python_validator.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/tensorboard_reader.h"

using namespace kiln;
using kiln::logs::SummaryWriter;
using kiln::test::TempDir;
using nlohmann::json;

namespace {

void require_tensorboard() {
  std::string why;
  if (!test::python_has({"tensorboard", "numpy", "PIL"}, &why)) FAIL() << why;
}

// Runs the loader prelude plus `script` with the log folder and the expectation file as arguments.
void check_with_tensorboard(const std::string& script, const std::string& logdir, const json& expected) {
  std::string expect_path = logdir + ".expected.json";
  std::ofstream(expect_path) << expected.dump();
  test::PythonResult r =
      test::run_python(std::string(test::kTensorBoardLoader) + script, {logdir, expect_path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::filesystem::remove(expect_path);
}

std::vector<double> as_doubles(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

TEST(SummaryWriter, EveryKindReadBackByTensorBoardsLoader) {
  require_tensorboard();
  TempDir tmp("kiln-tb");
  std::string logdir = tmp / "run";
  json expected;
  {
    SummaryWriter w(logdir);
    // Scalars: values float32 cannot hold exactly, extremes, signed zero, NaN and infinity.
    std::vector<double> values = {0.1,
                                  -0.0,
                                  0.0,
                                  1e-30,
                                  3.4e38,
                                  -2.5,
                                  1.0 / 3.0,
                                  std::numeric_limits<double>::quiet_NaN(),
                                  std::numeric_limits<double>::infinity()};
    for (size_t i = 0; i < 40; ++i) values.push_back(std::exp(-0.1 * static_cast<double>(i)) + 0.01 * i);
    for (size_t s = 0; s < values.size(); ++s) {
      w.add_scalar("loss/train", values[s], static_cast<int64_t>(s));
      float f = static_cast<float>(values[s]);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      expected["scalars"]["loss/train"].push_back({s, bits});
    }
    w.add_scalar("lr", 1e-3, 7);
    expected["scalars"]["lr"].push_back({7, std::bit_cast<uint32_t>(1e-3f)});

    manual_seed(3);
    Tensor weights = randn({50, 20});
    Tensor mixed = from_vector<double>({0.0, 0.0, -1.0, 1e-13, -1e-13, 5.0, 1e19, -7.25, 2.0, 2.0});
    Tensor ints = arange(0, 100).reshape({10, 10}).transpose(0, 1);  // i64, non-contiguous
    w.add_histogram("fc/weight", weights, 3);
    w.add_histogram("mixed", mixed, 4);
    w.add_histogram("ints", ints, 5);
    expected["histograms"]["fc/weight"] = {{"step", 3}, {"values", as_doubles(weights)}};
    expected["histograms"]["mixed"] = {{"step", 4}, {"values", as_doubles(mixed)}};
    expected["histograms"]["ints"] = {{"step", 5}, {"values", as_doubles(ints)}};

    // Images: CHW float RGB, HWC u8 RGBA, HW gray; the expected bytes are computed here independently.
    Tensor chw = rand({3, 5, 7});
    w.add_image("img/chw", chw, 1);
    std::vector<int> chw_px;
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 7; ++x)
        for (int64_t c = 0; c < 3; ++c)
          chw_px.push_back(static_cast<int>(std::lround(chw.at<float>({c, y, x}) * 255.0)));
    expected["images"]["img/chw"] = {{"h", 5}, {"w", 7}, {"c", 3}, {"px", chw_px}};
    Tensor hwc = randint(0, 256, {4, 6, 4}).to(DType::u8);
    w.add_image("img/hwc", hwc, 2, {.dataformats = "HWC"});
    std::vector<int> hwc_px;
    for (auto v : hwc.to_vector<int64_t>()) hwc_px.push_back(static_cast<int>(v));
    expected["images"]["img/hwc"] = {{"h", 4}, {"w", 6}, {"c", 4}, {"px", hwc_px}};
    Tensor gray = linspace(0, 1, 9 * 11).reshape({9, 11});
    w.add_image("img/gray", gray, 3, {.dataformats = "HW"});
    std::vector<int> gray_px;
    for (double v : gray.to_vector<double>()) gray_px.push_back(static_cast<int>(std::lround(v * 255.0)));
    expected["images"]["img/gray"] = {{"h", 9}, {"w", 11}, {"c", 1}, {"px", gray_px}};

    std::string text = "**bold** and `code`, ünïcödé, and a\nnewline";
    w.add_text("notes", text, 9);
    expected["texts"]["notes"] = {{"step", 9}, {"text", text}};

    Tensor labels = randint(0, 2, {300});
    Tensor predictions = rand({300});
    w.add_pr_curve("pr/class0", labels, predictions, 6, 33);
    expected["pr"]["pr/class0"] = {{"step", 6},
                                   {"labels", labels.to_vector<int64_t>()},
                                   {"predictions", predictions.to_vector<float>()},
                                   {"num_thresholds", 33}};

    w.add_scalars("acc", {{"train", 0.75}, {"val", 0.5}}, 2);
    w.add_hparams({{"lr", 0.001}, {"optimizer", "adamw"}, {"nesterov", true}, {"batch", 128}},
                  {{"hparam/accuracy", 0.875}, {"hparam/loss", 0.25}}, "trial-1");
    w.close();
  }

  check_with_tensorboard(R"PY(
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2, api_pb2
from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_data
from tensorboard.util import tensor_util
import io
from PIL import Image
logdir, expected = sys.argv[1], json.load(open(sys.argv[2]))
runs = load_runs(logdir)
ev = runs.get('.')
if not ev: fail('no events in the main run: %r' % list(runs))
if ev[0].file_version != 'brain.Event:2': fail('first record is %r' % ev[0])
got = scalars(ev)
for tag, points in expected['scalars'].items():
    have = [(s, f32_bits(v)) for s, v in got.get(tag, [])]
    want = [(s, struct.pack('<I', b)) for s, b in points]
    if have != want: fail('scalar %s: %r != %r' % (tag, have[:5], want[:5]))

# Histograms: recompute TensorFlow's default buckets with NumPy and compare every bucket.
v, limits = 1e-12, []
while v < 1e20:
    limits.append(v); v *= 1.1
limits = [-x for x in reversed(limits)] + [0.0] + limits + [sys.float_info.max]
limits = np.array(limits)
raw = load_runs(logdir, raw=True)['.']
histos = {val.tag: (e.step, val.histo) for e in raw for val in e.summary.value if val.HasField('histo')}
for tag, h in expected['histograms'].items():
    step, proto = histos[tag]
    vals = np.array(h['values'], dtype=np.float64)
    counts = np.bincount(np.searchsorted(limits, vals, side='right'), minlength=len(limits)).astype(float)
    want_lim, want_cnt, i = [], [], 0
    while i < len(counts):
        end, c = limits[i], counts[i]; i += 1
        if c <= 0:
            while i < len(counts) and counts[i] <= 0:
                end = limits[i]; i += 1
        want_lim.append(end); want_cnt.append(c)
    if step != h['step']: fail('histogram %s step %d' % (tag, step))
    if list(proto.bucket_limit) != want_lim or list(proto.bucket) != want_cnt:
        fail('histogram %s buckets differ' % tag)
    if proto.num != len(vals) or proto.min != vals.min() or proto.max != vals.max(): fail('histogram %s min/max/num' % tag)
    if not np.isclose(proto.sum, vals.sum(), rtol=1e-12, atol=1e-9) or not np.isclose(proto.sum_squares, (vals * vals).sum(), rtol=1e-12):
        fail('histogram %s sums %r %r' % (tag, proto.sum, proto.sum_squares))

acc = event_accumulator.EventAccumulator(logdir, size_guidance={'histograms': 0, 'images': 0, 'scalars': 0})
acc.Reload()
if acc.Histograms('fc/weight')[0].histogram_value.num != 1000: fail('accumulator histogram')
for tag, im in expected['images'].items():
    evs = acc.Images(tag)
    if len(evs) != 1 or evs[0].height != im['h'] or evs[0].width != im['w']: fail('image %s size' % tag)
    pixels = np.asarray(Image.open(io.BytesIO(evs[0].encoded_image_string)))
    mode_channels = {'L': 1, 'RGB': 3, 'RGBA': 4}
    if pixels.reshape(-1).tolist() != im['px']: fail('image %s pixels differ' % tag)
    if pixels.shape[:2] != (im['h'], im['w']) or (pixels.shape[2] if pixels.ndim == 3 else 1) != im['c']:
        fail('image %s shape %r' % (tag, pixels.shape))

for tag, t in expected['texts'].items():
    vals = [(e.step, val) for e in ev for val in e.summary.value if val.tag == tag]
    step, val = vals[0]
    if val.metadata.plugin_data.plugin_name != 'text': fail('text plugin name')
    arr = tensor_util.make_ndarray(val.tensor)
    if step != t['step'] or arr.reshape(-1)[0].decode('utf-8') != t['text']: fail('text %r' % arr)

for tag, p in expected['pr'].items():
    vals = [(e.step, val) for e in ev for val in e.summary.value if val.tag == tag]
    step, val = vals[0]
    if val.metadata.plugin_data.plugin_name != 'pr_curves': fail('pr plugin name')
    meta = pr_data.PrCurvePluginData.FromString(val.metadata.plugin_data.content)
    # TensorBoard's PR-curve algorithm (pr_curve/summary.py, whose pb() needs TensorFlow), in NumPy.
    n = p['num_thresholds']
    labels = np.array(p['labels'], dtype=bool)
    pred = np.array(p['predictions'], dtype=np.float32)
    buckets = np.int32(np.floor(pred * (n - 1)))
    tp_b, _ = np.histogram(buckets, bins=n, range=(0, n - 1), weights=labels.astype(np.float64))
    fp_b, _ = np.histogram(buckets, bins=n, range=(0, n - 1), weights=(~labels).astype(np.float64))
    tp = np.cumsum(tp_b[::-1])[::-1]; fp = np.cumsum(fp_b[::-1])[::-1]
    tn = fp[0] - fp; fn = tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp); recall = tp / np.maximum(1e-7, tp + fn)
    want_arr = np.float32(np.stack((tp, fp, tn, fn, precision, recall)))
    have_arr = tensor_util.make_ndarray(val.tensor)
    if meta.num_thresholds != p['num_thresholds'] or step != p['step']: fail('pr metadata')
    if have_arr.shape != want_arr.shape or not np.array_equal(have_arr, want_arr):
        fail('pr curve differs:\n%r\n%r' % (have_arr, want_arr))

for key, value in [('train', 0.75), ('val', 0.5)]:
    s = scalars(runs.get('acc_' + key, []))
    if s.get('acc') != [(2, np.float32(value))]: fail('add_scalars run acc_%s: %r' % (key, s))

hp = runs.get('trial-1')
if not hp: fail('no hparams run: %r' % list(runs))
records = {v.tag: plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
           for e in hp for v in e.summary.value if v.metadata.plugin_data.plugin_name == 'hparams'}
exp = records['_hparams_/experiment'].experiment
types = {h.name: api_pb2.DataType.Name(h.type) for h in exp.hparam_infos}
if types != {'lr': 'DATA_TYPE_FLOAT64', 'optimizer': 'DATA_TYPE_STRING', 'nesterov': 'DATA_TYPE_BOOL', 'batch': 'DATA_TYPE_FLOAT64'}:
    fail('hparam types %r' % types)
if sorted(m.name.tag for m in exp.metric_infos) != ['hparam/accuracy', 'hparam/loss']: fail('metric infos')
start = records['_hparams_/session_start_info'].session_start_info.hparams
if (start['lr'].number_value, start['optimizer'].string_value, start['nesterov'].bool_value, start['batch'].number_value) != (0.001, 'adamw', True, 128.0):
    fail('session start %r' % start)
if records['_hparams_/session_end_info'].session_end_info.status != api_pb2.STATUS_SUCCESS: fail('status')
if scalars(hp) != {'hparam/accuracy': [(0, np.float32(0.875))], 'hparam/loss': [(0, np.float32(0.25))]}: fail('hparam metrics')
print('ok')
)PY",
                         logdir, expected);
}

namespace {
uintmax_t file_size(const std::string& path) {
  std::error_code ec;
  uintmax_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Waits up to `timeout_s` for `done`; false on timeout.
template <class F>
bool wait_for(F done, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The check shared by the crash tests: the run's scalar "x" is exactly steps 0..n-1 with value
// step * 0.5 (a complete prefix), and n >= min_points.
const char* kPrefixCheck = R"PY(
logdir, expected = sys.argv[1], json.load(open(sys.argv[2]))
runs = load_runs(logdir)
points = scalars(runs.get('.', [])).get('x', [])
steps = [s for s, _ in points]
if steps != list(range(len(steps))): fail('not a prefix of the steps: %r' % steps[:20])
if any(v != np.float32(s * 0.5) for s, v in points): fail('a value differs')
if len(points) < expected['min_points'] or len(points) > expected['max_points']:
    fail('%d points, expected %d to %d' % (len(points), expected['min_points'], expected['max_points']))
print('ok', len(points))
)PY";
}  // namespace

TEST(SummaryWriter, WritesInTheBackgroundWithoutFlush) {
  TempDir tmp("kiln-tb-bg");
  SummaryWriter w(tmp / "run", {.flush_secs = 0.5});
  uintmax_t header = file_size(w.event_file());
  EXPECT_GT(header, 0u) << "the file-version record is written at once";
  for (int i = 0; i < 3; ++i) w.add_scalar("x", i, i);  // fewer than max_queue
  EXPECT_TRUE(wait_for([&] { return file_size(w.event_file()) > header; }, 10.0))
      << "the background thread must write within flush_secs without flush()";
  uintmax_t after_three = file_size(w.event_file());
  for (int i = 3; i < 3 + 10; ++i) w.add_scalar("x", i, i);  // max_queue (10) wakes the writer early
  w.flush();
  EXPECT_GT(file_size(w.event_file()), after_three);
  w.close();
  EXPECT_THROW(w.add_scalar("x", 1.0, 99), Error);
}

TEST(SummaryWriter, TruncatedFileReadsUpToTheLastCompleteRecord) {
  require_tensorboard();
  TempDir tmp("kiln-tb-trunc");
  std::string full;
  {
    SummaryWriter w(tmp / "full");
    for (int s = 0; s < 100; ++s) w.add_scalar("x", s * 0.5, s);
    w.close();
    full = w.event_file();
  }
  std::ifstream in(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Cut one byte short of the end (the last record loses its CRC), and in the middle of the file.
  for (auto [cut, min_points, max_points] :
       {std::tuple{bytes.size() - 1, 99, 99}, std::tuple{bytes.size() / 2, 30, 60}}) {
    std::string dir = tmp / ("cut" + std::to_string(cut));
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/" + std::filesystem::path(full).filename().string(), std::ios::binary)
        << bytes.substr(0, cut);
    check_with_tensorboard(kPrefixCheck, dir, {{"min_points", min_points}, {"max_points", max_points}});
  }
}

TEST(SummaryWriter, ProcessKilledMidRunLeavesAReadableFile) {
  require_tensorboard();
  TempDir tmp("kiln-tb-kill");
  std::string logdir = tmp / "run";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child logs forever; only SIGKILL stops it, so nothing runs close() or flush().
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    SummaryWriter w(logdir, {.max_queue = 1000, .flush_secs = 0.1});
    for (int64_t s = 0;; ++s) {
      w.add_scalar("x", static_cast<double>(s) * 0.5, s);
      if (s % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  auto event_file = [&]() -> std::string {
    std::error_code ec;
    if (!std::filesystem::exists(logdir, ec)) return {};
    for (const auto& e : std::filesystem::directory_iterator(logdir, ec)) return e.path().string();
    return {};
  };
  bool grew = wait_for([&] { return file_size(event_file()) > 64 * 1024; }, 60.0);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(grew) << "the child did not write 64 KiB in 60 s";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // ~40 bytes per scalar record: 64 KiB holds well over 1000 points.
  check_with_tensorboard(kPrefixCheck, logdir, {{"min_points", 1000}, {"max_points", 1 << 30}});
}

TEST(SummaryWriter, BadInputIsAClearError) {
  TempDir tmp("kiln-tb-bad");
  SummaryWriter w(tmp / "run");
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([&] { w.add_scalar("", 1.0); }).find("tag is empty"), std::string::npos);
  EXPECT_NE(message([&] { w.add_histogram("h", Tensor()); }).find("undefined"), std::string::npos);
  EXPECT_NE(message([&] { w.add_histogram("h", zeros({0, 3})); }).find("no elements"), std::string::npos);
  EXPECT_NE(message([&] {
              w.add_histogram("h", from_vector<float>({1.0f, NAN}));
            }).find("NaN"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_image("img", rand({2, 4, 4})); }).find("2 channels"), std::string::npos);
  EXPECT_NE(message([&] { w.add_image("img", rand({4, 4})); }).find("3-D"), std::string::npos);
  EXPECT_NE(message([&] { w.add_image("img", full({3, 4, 4}, 1.5)); }).find("[0, 1]"), std::string::npos);
  EXPECT_NE(message([&] {
              w.add_image("img", full({3, 4, 4}, 300, {.dtype = DType::i64}));
            }).find("[0, 255]"),
            std::string::npos);
  EXPECT_NE(message([&] {
              w.add_image("img", rand({4, 4, 3}), 0, {.dataformats = "NCHW"});
            }).find("dataformats"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_pr_curve("pr", ones({3}), rand({4})); }).find("same"), std::string::npos);
  EXPECT_NE(message([&] { w.add_pr_curve("pr", full({3}, 2.0), rand({3})); }).find("0 or 1"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_pr_curve("pr", ones({3}), full({3}, 1.5)); }).find("[0, 1]"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_pr_curve("pr", ones({3}), rand({3}), 0, 1); }).find("num_thresholds"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_hparams({}, {}); }).find("no hyperparameters"), std::string::npos);
  EXPECT_NE(message([&] {
              w.add_hparams({{"lr", 0.1}}, {}, "../outside");
            }).find("inside"),
            std::string::npos);
  EXPECT_NE(message([&] { w.add_scalars("a", {{"x/y", 1.0}}); }).find("without '/'"), std::string::npos);
  // A log directory that cannot be created names the path.
  std::ofstream(tmp / "file") << "x";
  EXPECT_NE(message([&] { SummaryWriter bad(tmp / "file/sub"); }).find(tmp / "file/sub"), std::string::npos);
}

TEST(SummaryWriter, RealTensorBoardServerServesTheScalars) {
  require_tensorboard();
  TempDir tmp("kiln-tb-server");
  {
    SummaryWriter w(tmp / "logs/mlp");
    for (int s = 0; s < 25; ++s) w.add_scalar("loss", 2.0 / (s + 1), s);
    w.add_pr_curve("pr", randint(0, 2, {200}), rand({200}), 0, 11);
    w.add_hparams({{"lr", 0.01}, {"optimizer", "sgd"}}, {{"hparam/accuracy", 0.9}}, "trial");
    w.close();
  }
  int port = test::free_port();
  std::string tensorboard =
      (std::filesystem::path(test::test_python()).parent_path() / "tensorboard").string();
  test::ServerProcess server({tensorboard, "--logdir", tmp / "logs", "--host", "127.0.0.1", "--port",
                              std::to_string(port), "--reload_interval", "1", "--load_fast", "false"},
                             tmp / "tensorboard.log");
  std::string why;
  ASSERT_TRUE(server.wait_for_port(port, 120, &why)) << why;
  test::PythonResult r = test::run_python(R"PY(
import sys, json, time, urllib.request, urllib.parse
import numpy as np
base = 'http://127.0.0.1:%s' % sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as resp:
        return json.load(resp)
deadline = time.time() + 90
while True:
    try:
        data = get('/data/plugin/scalars/scalars?' + urllib.parse.urlencode({'run': 'mlp', 'tag': 'loss'}))
        if len(data) == 25: break
    except Exception as e:
        data = e
    if time.time() > deadline:
        print('FAIL: no scalars from the server:', data); sys.exit(1)
    time.sleep(0.5)
for s, (wall, step, value) in enumerate(data):
    if step != s or np.float32(value) != np.float32(2.0 / (s + 1)): print('FAIL: point', s, step, value); sys.exit(1)
runs = get('/data/runs')
if 'mlp' not in runs or 'mlp/trial' not in runs: print('FAIL: runs', runs); sys.exit(1)
pr = get('/data/plugin/pr_curves/pr_curves?' + urllib.parse.urlencode({'run': 'mlp', 'tag': 'pr'}))
entry = pr['mlp'][0]
# The plugin drops trailing thresholds where nothing is predicted positive (precision undefined).
n = len(entry['precision'])
if entry['step'] != 0 or not 2 <= n <= 11 or entry['true_positives'][0] + entry['false_positives'][0] != 200:
    print('FAIL: pr', pr); sys.exit(1)
print('ok')
)PY",
                                          {std::to_string(port)});
  EXPECT_EQ(r.exit_code, 0) << r.output << "\nserver log:\n" << server.log_tail();
}
