// tests/test_checkpoint_robust.cpp: checkpoints survive the worst: a writer killed with SIGKILL at random
// moments of a save (>= 50 times) always leaves a previous checkpoint that loads and verifies; truncated,
// bit-flipped, foreign and hostile HDF5 files (made with h5py) give a kiln::Error that says what is wrong,
// never a crash, a hang or a huge allocation.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <kiln/kiln.h>

#include "support/child_process.h"
#include "support/helpers.h"
#include "support/python_validator.h"
#include "support/temp_dir.h"

using kiln::DType;
using kiln::Tensor;
using kiln::testing::error_of;
namespace nn = kiln::nn;
namespace io = kiln::nn::io;
namespace fs = std::filesystem;

namespace {

// A model of a few MB, so that a save takes long enough for kills to land inside it.
nn::Sequential kill_model() { return nn::Sequential(nn::Linear(512, 1024), nn::Linear(1024, 512)); }

void save_generation(const std::string& path, nn::Sequential& model, int64_t generation) {
  kiln::autograd::NoGradGuard no_grad;
  for (Tensor p : model.parameters()) p.fill_(static_cast<double>(generation));
  io::save_checkpoint(path, model, {.rng = false, .extra = {{"generation", generation}}});
}

// Loads the file and checks that it is one whole generation: every weight equals the generation number.
int64_t verify_generation(const std::string& path) {
  nn::Sequential model = kill_model();
  io::Checkpoint ck{.rng = false};
  io::load_checkpoint(path, model, ck);
  const int64_t g = std::get<int64_t>(ck.extra.at("generation"));
  for (const Tensor& p : model.parameters()) {
    const Tensor expected = kiln::full(p.shape(), static_cast<double>(g));
    KILN_CHECK(p.to_vector<float>() == expected.to_vector<float>(), path, ": weights are not generation ", g);
  }
  return g;
}

// args: path, first generation. Saves generation after generation until killed.
const bool saver = kiln::test::register_child_role("save-forever", [](const std::vector<std::string>& a) {
  nn::Sequential model = kill_model();
  for (int64_t g = std::stoll(a[1]);; ++g) save_generation(a[0], model, g);
  return 0;
});

int count_temporaries(const std::string& folder) {
  int n = 0;
  for (auto& e : fs::directory_iterator(folder))
    if (e.path().filename().string().find(".kiln-tmp-") != std::string::npos) ++n;
  return n;
}

TEST(CheckpointKill, SigkillAtRandomPointsOfASaveAlwaysLeavesALoadableCheckpoint) {
  kiln::test::TempDir dir("kiln-kill");
  const std::string path = dir.file("ck.h5");
  {
    nn::Sequential model = kill_model();
    save_generation(path, model, 0);
  }
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> delay_us(30000, 300000);
  constexpr int kKills = 60;
  int torn = 0;  // kills that caught a save half-written (its temporary file was left behind)
  std::set<int64_t> generations;
  int64_t next = 1;
  for (int i = 0; i < kKills; ++i) {
    const pid_t pid = kiln::test::start_child("save-forever", {path, std::to_string(next)});
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_EQ(kiln::test::wait_child(pid), 128 + SIGKILL) << "the saver ended by itself";
    if (count_temporaries(dir.path()) > 0) ++torn;
    int64_t g = -1;
    ASSERT_NO_THROW(g = verify_generation(path)) << "after kill " << i;
    generations.insert(g);
    next = g + 1000;  // the next child's generations are recognizably its own
  }
  // The kills hit saves in progress, and many saves completed in between.
  EXPECT_GT(torn, kKills / 4) << "too few kills landed inside a save to prove anything";
  EXPECT_GT(generations.size(), 10u);
  // Leftover temporaries of killed writers are cleaned by the next successful save.
  nn::Sequential model = kill_model();
  save_generation(path, model, 7);
  EXPECT_EQ(count_temporaries(dir.path()), 0);
  EXPECT_EQ(verify_generation(path), 7);
}

// ---- damaged and hostile files

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Saved {
  std::string path;
  kiln::StateDict model_state;
};

nn::Sequential damage_model() {
  return nn::Sequential(nn::Linear(16, 32), nn::BatchNorm1d(32), nn::ReLU(), nn::Linear(32, 4));
}

TEST(CheckpointDamage, EveryTruncationIsAKilnError) {
  kiln::test::TempDir dir("kiln-trunc");
  kiln::manual_seed(1);
  nn::Sequential model = damage_model();
  kiln::optim::Adam opt(model.parameters());
  io::save_checkpoint(dir.file("ck.h5"), model, {.optimizer = &opt});
  const std::string bytes = read_bytes(dir.file("ck.h5"));
  int cases = 0;
  for (size_t len = 0; len < bytes.size(); len += std::max<size_t>(1, bytes.size() / 97)) {
    write_bytes(dir.file("cut.h5"), bytes.substr(0, len));
    nn::Sequential target = damage_model();
    kiln::optim::Adam opt2(target.parameters());
    io::Checkpoint ck{.optimizer = &opt2};
    const std::string msg = error_of([&] { io::load_checkpoint(dir.file("cut.h5"), target, ck); });
    EXPECT_CONTAINS(msg, "cut.h5");
    ++cases;
  }
  EXPECT_GT(cases, 90);
  write_bytes(dir.file("cut.h5"), bytes.substr(0, bytes.size() - 1));
  EXPECT_CONTAINS(error_of([&] { io::read_group(dir.file("cut.h5")); }), "cut.h5");
}

TEST(CheckpointDamage, FlippedBytesAreDetectedOrHarmless) {
  kiln::test::TempDir dir("kiln-flip");
  kiln::manual_seed(2);
  nn::Sequential model = damage_model();
  io::save_checkpoint(dir.file("ck.h5"), model, {.extra = {{"tag", std::string("original")}}});
  const std::string bytes = read_bytes(dir.file("ck.h5"));
  std::mt19937 rng(7);
  int detected = 0, harmless = 0;
  for (int i = 0; i < 300; ++i) {
    std::string damaged = bytes;
    const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << (i % 8)));
    write_bytes(dir.file("bad.h5"), damaged);
    nn::Sequential target = damage_model();
    io::Checkpoint ck;
    try {
      io::load_checkpoint(dir.file("bad.h5"), target, ck);
    } catch (const kiln::Error& e) {
      ++detected;
      continue;
    }
    // Loaded: the flip was in bytes nothing reads (free space, padding); the content must be the original.
    ++harmless;
    const kiln::StateDict a = model.state_dict(), b = target.state_dict();
    for (const auto& [name, t] : a)
      ASSERT_EQ(t.to_vector<double>(), b.at(name).to_vector<double>()) << "flip at " << at << " in " << name;
    ASSERT_EQ(ck.extra.size(), 1u) << "flip at " << at;
    ASSERT_EQ(std::get<std::string>(ck.extra.begin()->second), "original") << "flip at " << at;
    ASSERT_EQ(ck.extra.begin()->first, "tag") << "flip at " << at;
  }
  EXPECT_GT(detected, 150);
  SCOPED_TRACE(harmless);
}

