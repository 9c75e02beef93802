// tests/test_dataset.cpp: datasets and splits (data/dataset.h) and samplers (data/sampler.h): views and
// gathers of TensorDataset, Subset and ConcatDataset, collate, random_split, stratified
// train_val_test_split keeping class proportions, the samplers, a chi-square test that the weighted
// sampler draws classes in proportion to their weights, and every error path. Depends on kiln::kiln.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include <kiln/kiln.h>

#include "support/helpers.h"

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::testing::error_of;
using kiln::testing::values;
namespace data = kiln::data;

namespace {

// x (n, 2, 3) with x[i] = i * 10 + (0..5), y (n) = i % classes.
data::TensorDataset make_dataset(int64_t n, int64_t classes = 3) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 6; ++k) xs.push_back(static_cast<float>(i * 10 + k));
    ys.push_back(i % classes);
  }
  return data::TensorDataset(kiln::from_vector(xs, Shape{n, 2, 3}), kiln::from_vector(ys));
}

std::vector<int64_t> ids_of(const data::Dataset& ds) {  // recovers i from x[i][0][0] = 10 i
  std::vector<int64_t> out;
  for (int64_t i = 0; i < ds.size(); ++i)
    out.push_back(static_cast<int64_t>(ds.get(i).x.at<float>({0, 0}) / 10));
  return out;
}

}  // namespace

TEST(TensorDataset, GetIsAViewAndGetBatchGathers) {
  data::TensorDataset ds = make_dataset(5);
  EXPECT_EQ(ds.size(), 5);
  data::Example e = ds.get(3);
  EXPECT_EQ(e.x.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(e.x), (std::vector<double>{30, 31, 32, 33, 34, 35}));
  EXPECT_EQ(e.y.dim(), 0);
  EXPECT_EQ(e.y.item<int64_t>(), 0);
  data::Batch b = ds.get_batch({4, 1, 4});
  EXPECT_EQ(b.x.shape(), (Shape{3, 2, 3}));
  EXPECT_EQ(b.size(), 3);
  EXPECT_EQ(values(b.x)[6], 10);
  EXPECT_EQ(values(b.y), (std::vector<double>{1, 1, 1}));
  // The default get_batch (get + collate) agrees with the gather.
  data::Batch slow = ds.data::Dataset::get_batch({4, 1, 4});
  EXPECT_EQ(values(slow.x), values(b.x));
  EXPECT_EQ(values(slow.y), values(b.y));
}

TEST(TensorDataset, StoresNonContiguousInputsAsCopies) {
  Tensor x = kiln::arange(12, {.dtype = DType::f32}).reshape({3, 4}).t();  // (4, 3), strided
  data::TensorDataset ds(x);
  EXPECT_EQ(values(ds.get(1).x), (std::vector<double>{1, 5, 9}));
  EXPECT_FALSE(ds.get_batch({0}).y.defined());
}

TEST(TensorDataset, Errors) {
  Tensor x = kiln::zeros({4, 2});
  EXPECT_CONTAINS(error_of([&] { data::TensorDataset(x, kiln::zeros({3})); }),
                  "TensorDataset: x [4, 2] and y [3] differ in their first (example) dim");
  EXPECT_CONTAINS(error_of([&] { data::TensorDataset(kiln::scalar_tensor(1.0)); }), "x must have a first");
  data::TensorDataset ds(x);
  EXPECT_CONTAINS(error_of([&] { ds.get(4); }), "TensorDataset::get: index 4 out of range for 4 examples");
  EXPECT_CONTAINS(error_of([&] { ds.get_batch({0, -1}); }), "gather_rows: index -1 out of range for 4");
  EXPECT_CONTAINS(error_of([&] { ds.targets(); }), "the dataset was built without y");
}

TEST(Collate, StacksAndChecksShapes) {
  data::Batch b = data::collate({{kiln::ones({2}), kiln::scalar_tensor(1, {.dtype = DType::i64})},
                                 {kiln::zeros({2}), kiln::scalar_tensor(0, {.dtype = DType::i64})}});
  EXPECT_EQ(b.x.shape(), (Shape{2, 2}));
  EXPECT_EQ(values(b.y), (std::vector<double>{1, 0}));
  EXPECT_CONTAINS(error_of([] {
                    data::collate({{kiln::ones({2}), Tensor()}, {kiln::ones({3}), Tensor()}});
                  }),
                  "collate: example 1's x is [3] f32 but example 0's is [2] f32");
  EXPECT_CONTAINS(error_of([] { data::collate({}); }), "collate: no examples");
  EXPECT_CONTAINS(error_of([] {
                    data::collate({{kiln::ones({2}), kiln::ones({})}, {kiln::ones({2}), Tensor()}});
                  }),
                  "some examples have a target and some not");
}

