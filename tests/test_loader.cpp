// tests/test_loader.cpp: DataLoader (data/loader.h): batching, drop_last, shuffling that is the same for
// any number of workers, new orders per epoch, reseeding, resuming from a saved state, samplers, custom
// collate, transforms on workers, prefetch depth, worker exceptions reaching the loop as kiln::Error, and
// early exits that join the workers. Depends on kiln::kiln.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>

#include <kiln/kiln.h>

#include "support/helpers.h"

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::testing::error_of;
using kiln::testing::values;
namespace data = kiln::data;

namespace {

// x (n, 2) = [i, -i], y (n) = i.
data::TensorDataset numbered(int64_t n) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int64_t i = 0; i < n; ++i)
    xs.push_back(static_cast<float>(i)), xs.push_back(-static_cast<float>(i)), ys.push_back(i);
  return data::TensorDataset(kiln::from_vector(xs, Shape{n, 2}), kiln::from_vector(ys));
}

// Every batch's y values, in order, from one pass over the loader.
std::vector<std::vector<double>> epoch_of(data::DataLoader& loader) {
  std::vector<std::vector<double>> out;
  for (auto& batch : loader) out.push_back(values(batch.y));
  return out;
}

// A dataset whose get() throws at one index, with a kiln::Error or another exception.
class Faulty : public data::Dataset {
 public:
  Faulty(int64_t bad, bool kiln_error) : bad_(bad), kiln_error_(kiln_error) {}
  int64_t size() const override { return 20; }
  data::Example get(int64_t i) const override {
    if (i == bad_ && kiln_error_) KILN_CHECK(false, "Faulty: example ", i, " is corrupt");
    if (i == bad_) throw std::runtime_error("disk on fire");
    return {kiln::full({1}, static_cast<double>(i)),
            kiln::scalar_tensor(static_cast<double>(i), {.dtype = DType::i64})};
  }

 private:
  int64_t bad_;
  bool kiln_error_;
};

// Counts get_batch calls (from any thread).
class Counting : public data::Dataset {
 public:
  explicit Counting(std::shared_ptr<std::atomic<int>> calls) : calls_(std::move(calls)) {}
  int64_t size() const override { return 64; }
  data::Example get(int64_t i) const override { return {kiln::full({1}, static_cast<double>(i)), Tensor()}; }
  data::Batch get_batch(const std::vector<int64_t>& idx) const override {
    ++*calls_;
    return Dataset::get_batch(idx);
  }

 private:
  std::shared_ptr<std::atomic<int>> calls_;
};

}  // namespace

TEST(DataLoader, TheDemoReadsLikeThis) {
  kiln::manual_seed(0);
  Tensor images = kiln::randint(0, 256, {50, 28, 28}, {.dtype = DType::i64});
  std::vector<uint8_t> pixels;
  for (int64_t v : images.to_vector<int64_t>()) pixels.push_back(static_cast<uint8_t>(v));
  data::LabeledImages train{kiln::from_vector(pixels, Shape{50, 28, 28}), kiln::randint(0, 10, {50})};
  auto train_ds = data::TensorDataset(data::to_tensor(train.images), train.labels);
  auto [tr, val] = data::random_split(train_ds, {0.85, 0.15}, /*seed=*/42);
  data::DataLoader loader(tr, {.batch_size = 16, .shuffle = true, .seed = 42});
  int64_t seen = 0;
  for (auto& batch : loader) {
    EXPECT_EQ(batch.x.dim(), 4);
    EXPECT_EQ(batch.x.size(1), 1);
    EXPECT_EQ(batch.x.dtype(), DType::f32);
    EXPECT_EQ(batch.y.dim(), 1);
    seen += batch.y.size(0);
  }
  EXPECT_EQ(seen, tr.size());
  EXPECT_EQ(loader.size(), 3);  // 43 examples in batches of 16
}

