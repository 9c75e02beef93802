// tests/test_checkpoint_interop.cpp: kiln's HDF5 files are useful outside kiln. h5py (the test venv's)
// reads a checkpoint's attributes, groups, dtypes and shapes and verifies every crc32 with zlib; PyTorch
// (Debian's torch with its h5py) rebuilds the demo MLP and CNN as torch.nn.Sequential, loads the /model
// tensors by name into its state_dict and computes the logits kiln computed on real Fashion-MNIST images;
// the reverse, a state dict PyTorch wrote into the same layout, loads into kiln strictly and predicts what
// PyTorch predicted; and h5dump -H shows the tree.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include <kiln/kiln.h>

#include "support/helpers.h"
#include "support/python_validator.h"
#include "support/temp_dir.h"

using kiln::DType;
using kiln::Tensor;
namespace nn = kiln::nn;
namespace io = kiln::nn::io;
namespace data = kiln::data;

namespace {

const char* const kDebianPython = "/usr/bin/python3";

// The demo's two models, layer for layer (examples/fashion_mnist_demo.cpp).
std::shared_ptr<nn::Sequential> demo_mlp() {
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(256, 10));
}
std::shared_ptr<nn::Sequential> demo_cnn() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(1, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10));
}

// The same models in PyTorch, for the Python side of both directions.
const char* const kTorchModels = R"(
import torch
T = torch.nn
def build(kind):
    if kind == "mlp":
        return T.Sequential(T.Flatten(), T.Linear(784, 512), T.ReLU(), T.Dropout(0.2), T.Linear(512, 256),
                            T.ReLU(), T.Dropout(0.2), T.Linear(256, 10))
    return T.Sequential(T.Conv2d(1, 32, 3, padding=1), T.BatchNorm2d(32), T.ReLU(), T.MaxPool2d(2),
                        T.Conv2d(32, 64, 3, padding=1), T.BatchNorm2d(64), T.ReLU(), T.MaxPool2d(2), T.Flatten(),
                        T.Linear(64 * 7 * 7, 128), T.ReLU(), T.Dropout(0.25), T.Linear(128, 10))
)";

// 64 real test images, scaled to [0, 1], shape (64, 1, 28, 28).
Tensor fashion_images() {
  auto [train, test] = data::FashionMNIST::load();
  return data::to_tensor(test.images.narrow(0, 0, 64));
}

// A trained-looking model: a few training-mode batches move BatchNorm's statistics off their start.
void warm_up(nn::Sequential& model, const Tensor& x) {
  model.train();
  kiln::autograd::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) model(x);
  model.eval();
}

// max |a - b| / max |b|.
double relative_error(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) diff = std::max(diff, std::abs(va[i] - vb[i]));
  for (double v : vb) scale = std::max(scale, std::abs(v));
  return diff / scale;
}

void kiln_to_torch(const std::string& kind) {
  std::string why;
  if (!kiln::test::python_has({"torch", "h5py", "numpy"}, &why, kDebianPython)) FAIL() << why;
  kiln::test::TempDir dir("kiln-torch");
  kiln::manual_seed(3);
  auto model = kind == "mlp" ? demo_mlp() : demo_cnn();
  const Tensor x = fashion_images();
  warm_up(*model, x);
  Tensor logits;
  {
    kiln::autograd::NoGradGuard no_grad;
    logits = (*model)(x);
  }
  io::save_checkpoint(dir.file("ck.h5"), *model, {.extra = {{"inputs", x}, {"logits", logits}}});
  const std::string script = std::string(kTorchModels) + R"(
import sys, h5py, numpy as np
path, kind = sys.argv[1], sys.argv[2]
model = build(kind)
with h5py.File(path, "r") as f:
    state = {name: torch.from_numpy(np.asarray(d[()])) for name, d in f["model"].items()}
    x = torch.from_numpy(f["extra/inputs"][()])
    expected = f["extra/logits"][()]
model.load_state_dict(state, strict=True)
model.eval()
with torch.no_grad():
    got = model(x).numpy()
err = np.abs(got - expected).max() / np.abs(expected).max()
print(f"{kind}: {len(state)} tensors; max |torch - kiln| / max |kiln| = {err:.3g}")
sys.exit(0 if err <= 1e-6 else 1)
)";
  auto r = kiln::test::run_python(script, {dir.file("ck.h5"), kind}, kDebianPython);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::printf("%s", r.output.c_str());
}

void torch_to_kiln(const std::string& kind) {
  std::string why;
  if (!kiln::test::python_has({"torch", "h5py", "numpy"}, &why, kDebianPython)) FAIL() << why;
  kiln::test::TempDir dir("kiln-from-torch");
  const Tensor x = fashion_images();
  io::save_checkpoint(dir.file("inputs.h5"), nn::Linear(1, 1), {.rng = false, .extra = {{"inputs", x}}});
  // The README's recipe: a PyTorch state dict into the kiln layout with h5py.
  const std::string script = std::string(kTorchModels) + R"(
import sys, h5py, numpy as np
inputs, out, kind = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(0)
model = build(kind)
with h5py.File(inputs, "r") as f:
    x = torch.from_numpy(f["extra/inputs"][()])
model.train()
with torch.no_grad():
    for _ in range(3):
        model(x)
model.eval()
with torch.no_grad():
    logits = model(x).numpy()
with h5py.File(out, "w") as f:
    g = f.create_group("model")
    for name, t in model.state_dict().items():
        g.create_dataset(name, data=t.numpy())
    f.create_dataset("outputs/logits", data=logits)
)";
  auto r = kiln::test::run_python(script, {dir.file("inputs.h5"), dir.file("torch.h5"), kind}, kDebianPython);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  kiln::manual_seed(9);
  auto model = kind == "mlp" ? demo_mlp() : demo_cnn();
  io::LoadReport report = io::load_weights(dir.file("torch.h5"), *model);
  EXPECT_TRUE(report.ok()) << report.str();
  EXPECT_EQ(report.loaded.size(), model->state_dict().size());
  model->eval();
  kiln::autograd::NoGradGuard no_grad;
  const Tensor logits = (*model)(x);
  const Tensor expected = io::read_group(dir.file("torch.h5"), "outputs").at("logits");
  const double err = relative_error(logits, expected);
  EXPECT_LE(err, 1e-6) << kind;
  std::printf("%s: PyTorch -> kiln, max |kiln - torch| / max |torch| = %.3g\n", kind.c_str(), err);
}