TEST(Subset, MapsIndicesSharesDataAndNests) {
  auto base = std::make_shared<data::TensorDataset>(make_dataset(10));
  data::Subset s(base, {7, 2, 2});
  EXPECT_EQ(ids_of(s), (std::vector<int64_t>{7, 2, 2}));
  EXPECT_EQ(s.get(0).x.storage().get(), base->x().storage().get());  // no copy
  data::Subset nested(s, {1, 0});
  EXPECT_EQ(ids_of(nested), (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(values(nested.get_batch({1, 0}).y), (std::vector<double>{1, 2}));
  EXPECT_EQ(values(nested.targets()), (std::vector<double>{2, 1}));
  EXPECT_CONTAINS(error_of([&] { data::Subset(base, {10}); }),
                  "Subset: index 10 out of range for 10 examples");
  EXPECT_CONTAINS(error_of([&] { s.get(3); }), "Subset::get: index 3 out of range for 3 examples");
}

TEST(ConcatDataset, ChainsDatasets) {
  auto a = data::share(make_dataset(2)), b = data::share(make_dataset(3));
  data::ConcatDataset c({a, b});
  EXPECT_EQ(c.size(), 5);
  EXPECT_EQ(ids_of(c), (std::vector<int64_t>{0, 1, 0, 1, 2}));
  EXPECT_EQ(values(c.targets()), (std::vector<double>{0, 1, 0, 1, 2}));
  EXPECT_EQ(c.get_batch({4, 0}).x.shape(), (Shape{2, 2, 3}));
  EXPECT_CONTAINS(error_of([&] { c.get(5); }), "ConcatDataset::get: index 5 out of range for 5 examples");
  EXPECT_CONTAINS(error_of([] { data::ConcatDataset({}); }), "ConcatDataset: no datasets");
}

TEST(RandomSplit, DisjointCoveringSeededSizes) {
  data::TensorDataset ds = make_dataset(103);
  auto [tr, val] = data::random_split(ds, {0.85, 0.15}, 42);
  EXPECT_EQ(tr.size(), 88);  // floor(87.55) + 1 of the remainder
  EXPECT_EQ(val.size(), 15);
  std::vector<int64_t> all = tr.indices();
  all.insert(all.end(), val.indices().begin(), val.indices().end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(103);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);
  auto [tr2, val2] = data::random_split(ds, {0.85, 0.15}, 42);
  EXPECT_EQ(tr2.indices(), tr.indices());
  auto [tr3, val3] = data::random_split(ds, {0.85, 0.15}, 43);
  EXPECT_NE(tr3.indices(), tr.indices());
  std::vector<data::Subset> three =
      data::random_split(data::share(ds), std::vector<double>{0.5, 0.25, 0.25}, 1);
  EXPECT_EQ(three.size(), 3u);
  EXPECT_CONTAINS(error_of([&] {
                    data::random_split(ds, {0.5, 0.4}, 1);
                  }),
                  "random_split: fractions sum to 0.9");
  EXPECT_CONTAINS(error_of([&] {
                    data::random_split(ds, {1.5, -0.5}, 1);
                  }),
                  "fraction 1.5 is outside [0, 1]");
}

TEST(TrainValTestSplit, DefaultsTo70_15_15) {
  data::TrainValTest s = data::train_val_test_split(make_dataset(100), {.seed = 3});
  EXPECT_EQ(s.train.size(), 70);
  EXPECT_EQ(s.val.size(), 15);
  EXPECT_EQ(s.test.size(), 15);
}

TEST(TrainValTestSplit, StratifiedKeepsClassProportionsWithinOnePerClass) {
  // Imbalanced classes: 0: 500, 1: 130, 2: 37, 3: 8.
  std::vector<int64_t> labels;
  for (auto [cls, count] : std::vector<std::pair<int64_t, int>>{{0, 500}, {1, 130}, {2, 37}, {3, 8}})
    labels.insert(labels.end(), count, cls);
  std::reverse(labels.begin(), labels.end());
  const int64_t n = static_cast<int64_t>(labels.size());
  data::TensorDataset ds(kiln::zeros({n, 1}), kiln::from_vector(labels));
  data::TrainValTest s = data::train_val_test_split(ds, {.seed = 7, .stratify = true});
  const double fractions[3] = {0.70, 0.15, 0.15};
  const data::Subset* parts[3] = {&s.train, &s.val, &s.test};
  std::set<int64_t> seen;
  for (int p = 0; p < 3; ++p) {
    std::map<int64_t, int64_t> count;
    for (int64_t i : parts[p]->indices()) ++count[labels[i]], seen.insert(i);
    for (auto [cls, total] : std::vector<std::pair<int64_t, int>>{{0, 500}, {1, 130}, {2, 37}, {3, 8}})
      EXPECT_LE(std::abs(static_cast<double>(count[cls]) - total * fractions[p]), 1.0)
          << "split " << p << " class " << cls << ": " << count[cls] << " of " << total;
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), n);  // disjoint and covering
  // The targets must be integer labels.
  data::TensorDataset floats(kiln::zeros({4, 1}), kiln::zeros({4}));
  EXPECT_CONTAINS(error_of([&] { data::train_val_test_split(floats, {.stratify = true}); }),
                  "stratification needs integer labels, got f32");
  data::TensorDataset unlabeled(kiln::zeros({4, 1}));
  EXPECT_CONTAINS(error_of([&] { data::train_val_test_split(unlabeled, {.stratify = true}); }), "without y");
}

TEST(Samplers, SequentialRandomDistributed) {
  EXPECT_EQ(data::SequentialSampler().indices(4, 0, 0), (std::vector<int64_t>{0, 1, 2, 3}));
  data::RandomSampler r;
  std::vector<int64_t> e0 = r.indices(50, 9, 0), e1 = r.indices(50, 9, 1);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, r.indices(50, 9, 0));
  std::sort(e1.begin(), e1.end());
  EXPECT_EQ(e1, data::SequentialSampler().indices(50, 0, 0));
  std::vector<int64_t> with = data::RandomSampler(true, 200).indices(5, 1, 0);
  EXPECT_EQ(with.size(), 200u);
  EXPECT_TRUE(std::all_of(with.begin(), with.end(), [](int64_t i) { return i >= 0 && i < 5; }));
  // Distributed: 10 examples over 4 ranks -> 3 each, padded from the start of the epoch's order.
  std::vector<int64_t> cover;
  for (int64_t rank = 0; rank < 4; ++rank) {
    std::vector<int64_t> part = data::DistributedSampler(4, rank).indices(10, 5, 2);
    EXPECT_EQ(part.size(), 3u);
    cover.insert(cover.end(), part.begin(), part.end());
  }
  std::set<int64_t> distinct(cover.begin(), cover.end());
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_EQ(data::DistributedSampler(4, 1, false, true).indices(10, 0, 0), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(data::DistributedSampler(4, 3, false).indices(10, 0, 0), (std::vector<int64_t>{3, 7, 1}));
  EXPECT_CONTAINS(error_of([] { data::DistributedSampler(4, 4); }), "rank 4 is outside [0, 3]");
  EXPECT_CONTAINS(error_of([] { data::RandomSampler(false, 3); }), "num_samples needs replacement = true");
}

TEST(Samplers, WeightedDrawsClassesInProportionToWeights) {
  // 3 classes of 100 examples each, per-example weights 1, 2 and 5: expected class shares 1/8, 2/8, 5/8.
  std::vector<double> w;
  for (int cls = 0; cls < 3; ++cls) w.insert(w.end(), 100, std::vector<double>{1, 2, 5}[cls]);
  const int64_t draws = 40000;
  data::WeightedRandomSampler s(w, draws);
  std::vector<int64_t> idx = s.indices(300, 123, 0);
  double counts[3] = {0, 0, 0};
  for (int64_t i : idx) counts[i / 100] += 1;
  const double expected[3] = {draws / 8.0, draws * 2 / 8.0, draws * 5 / 8.0};
  double chi2 = 0;
  for (int c = 0; c < 3; ++c) chi2 += (counts[c] - expected[c]) * (counts[c] - expected[c]) / expected[c];
  EXPECT_LT(chi2, 13.8) << counts[0] << " " << counts[1] << " " << counts[2];  // p = 0.001 at 2 dof
  // Balanced weights even out an imbalanced label set.
  std::vector<int64_t> labels(900, 0);
  labels.insert(labels.end(), 100, 1);
  std::vector<int64_t> bal =
      data::WeightedRandomSampler(data::balanced_weights(labels), 20000).indices(1000, 5, 0);
  int64_t ones = std::count_if(bal.begin(), bal.end(), [&](int64_t i) { return labels[i] == 1; });
  EXPECT_NEAR(ones / 20000.0, 0.5, 0.02);
  // Without replacement: distinct, and zero weights never drawn.
  std::vector<double> wz = {1, 0, 3, 0, 2};
  std::vector<int64_t> norep = data::WeightedRandomSampler(wz, 3, false).indices(5, 1, 0);
  std::sort(norep.begin(), norep.end());
  EXPECT_EQ(norep, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_CONTAINS(error_of([&] { data::WeightedRandomSampler(wz, 4, false); }),
                  "cannot draw 4 examples without replacement from 3 with nonzero weight");
  EXPECT_CONTAINS(error_of([] { data::WeightedRandomSampler({1, -1}, 2); }), "weight 1 is -1");
  EXPECT_CONTAINS(error_of([] { data::WeightedRandomSampler({0, 0}, 2); }), "the weights sum to 0");
  EXPECT_CONTAINS(error_of([&] { s.indices(10, 0, 0); }), "300 weights for a dataset of 10 examples");
}

namespace {
// Examples without targets, served only through get() (so targets() takes the default path).
class Unlabeled : public data::Dataset {
 public:
  int64_t size() const override { return 3; }
  data::Example get(int64_t i) const override { return {kiln::full({2}, static_cast<double>(i)), Tensor()}; }
};
}  // namespace

TEST(DatasetErrors, EveryMessage) {
  auto ds = data::share(make_dataset(6));
  EXPECT_CONTAINS(error_of([] { Unlabeled().targets(); }),
                  "Dataset::targets: the dataset's examples have no targets");
  EXPECT_CONTAINS(error_of([] { data::collate({{Tensor(), Tensor()}}); }), "collate: an example has no x");
  EXPECT_CONTAINS(error_of([] { data::Subset(data::DatasetPtr(), {}); }), "Subset: null dataset");
  EXPECT_CONTAINS(error_of([] { data::Subset().targets(); }), "Subset::targets: empty subset");
  EXPECT_CONTAINS(error_of([&] { data::ConcatDataset({ds, nullptr}); }), "ConcatDataset: dataset 1 is null");
  data::TensorDataset floats(kiln::zeros({2, 1}), kiln::zeros({2}));
  EXPECT_CONTAINS(error_of([&] {
                    data::ConcatDataset({ds, data::share(floats)}).targets();
                  }),
                  "ConcatDataset::targets: dataset 1's targets are [2] f32 but dataset 0's are [6] i64");
  EXPECT_CONTAINS(error_of([] { data::random_split(data::DatasetPtr(), {1.0}, 0); }),
                  "random_split: null dataset");
  EXPECT_CONTAINS(error_of([&] { data::random_split(ds, std::vector<double>{}, 0); }),
                  "random_split: no fractions given");
  EXPECT_CONTAINS(error_of([] { data::train_val_test_split(data::DatasetPtr()); }),
                  "train_val_test_split: null dataset");
  EXPECT_CONTAINS(error_of([&] {
                    data::train_val_test_split(ds, {.fractions = {0.5, 0.5, 0.5}});
                  }),
                  "train_val_test_split: fractions sum to 1.5");
  data::TensorDataset two_d(kiln::zeros({2, 1}), kiln::zeros({2, 2}, {.dtype = DType::i64}));
  EXPECT_CONTAINS(error_of([&] { data::train_val_test_split(two_d, {.stratify = true}); }),
                  "stratification needs one integer label per example, got targets of shape [2, 2]");
  EXPECT_CONTAINS(error_of([] {
                    data::gather_rows(kiln::zeros({2, 3}).t(), {0});
                  }),
                  "gather_rows: needs a contiguous tensor with a first dim, got [3, 2]");
}

TEST(SamplerErrors, EveryMessage) {
  EXPECT_CONTAINS(error_of([] { data::RandomSampler(true, -1); }),
                  "RandomSampler: num_samples must be >= 0, got -1");
  EXPECT_CONTAINS(error_of([] { data::RandomSampler(true, 3).indices(0, 0, 0); }),
                  "RandomSampler: cannot draw from an empty dataset");
  EXPECT_CONTAINS(error_of([] { data::WeightedRandomSampler({}, 1); }), "WeightedRandomSampler: no weights");
  EXPECT_CONTAINS(error_of([] { data::WeightedRandomSampler({1}, -2); }), "num_samples must be >= 0, got -2");
  EXPECT_CONTAINS(error_of([] { data::DistributedSampler(0, 0); }), "world_size must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([] { data::DistributedSampler(2, 0).indices(0, 0, 0); }),
                  "DistributedSampler: empty dataset");
}