TEST(DataLoader, SequentialBatchesAndDropLast) {
  data::DataLoader loader(numbered(10), {.batch_size = 4});
  auto e = epoch_of(loader);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(e[2], (std::vector<double>{8, 9}));
  data::DataLoader dropping(numbered(10), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping.size(), 2);
  EXPECT_EQ(epoch_of(dropping).size(), 2u);
  data::DataLoader x_check(numbered(3), {.batch_size = 2});
  auto it = x_check.begin();
  EXPECT_EQ(values((*it).x), (std::vector<double>{0, 0, 1, -1}));
}

TEST(DataLoader, ShuffleIsTheSameForAnyNumberOfWorkers) {
  kiln::testing::ThreadCountRestorer restore;
  std::vector<std::vector<std::vector<double>>> runs;
  for (int workers : {0, 1, 2, 4}) {
    kiln::set_num_threads(workers % 2 + 1);  // and the OpenMP thread count does not matter either
    data::DataLoader loader(numbered(103),
                            {.batch_size = 8, .shuffle = true, .seed = 7, .num_workers = workers});
    runs.push_back(epoch_of(loader));
    auto second = epoch_of(loader);
    runs.back().insert(runs.back().end(), second.begin(), second.end());
  }
  for (size_t r = 1; r < runs.size(); ++r) EXPECT_EQ(runs[r], runs[0]) << "run " << r;
  std::vector<double> all;
  for (size_t b = 0; b < 13; ++b) all.insert(all.end(), runs[0][b].begin(), runs[0][b].end());
  std::sort(all.begin(), all.end());
  std::vector<double> want(103);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);  // one epoch visits every example once
}

TEST(DataLoader, EachEpochHasANewOrderUntilReseeded) {
  data::DataLoader loader(numbered(40), {.batch_size = 40, .shuffle = true, .seed = 1});
  auto e0 = epoch_of(loader), e1 = epoch_of(loader);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(loader.epoch(), 1);
  loader.manual_seed(1);
  EXPECT_EQ(epoch_of(loader), e0);
  loader.set_epoch(1);
  EXPECT_EQ(epoch_of(loader), e1);
  data::DataLoader other_seed(numbered(40), {.batch_size = 40, .shuffle = true, .seed = 2});
  EXPECT_NE(epoch_of(other_seed), e0);
  // Without a seed the order follows kiln::manual_seed.
  kiln::manual_seed(5);
  data::DataLoader a(numbered(40), {.batch_size = 40, .shuffle = true});
  kiln::manual_seed(5);
  data::DataLoader b(numbered(40), {.batch_size = 40, .shuffle = true});
  EXPECT_EQ(epoch_of(a), epoch_of(b));
}

TEST(DataLoader, ResumesFromASavedStateInTheSameOrder) {
  const data::LoaderOptions opts{.batch_size = 5, .shuffle = true, .seed = 11, .num_workers = 2};
  data::DataLoader reference(numbered(37), opts);
  auto ref0 = epoch_of(reference), ref1 = epoch_of(reference), ref2 = epoch_of(reference);

  data::DataLoader first(numbered(37), opts);
  epoch_of(first);
  kiln::StateDict saved;
  int taken = 0;
  for (auto& batch : first) {  // epoch 1: three batches, then stop (as a crash would)
    EXPECT_EQ(values(batch.y), ref1[taken]);
    if (++taken == 3) {
      saved = first.state_dict();
      break;
    }
  }
  EXPECT_EQ(saved.at("epoch").item<int64_t>(), 1);
  EXPECT_EQ(saved.at("position").item<int64_t>(), 3);

  data::DataLoader resumed(numbered(37), {.batch_size = 5, .shuffle = true, .seed = 999, .num_workers = 1});
  resumed.load_state_dict(saved);
  auto rest = epoch_of(resumed);
  EXPECT_EQ(rest, std::vector<std::vector<double>>(ref1.begin() + 3, ref1.end()));
  EXPECT_EQ(epoch_of(resumed), ref2);  // and the next epoch follows on

  // A state saved at the end of an epoch resumes with the next epoch.
  data::DataLoader done(numbered(37), opts);
  epoch_of(done);
  data::DataLoader after(numbered(37), opts);
  after.load_state_dict(done.state_dict());
  EXPECT_EQ(epoch_of(after), ref1);
}

