// tests/test_checkpoint.cpp: HDF5 weights and checkpoints (nn/io): every dtype and shape round-trips
// bitwise; a model's weights, buffers and an optimizer's, scheduler's, GradScaler's, loader's and the
// generator's state come back exactly; strict and non-strict loads report missing, unexpected and
// mismatched entries; a failed save leaves the previous file as it was; and training resumed from a file in
// a new process (after whole epochs, and after batch k of an epoch) ends bit for bit where an uninterrupted
// run ends, with dropout, shuffling and a per-batch schedule.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include <kiln/kiln.h>

#include "support/child_process.h"
#include "support/helpers.h"
#include "support/temp_dir.h"

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::testing::error_of;
namespace nn = kiln::nn;
namespace io = kiln::nn::io;
namespace optim = kiln::optim;
namespace data = kiln::data;
namespace F = kiln::nn::functional;

namespace {

// Same dtype, shape and bytes.
::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure() << a.dtype() << " " << kiln::shape_str(a.shape()) << " vs "
                                         << b.dtype() << " " << kiln::shape_str(b.shape());
  Tensor x = a.contiguous(), y = b.contiguous();
  const size_t n = static_cast<size_t>(x.numel()) * kiln::dtype_size(x.dtype());
  if (n > 0 && std::memcmp(x.data_ptr(), y.data_ptr(), n) != 0)
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

void expect_same_state(const kiln::StateDict& a, const kiln::StateDict& b, const std::string& what) {
  ASSERT_EQ(a.keys(), b.keys()) << what;
  for (const auto& [name, t] : a) EXPECT_TRUE(bitwise_equal(t, b.at(name))) << what << ": " << name;
}

nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(1, 4, 3, {.padding = "same"}), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(4 * 4 * 4, 3));
}

TEST(Weights, RoundTripIsBitwiseIntoAFreshModel) {
  kiln::test::TempDir dir("kiln-weights");
  kiln::manual_seed(1);
  nn::Sequential a = small_cnn();
  a(kiln::randn({5, 1, 8, 8}));  // moves BatchNorm's running stats and num_batches_tracked off their start
  io::save_weights(dir.file("w.h5"), a);
  kiln::manual_seed(2);
  nn::Sequential b = small_cnn();
  io::LoadReport r = io::load_weights(dir.file("w.h5"), b);
  EXPECT_TRUE(r.ok()) << r.str();
  EXPECT_EQ(r.loaded.size(), a.state_dict().size());
  expect_same_state(a.state_dict(), b.state_dict(), "weights");
  EXPECT_EQ(b.state_dict().at("1.num_batches_tracked").item<int64_t>(), 1);
}

TEST(Weights, EveryDtypeAndShapeRoundTrips) {
  kiln::test::TempDir dir("kiln-dtypes");
  kiln::manual_seed(3);
  io::Extra extra;
  Tensor base = kiln::randn({3, 5}, {.dtype = DType::f64}) * 100.0;
  for (DType d :
       {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::boolean, DType::f16, DType::bf16}) {
    extra[std::string(kiln::dtype_name(d))] = base.to(d);
  }
  extra["scalar"] = kiln::scalar_tensor(2.5);
  extra["empty"] = kiln::empty({0, 4});
  extra["strided"] = base.t();  // non-contiguous: written in row-major order of its shape
  extra["rank5"] = kiln::randn({1, 2, 1, 3, 2});
  extra["count"] = int64_t{-7};
  extra["real"] = 0.1;
  extra["note"] = std::string("käse \"quoted\"\nline two");
  nn::Linear model(2, 2);
  io::save_checkpoint(dir.file("c.h5"), model, {.rng = false, .extra = extra});
  io::Checkpoint back{.rng = false};
  io::load_checkpoint(dir.file("c.h5"), model, back);
  ASSERT_EQ(back.extra.size(), extra.size());
  for (const auto& [key, value] : extra) {
    ASSERT_TRUE(back.extra.count(key)) << key;
    ASSERT_EQ(back.extra[key].index(), value.index()) << key;
    if (auto* t = std::get_if<Tensor>(&value)) {
      EXPECT_TRUE(bitwise_equal(std::get<Tensor>(back.extra[key]), t->contiguous())) << key;
    }
  }
  EXPECT_EQ(std::get<int64_t>(back.extra["count"]), -7);
  EXPECT_EQ(std::get<double>(back.extra["real"]), 0.1);
  EXPECT_EQ(std::get<std::string>(back.extra["note"]), "käse \"quoted\"\nline two");
}