TEST(CheckpointDamage, NotAnHdf5FileAtAll) {
  kiln::test::TempDir dir("kiln-foreign");
  nn::Linear model(2, 2);
  EXPECT_CONTAINS(error_of([&] { io::load_weights(dir.file("missing.h5"), model); }),
                  "missing.h5: cannot open: No such file");
  write_bytes(dir.file("empty.h5"), "");
  EXPECT_CONTAINS(error_of([&] { io::load_weights(dir.file("empty.h5"), model); }),
                  "not a readable HDF5 file");
  write_bytes(dir.file("text.h5"), std::string(5000, 'x'));
  EXPECT_CONTAINS(error_of([&] { io::load_weights(dir.file("text.h5"), model); }),
                  "not a readable HDF5 file");
  EXPECT_CONTAINS(error_of([&] { io::load_weights(dir.path(), model); }), "not a regular file");
}

// Files built with h5py to break a careless reader; each must give a kiln::Error naming the problem.
TEST(CheckpointDamage, HostileHdf5FilesFromH5py) {
  std::string why;
  if (!kiln::test::python_has({"h5py", "numpy"}, &why)) FAIL() << why;
  kiln::test::TempDir dir("kiln-hostile");
  const std::string script = R"(
import sys, h5py, numpy as np
d = sys.argv[1]
def model(name):
    f = h5py.File(f"{d}/{name}.h5", "w")
    return f, f.create_group("model")
f, g = model("external"); open(f"{d}/secret.bin", "wb").write(b"\0" * 64)
g.create_dataset("weight", shape=(4, 2), dtype="f4", external=[(f"{d}/secret.bin", 0, 32)]); f.close()
f, g = model("softlink"); g["real"] = np.zeros((2, 2), "f4"); g["weight"] = h5py.SoftLink("/model/real"); f.close()
f, g = model("extlink"); g["weight"] = h5py.ExternalLink("/etc/hostname", "/x"); f.close()
f, g = model("compound"); g.create_dataset("weight", data=np.zeros(4, dtype=[("a", "f4"), ("b", "i4")])); f.close()
f, g = model("huge"); g.create_dataset("weight", shape=(1 << 30, 1 << 10), dtype="f8", chunks=(1, 1024)); f.close()
f, g = model("string"); g["weight"] = "not a tensor"; f.close()
f, g = model("group"); g.create_group("weight"); f.close()
f, g = model("bomb"); g.create_dataset("weight", data=np.zeros((4096, 4096), "f4"), compression="gzip"); f.close()
f, g = model("nomodel"); del f["model"]; f["other"] = np.zeros(3); f.close()
f, g = model("kilnish"); f.attrs["format"] = "kiln-hdf5"; f.attrs["format_version"] = 99; f.attrs["content"] = "weights"; f.close()
f, g = model("nocrc"); f.attrs["format"] = "kiln-hdf5"; f.attrs["format_version"] = 1; f.attrs["content"] = "weights"
g.attrs["entries"] = 1; g["weight"] = np.zeros((2, 2), "f4"); f.close()
)";
  auto r = kiln::test::run_python(script, {dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  struct Case {
    const char* file;
    const char* expect;
  };
  const Case cases[] = {
      {"external", "keeps its data in external files"},
      {"softlink", "is a soft or external link"},
      {"extlink", "is a soft or external link"},
      {"compound", "has HDF5 type class 'compound'"},
      {"huge", "needs 8796093022208"},
      {"string", "has HDF5 type class 'string'"},
      {"group", "'model/weight' is not a dataset"},
      {"nomodel", "has no group 'model'"},
      {"kilnish", "format_version 99 is not one this kiln reads"},
      {"nocrc", "has no crc32 attribute"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = dir.file(std::string(c.file) + ".h5");
    EXPECT_CONTAINS(error_of([&] { io::read_group(path); }), c.expect);
  }
  // A compressed dataset that honestly expands ~1000x is read (deflate's ratio is what the file justifies).
  const kiln::StateDict bomb = io::read_group(dir.file("bomb.h5"));
  EXPECT_EQ(bomb.at("weight").shape(), (kiln::Shape{4096, 4096}));
}

}  // namespace