TEST(DataLoader, StateDictErrors) {
  data::DataLoader loader(numbered(4), {.batch_size = 2});
  kiln::StateDict s;
  EXPECT_CONTAINS(error_of([&] { loader.load_state_dict(s); }),
                  "DataLoader::load_state_dict: no entry 'seed' (expected seed, epoch and position)");
  s.insert("seed", kiln::zeros({2}, {.dtype = DType::i64}));
  EXPECT_CONTAINS(error_of([&] { loader.load_state_dict(s); }), "'seed' must be a single i64 value, got [2]");
}

TEST(DataLoader, OptionErrors) {
  auto ds = data::share(numbered(4));
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(ds, {.batch_size = 0}); }),
                  "batch_size must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(ds, {.num_workers = -1}); }), "num_workers must be >= 0");
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(ds, {.prefetch_factor = 0}); }),
                  "prefetch_factor must be >= 1");
  EXPECT_CONTAINS(error_of([&] {
                    data::DataLoader(
                        ds, {.shuffle = true, .sampler = std::make_shared<data::SequentialSampler>()});
                  }),
                  "sampler and shuffle = true exclude each other");
  data::DataLoader wrong(
      ds, {.sampler = std::make_shared<data::WeightedRandomSampler>(std::vector<double>{1, 1}, 4)});
  EXPECT_CONTAINS(error_of([&] { wrong.begin(); }), "2 weights for a dataset of 4 examples");
}

TEST(DataLoader, SamplerAndCustomCollate) {
  auto sampler = std::make_shared<data::DistributedSampler>(2, 1, false);
  data::DataLoader loader(numbered(6), {.batch_size = 2, .sampler = sampler});
  EXPECT_EQ(epoch_of(loader), (std::vector<std::vector<double>>{{1, 3}, {5}}));
  std::atomic<int> collated{0};
  data::DataLoader custom(
      numbered(6), {.batch_size = 3, .num_workers = 2, .collate = [&](const std::vector<data::Example>& ex) {
                      ++collated;
                      data::Batch b = data::collate(ex);
                      b.y = kiln::full({static_cast<int64_t>(ex.size())}, 7.0);
                      return b;
                    }});
  EXPECT_EQ(epoch_of(custom), (std::vector<std::vector<double>>{{7, 7, 7}, {7, 7, 7}}));
  EXPECT_EQ(collated.load(), 2);
}