TEST(Weights, StrictLoadNamesEveryDifferenceAndChangesNothing) {
  kiln::test::TempDir dir("kiln-strict");
  nn::Sequential saved(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  io::save_weights(dir.file("w.h5"), saved);
  // Layer 2 is wider, and there is a third Linear the file does not know; the file's 2.* names do not exist.
  nn::Sequential other(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 3), nn::Linear(3, 1));
  const kiln::StateDict before = other.state_dict();
  std::vector<Tensor> copies;
  for (const auto& [n, t] : before) copies.push_back(t.clone());
  const std::string msg = error_of([&] { io::load_weights(dir.file("w.h5"), other); });
  EXPECT_CONTAINS(msg, "w.h5");
  EXPECT_CONTAINS(msg, "missing keys (in the model, not in the file): [3.weight, 3.bias]");
  EXPECT_CONTAINS(msg, "mismatch '2.weight': file [2, 8] f32 vs model [3, 8] f32");
  EXPECT_CONTAINS(msg, "mismatch '2.bias': file [2] f32 vs model [3] f32");
  size_t i = 0;
  for (const auto& [n, t] : other.state_dict()) EXPECT_TRUE(bitwise_equal(t, copies[i++])) << n;

  // Non-strict: the matching layer 0 loads, the rest is reported.
  io::LoadReport r = io::load_weights(dir.file("w.h5"), other, {.strict = false});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_EQ(r.missing, (std::vector<std::string>{"3.weight", "3.bias"}));
  ASSERT_EQ(r.mismatched.size(), 2u);
  EXPECT_EQ(r.mismatched[0].file_shape, (Shape{2, 8}));
  EXPECT_EQ(r.mismatched[0].model_shape, (Shape{3, 8}));
  EXPECT_TRUE(bitwise_equal(other.state_dict().at("0.weight"), saved.state_dict().at("0.weight")));
  EXPECT_TRUE(bitwise_equal(other.state_dict().at("2.weight"), copies[2]));

  // Unexpected keys and dtype differences are reported too.
  nn::Sequential smaller(nn::Linear(4, 8));
  smaller.to(DType::f64);
  io::LoadReport r2 = io::load_weights(dir.file("w.h5"), smaller, {.strict = false});
  EXPECT_EQ(r2.unexpected, (std::vector<std::string>{"2.weight", "2.bias"}));
  ASSERT_EQ(r2.mismatched.size(), 2u);
  EXPECT_EQ(r2.mismatched[0].file_dtype, DType::f32);
  EXPECT_EQ(r2.mismatched[0].model_dtype, DType::f64);
  EXPECT_CONTAINS(r2.str(), "unexpected keys (in the file, not in the model): [2.weight, 2.bias]");
}