TEST(CheckpointInterop, PyTorchRebuildsTheDemoMlpAndGetsKilnsLogits) { kiln_to_torch("mlp"); }
TEST(CheckpointInterop, PyTorchRebuildsTheDemoCnnAndGetsKilnsLogits) { kiln_to_torch("cnn"); }
TEST(CheckpointInterop, APyTorchStateDictLoadsIntoTheKilnMlp) { torch_to_kiln("mlp"); }
TEST(CheckpointInterop, APyTorchStateDictLoadsIntoTheKilnCnn) { torch_to_kiln("cnn"); }

io::Extra every_dtype() {
  kiln::manual_seed(5);
  io::Extra extra;
  Tensor base = kiln::randn({3, 4}) * 10.0;
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::boolean, DType::f16})
    extra[std::string(kiln::dtype_name(d))] = base.to(d);
  extra["note"] = std::string("hello");
  return extra;
}

TEST(CheckpointInterop, H5pyReadsEveryGroupDtypeAndChecksum) {
  std::string why;
  if (!kiln::test::python_has({"h5py", "numpy"}, &why)) FAIL() << why;
  kiln::test::TempDir dir("kiln-h5py");
  nn::Sequential model(nn::Linear(4, 8), nn::BatchNorm1d(8), nn::Linear(8, 2));
  kiln::optim::AdamW opt(model.parameters());
  kiln::optim::StepLR sched(opt, {.step_size = 1});
  io::save_checkpoint(dir.file("ck.h5"), model,
                      {.optimizer = &opt,
                       .scheduler = &sched,
                       .progress = {.epoch = 3, .global_step = 30},
                       .history = {{"loss", {1.0, 0.5, 0.25}}},
                       .extra = every_dtype()});
  const std::string script = R"(
import sys, zlib, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
# kiln writes fixed-length UTF-8 strings (kept in the checksummed object headers); h5py gives bytes.
text = lambda v: v.decode() if isinstance(v, bytes) else v
a = {k: text(v) for k, v in f.attrs.items()}
assert a["format"] == "kiln-hdf5" and a["format_version"] == 1 and a["content"] == "checkpoint", dict(a)
assert "BatchNorm1d" in a["model_summary"] and a["created"].endswith("Z") and a["kiln_version"], dict(a)
assert set(f.keys()) >= {"model", "optimizer", "scheduler", "progress", "history", "extra"}, list(f.keys())
# kiln's groups track creation order, so h5py lists the state dict in the model's order.
assert list(f["model"].keys()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
    "1.running_var", "1.num_batches_tracked", "2.weight", "2.bias"], list(f["model"].keys())
assert f["model/0.weight"].shape == (8, 4) and f["model/0.weight"].dtype == np.float32
assert f["model/1.num_batches_tracked"].shape == () and f["model/1.num_batches_tracked"].dtype == np.int64
assert text(f["optimizer"].attrs["name"]) == "AdamW" and f["optimizer/param_groups.0.lr"][()] == 1e-3
assert f["progress/epoch"][()] == 3 and list(f["history/loss"][()]) == [1.0, 0.5, 0.25]
e = f["extra"]
assert e["f16"].dtype == np.float16 and e["bool"].dtype == np.bool_ and e["u8"].dtype == np.uint8
assert np.array_equal(e["f16"][()].astype(np.float32), e["f32"][()].astype(np.float16).astype(np.float32))
assert e["note"].asstr()[()] == "hello"
checked = 0
def verify(name, obj):
    global checked
    if isinstance(obj, h5py.Dataset):
        raw = obj[()]
        raw = raw if isinstance(raw, bytes) else np.ascontiguousarray(raw).tobytes()
        assert zlib.crc32(raw) == obj.attrs["crc32"], name
        checked += 1
f.visititems(verify)
print(f"h5py {h5py.__version__}: {checked} datasets, every crc32 verified")
assert checked > 30
)";
  auto r = kiln::test::run_python(script, {dir.file("ck.h5")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(CheckpointInterop, H5dumpShowsATidyTree) {
  kiln::test::TempDir dir("kiln-h5dump");
  nn::Sequential model(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  io::save_weights(dir.file("w.h5"), model);
  FILE* p = ::popen(("h5dump -H " + dir.file("w.h5") + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << "h5dump (hdf5-tools) failed:\n" << out;
  EXPECT_CONTAINS(out, "GROUP \"model\"");
  EXPECT_CONTAINS(out, "DATASET \"0.weight\"");
  EXPECT_CONTAINS(out, "H5T_IEEE_F32LE");
  EXPECT_CONTAINS(out, "DATASPACE  SIMPLE { ( 8, 4 ) / ( 8, 4 ) }");
  EXPECT_CONTAINS(out, "ATTRIBUTE \"crc32\"");
  EXPECT_CONTAINS(out, "ATTRIBUTE \"model_summary\"");
}

}  // namespace