TEST(DataLoader, RandomTransformsAreTheSameForAnyNumberOfWorkers) {
  kiln::manual_seed(3);
  data::TensorDataset images(kiln::rand({30, 1, 4, 4}), kiln::zeros({30}, {.dtype = DType::i64}));
  auto augment = data::compose({data::RandomHorizontalFlip(0.5), data::RandomCrop(4, 1)});
  std::vector<std::vector<double>> runs[2];
  int r = 0;
  for (int workers : {0, 3}) {
    data::DataLoader loader(
        images, {.batch_size = 4, .shuffle = true, .seed = 5, .num_workers = workers, .transform = augment});
    for (int epoch = 0; epoch < 2; ++epoch)
      for (auto& batch : loader) runs[r].push_back(values(batch.x));
    ++r;
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(DataLoader, WorkerExceptionsReachTheLoopAsKilnErrors) {
  for (int workers : {0, 2}) {
    data::DataLoader loader(Faulty(13, true), {.batch_size = 4, .num_workers = workers});
    int batches = 0;
    std::string msg = error_of([&] {
      for (auto& batch : loader) ++batches, (void)batch;
    });
    EXPECT_CONTAINS(msg, "Faulty: example 13 is corrupt");
    EXPECT_EQ(batches, 3);  // batches 0..2 arrive; batch 3 holds example 13
    data::DataLoader other(Faulty(2, false), {.batch_size = 4, .num_workers = workers});
    EXPECT_CONTAINS(error_of([&] {
                      for (auto& batch : other) (void)batch;
                    }),
                    "DataLoader: a worker failed making batch 0 of epoch 0: disk on fire");
  }
}

TEST(DataLoader, PrefetchesAheadAndStopsEarlyWithoutDeadlock) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  data::DataLoader loader(Counting(calls), {.batch_size = 2, .num_workers = 2, .prefetch_factor = 2});
  {
    auto it = loader.begin();  // batch 0 taken; workers may run 4 batches ahead of batch 1
    for (int i = 0; i < 500 && calls->load() < 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(calls->load(), 5);  // batches 0..4 prepared, and no more while the loop holds batch 0
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(calls->load(), 5);
  }  // the iterator goes away mid-epoch: workers stop and join
  for (int rep = 0; rep < 20; ++rep) {
    int n = 0;
    for (auto& batch : loader) {
      (void)batch;
      if (++n == 2) break;
    }
  }
  auto it = loader.begin();  // a loader destroyed mid-epoch joins its workers too
  EXPECT_EQ((*it).size(), 2);
}

namespace {
class ThrowsInt : public data::Dataset {
 public:
  int64_t size() const override { return 4; }
  data::Example get(int64_t) const override { throw 42; }
};
}  // namespace

TEST(DataLoader, MoreErrorMessages) {
  for (int workers : {0, 1})
    EXPECT_CONTAINS(error_of([&] {
                      data::DataLoader loader(ThrowsInt(), {.batch_size = 2, .num_workers = workers});
                      for (auto& batch : loader) (void)batch;
                    }),
                    "DataLoader: a worker failed making batch 0 of epoch 0 (unknown exception)");
  data::DataLoader loader(numbered(40), {.batch_size = 2, .num_workers = 2});
  auto old = loader.begin();
  auto fresh = loader.begin();  // a new epoch ends the old one
  EXPECT_EQ(values((*fresh).y), (std::vector<double>{0, 1}));
  EXPECT_CONTAINS(error_of([&] { ++old; }), "DataLoader: this epoch's iteration was ended (a newer `for`");
  data::DataLoader sync(numbered(40), {.batch_size = 2});
  auto first = sync.begin();
  sync.begin();
  EXPECT_CONTAINS(error_of([&] { ++first; }), "this epoch's iteration was ended");
  EXPECT_CONTAINS(error_of([&] { loader.set_epoch(-1); }),
                  "DataLoader::set_epoch: epoch must be >= 0, got -1");
  kiln::StateDict s = loader.state_dict();
  s.set("epoch", kiln::full({}, -5.0, {.dtype = DType::i64}));
  EXPECT_CONTAINS(error_of([&] { loader.load_state_dict(s); }), "epoch -5 and position");
}

// pin_memory without a CUDA device: the batches are the same as without it, and a note says once that
// the option was ignored. (tests/test_cuda_graph.cpp checks the pinned batches on a GPU.)
TEST(DataLoader, PinMemoryWithoutAGpuYieldsTheSameBatchesAndSaysSo) {
  if (kiln::has_backend(kiln::DeviceType::cuda)) GTEST_SKIP() << "a CUDA device is present";
  data::DataLoader plain(numbered(10), {.batch_size = 4, .shuffle = true, .seed = 3});
  data::DataLoader pinned(
      numbered(10), {.batch_size = 4, .shuffle = true, .seed = 3, .num_workers = 2, .pin_memory = true});
  ::testing::internal::CaptureStderr();
  std::vector<std::vector<double>> want, got;
  for (auto& b : plain) want.push_back(values(b.x));
  for (auto& b : pinned) got.push_back(values(b.x));
  for (auto& b : pinned) got.push_back(values(b.y));  // a second epoch: no second note
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(got.size(), 2 * want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "batch " << i;
  EXPECT_NE(err.find("pin_memory ignored: no CUDA device"), std::string::npos) << err;
  EXPECT_EQ(err.find("pin_memory ignored"), err.rfind("pin_memory ignored"))
      << "noted more than once: " << err;
}