TEST(Checkpoint, EveryPartComesBackExactly) {
  kiln::test::TempDir dir("kiln-parts");
  kiln::manual_seed(4);
  nn::Sequential model(nn::Linear(3, 6), nn::BatchNorm1d(6), nn::ReLU(), nn::Linear(6, 2));
  optim::Adam opt(
      {{{model.parameters()[0], model.parameters()[1]}, {{"lr", 1e-2}}},
       {{model.parameters()[2], model.parameters()[3], model.parameters()[4], model.parameters()[5]}}},
      {.lr = 1e-3, .amsgrad = true});
  optim::StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  optim::GradScaler scaler({.init_scale = 1024, .growth_interval = 3});
  data::TensorDataset ds(kiln::randn({40, 3}), kiln::randint(0, 2, {40}));
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 9});
  int64_t steps = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (auto& b : loader) {
      opt.zero_grad();
      scaler.scale(F::cross_entropy(model(b.x), b.y)).backward();
      scaler.step(opt);
      scaler.update();
      ++steps;
      if (epoch == 1 && steps == 7) break;  // stop mid-epoch: the loader's position matters
    }
    sched.step();
  }
  kiln::rand({13});  // move the generator somewhere
  io::History history{{"loss", {0.5, 0.25}}, {"val_accuracy", {0.1, 0.9}}};
  io::save_checkpoint(dir.file("ck.h5"), model,
                      {.optimizer = &opt,
                       .scheduler = &sched,
                       .grad_scaler = &scaler,
                       .loader = &loader,
                       .progress = {.epoch = 1, .global_step = steps},
                       .history = history,
                       .extra = {{"run", std::string("abc")}}});
  const uint64_t seed = kiln::default_generator().seed(), offset = kiln::default_generator().offset();

  kiln::manual_seed(77);
  nn::Sequential model2(nn::Linear(3, 6), nn::BatchNorm1d(6), nn::ReLU(), nn::Linear(6, 2));
  optim::Adam opt2(
      {{{model2.parameters()[0], model2.parameters()[1]}, {{"lr", 1e-2}}},
       {{model2.parameters()[2], model2.parameters()[3], model2.parameters()[4], model2.parameters()[5]}}},
      {.lr = 1e-3, .amsgrad = true});
  optim::StepLR sched2(opt2, {.step_size = 2, .gamma = 0.5});
  optim::GradScaler scaler2;
  data::DataLoader loader2(ds, {.batch_size = 8, .shuffle = true, .seed = 1});
  io::Checkpoint ck{.optimizer = &opt2, .scheduler = &sched2, .grad_scaler = &scaler2, .loader = &loader2};
  io::LoadReport r = io::load_checkpoint(dir.file("ck.h5"), model2, ck);
  EXPECT_TRUE(r.ok()) << r.str();
  expect_same_state(model.state_dict(), model2.state_dict(), "model");
  expect_same_state(opt.state_dict(), opt2.state_dict(), "optimizer");
  expect_same_state(sched.state_dict(), sched2.state_dict(), "scheduler");
  expect_same_state(scaler.state_dict(), scaler2.state_dict(), "grad scaler");
  expect_same_state(loader.state_dict(), loader2.state_dict(), "loader");
  EXPECT_EQ(kiln::default_generator().seed(), seed);
  EXPECT_EQ(kiln::default_generator().offset(), offset);
  EXPECT_EQ(ck.progress.epoch, 1);
  EXPECT_EQ(ck.progress.global_step, steps);
  EXPECT_EQ(ck.history, history);
  EXPECT_EQ(std::get<std::string>(ck.extra.at("run")), "abc");
  // The loader from the file continues the epoch with the remaining batches (3 of 5), as one resumed from
  // the in-memory state does.
  data::DataLoader in_memory(ds, {.batch_size = 8, .shuffle = true, .seed = 1});
  in_memory.load_state_dict(loader.state_dict());
  std::vector<Tensor> rest1, rest2;
  for (auto& b : in_memory) rest1.push_back(b.y);
  for (auto& b : loader2) rest2.push_back(b.y);
  ASSERT_EQ(rest1.size(), 3u);
  ASSERT_EQ(rest2.size(), 3u);
  for (size_t i = 0; i < rest1.size(); ++i) EXPECT_TRUE(bitwise_equal(rest1[i], rest2[i]));

  // A different optimizer kind, or a part the file lacks, is refused by name.
  optim::SGD sgd(model2.parameters(), {.lr = 0.1});
  io::Checkpoint wrong{.optimizer = &sgd};
  EXPECT_CONTAINS(error_of([&] { io::load_checkpoint(dir.file("ck.h5"), model2, wrong); }),
                  "holds the state of a Adam optimizer, not SGD");
  io::save_weights(dir.file("w.h5"), model);
  io::Checkpoint needs_opt{.optimizer = &opt2};
  EXPECT_CONTAINS(error_of([&] { io::load_checkpoint(dir.file("w.h5"), model2, needs_opt); }),
                  "holds 'weights', not checkpoint");
  // Weights load from a checkpoint.
  EXPECT_TRUE(io::load_weights(dir.file("ck.h5"), model2).ok());
}

TEST(Checkpoint, AFailedSaveLeavesThePreviousFileAndNoTemporary) {
  kiln::test::TempDir dir("kiln-atomic");
  nn::Linear model(2, 3);
  const std::string path = dir.file("ck.h5");
  io::save_checkpoint(path, model, {.extra = {{"version", int64_t{1}}}});
  const auto size = std::filesystem::file_size(path);
  // An extra key HDF5 cannot name fails in the middle of writing.
  EXPECT_CONTAINS(error_of([&] {
                    io::save_checkpoint(path, model, {.extra = {{"a/b", int64_t{2}}}});
                  }),
                  "cannot store the name 'a/b'");
  EXPECT_EQ(std::filesystem::file_size(path), size);
  io::Checkpoint back;
  io::load_checkpoint(path, model, back);
  EXPECT_EQ(std::get<int64_t>(back.extra.at("version")), 1);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) ++files, (void)e;
  EXPECT_EQ(files, 1);
  EXPECT_CONTAINS(error_of([&] { io::save_weights(dir.file("no/such/folder/w.h5"), model); }),
                  "no/such/folder");
}

// ---- exact resume: a training run split across processes ends where the uninterrupted run ends

constexpr int64_t kEpochs = 4;

struct TrainingRun {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::AdamW> opt;
  std::unique_ptr<optim::OneCycleLR> sched;
  std::unique_ptr<data::DataLoader> loader;
  io::TrainingProgress progress;
  io::History history;
  double epoch_loss = 0;  // the running sums of the epoch in progress (saved in a checkpoint's extra)
  int64_t epoch_batches = 0;
};

// The data are always the same; `init_seed` changes only the initial weights (a resumed run loads them).
TrainingRun make_run(uint64_t init_seed) {
  kiln::manual_seed(5);
  Tensor x = kiln::randn({200, 12});
  Tensor y = kiln::randint(0, 3, {200});
  kiln::manual_seed(init_seed);
  TrainingRun r;
  r.model = std::make_shared<nn::Sequential>(nn::Linear(12, 24), nn::BatchNorm1d(24), nn::ReLU(),
                                             nn::Dropout(0.3), nn::Linear(24, 3));
  r.loader = std::make_unique<data::DataLoader>(
      data::TensorDataset(x, y),
      data::LoaderOptions{.batch_size = 16, .shuffle = true, .seed = 11, .num_workers = 1});
  r.opt = std::make_unique<optim::AdamW>(r.model->parameters(), optim::AdamWOptions{.lr = 1e-2});
  r.sched = std::make_unique<optim::OneCycleLR>(
      *r.opt, optim::OneCycleLROptions{.max_lr = 2e-2, .total_steps = kEpochs * r.loader->size()});
  return r;
}

// Trains until `end_epoch` epochs are complete, or returns after batch `stop_batch` of epoch `stop_epoch`.
void train(TrainingRun& r, int64_t end_epoch, int64_t stop_epoch = -1, int64_t stop_batch = -1) {
  r.model->train();
  while (r.progress.epoch < end_epoch) {
    for (auto& batch : *r.loader) {
      r.opt->zero_grad();
      Tensor loss = F::cross_entropy((*r.model)(batch.x), batch.y);
      loss.backward();
      r.opt->step();
      r.sched->step();
      r.epoch_loss += loss.item<double>();
      ++r.epoch_batches;
      ++r.progress.global_step;
      if (r.progress.epoch == stop_epoch && r.epoch_batches == stop_batch) return;
    }
    r.history["loss"].push_back(r.epoch_loss / static_cast<double>(r.epoch_batches));
    r.history["lr"].push_back(r.opt->lr());
    r.epoch_loss = 0;
    r.epoch_batches = 0;
    ++r.progress.epoch;
  }
}

void save_run(TrainingRun& r, const std::string& path) {
  io::save_checkpoint(path, *r.model,
                      {.optimizer = r.opt.get(),
                       .scheduler = r.sched.get(),
                       .loader = r.loader.get(),
                       .progress = r.progress,
                       .history = r.history,
                       .extra = {{"epoch_loss", r.epoch_loss}, {"epoch_batches", r.epoch_batches}}});
}

void load_run(TrainingRun& r, const std::string& path) {
  io::Checkpoint ck{.optimizer = r.opt.get(), .scheduler = r.sched.get(), .loader = r.loader.get()};
  io::load_checkpoint(path, *r.model, ck);
  r.progress = ck.progress;
  r.history = ck.history;
  r.epoch_loss = std::get<double>(ck.extra.at("epoch_loss"));
  r.epoch_batches = std::get<int64_t>(ck.extra.at("epoch_batches"));
}

// args: checkpoint path, epochs to train (or the epoch to stop in), batch to stop after (-1: whole epochs).
const bool first_half =
    kiln::test::register_child_role("resume-first", [](const std::vector<std::string>& a) {
      TrainingRun r = make_run(1);
      const int64_t epochs = std::stoll(a[1]), stop_batch = std::stoll(a[2]);
      if (stop_batch < 0)
        train(r, epochs);
      else
        train(r, kEpochs, epochs, stop_batch);
      save_run(r, a[0]);
      return 0;
    });
// args: checkpoint to resume from, file to write the final state to.
const bool second_half =
    kiln::test::register_child_role("resume-second", [](const std::vector<std::string>& a) {
      TrainingRun r =
          make_run(999);  // other initial weights and generator state: everything must come from the file
      load_run(r, a[0]);
      train(r, kEpochs);
      save_run(r, a[1]);
      return 0;
    });

void expect_resume_matches(int64_t epochs_or_stop_epoch, int64_t stop_batch) {
  kiln::test::TempDir dir("kiln-resume");
  ASSERT_EQ(kiln::test::run_child("resume-first", {dir.file("half.h5"), std::to_string(epochs_or_stop_epoch),
                                                   std::to_string(stop_batch)}),
            0);
  ASSERT_EQ(kiln::test::run_child("resume-second", {dir.file("half.h5"), dir.file("final.h5")}), 0);

  TrainingRun whole = make_run(1);
  train(whole, kEpochs);
  const uint64_t offset = kiln::default_generator().offset();
  TrainingRun resumed = make_run(42);
  load_run(resumed, dir.file("final.h5"));
  expect_same_state(whole.model->state_dict(), resumed.model->state_dict(), "weights");
  expect_same_state(whole.opt->state_dict(), resumed.opt->state_dict(), "optimizer");
  expect_same_state(whole.sched->state_dict(), resumed.sched->state_dict(), "scheduler");
  EXPECT_EQ(whole.history, resumed.history);
  EXPECT_EQ(whole.progress.global_step, resumed.progress.global_step);
  EXPECT_EQ(whole.progress.global_step, kEpochs * whole.loader->size());
  EXPECT_EQ(kiln::default_generator().offset(), offset);  // dropout drew the same numbers in both
}

TEST(ExactResume, TwoPlusTwoEpochsInTwoProcessesEqualFourInOne) { expect_resume_matches(2, -1); }

TEST(ExactResume, MidEpochResumeContinuesAtTheNextBatchInTheSameOrder) {
  // Stop after batch 5 of epoch 1 (of 13), resume at batch 6.
  expect_resume_matches(1, 5);
}

TEST(ExactResume, TheSplitRunWouldDifferWithoutTheSavedState) {
  // The control: resuming from the weights alone (fresh optimizer, schedule, loader and generator) does not
  // reproduce the run, so the tests above are sensitive to every part they restore.
  kiln::test::TempDir dir("kiln-resume-control");
  TrainingRun first = make_run(1);
  train(first, 2);
  io::save_weights(dir.file("w.h5"), *first.model);
  TrainingRun second = make_run(999);
  io::load_weights(dir.file("w.h5"), *second.model);
  second.progress.epoch = 2;
  train(second, kEpochs);
  TrainingRun whole = make_run(1);
  train(whole, kEpochs);
  EXPECT_FALSE(
      bitwise_equal(whole.model->state_dict().at("0.weight"), second.model->state_dict().at("0.weight")));
}

}  // namespace
