// tests/test_transforms.cpp: data/transforms.h: to_tensor layouts and scaling, normalize per channel,
// Standardize fitted on the training split only, RandomHorizontalFlip and RandomCrop (exact pixels for
// fixed seeds, rates over many images, determinism), compose, and the error paths. Depends on kiln::kiln.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(Transforms, ToTensorScalesAndMovesChannelsFirst) {
  std::vector<uint8_t> px = {0, 255, 51, 102};
  Tensor gray = data::to_tensor(kiln::from_vector(px, Shape{1, 2, 2}));
  EXPECT_EQ(gray.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(gray.dtype(), DType::f32);
  EXPECT_NEAR(values(gray)[2], 0.2, 1e-7);
  EXPECT_EQ(values(gray)[1], 1.0);
  // (N, H, W, C) = (1, 1, 2, 2): pixel 0 = (0, 255), pixel 1 = (51, 102).
  Tensor rgb = data::to_tensor(kiln::from_vector(px, Shape{1, 1, 2, 2}));
  EXPECT_EQ(rgb.shape(), (Shape{1, 2, 1, 2}));
  std::vector<double> v = values(rgb);
  EXPECT_EQ(v[0], 0.0);
  EXPECT_NEAR(v[1], 0.2, 1e-7);
  EXPECT_EQ(v[2], 1.0);
  EXPECT_CONTAINS(error_of([] {
                    data::to_tensor(kiln::zeros({2, 3}));
                  }),
                  "to_tensor: expected u8 images (N, H, W) or (N, H, W, C), got [2, 3] f32");
}

TEST(Transforms, NormalizePerChannel) {
  Tensor x = kiln::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, Shape{1, 2, 2, 2});
  Tensor y = data::Normalize({2, 6}, {1, 2})(x);
  EXPECT_EQ(values(y), (std::vector<double>{-1, 0, 1, 2, -0.5, 0, 0.5, 1}));
  Tensor single =
      data::normalize(kiln::from_vector(std::vector<double>{1, 2, 3, 4}, Shape{2, 1, 2}), {0, 1}, {1, 1});
  EXPECT_EQ(values(single), (std::vector<double>{1, 2, 2, 3}));
  EXPECT_EQ(values(x), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));  // input untouched
  EXPECT_CONTAINS(error_of([&] {
                    data::normalize(x, {0, 0, 0}, {1, 1, 1});
                  }),
                  "normalize: x [1, 2, 2, 2] has 2 channels but 3 means and stds were given");
  EXPECT_CONTAINS(error_of([] { data::Normalize({0}, {0}); }),
                  "channel 0 has mean 0 and std 0; std must be finite and > 0");
  EXPECT_CONTAINS(error_of([] { data::Normalize({0, 1}, {1}); }), "Normalize: 2 means but 1 stds");
  EXPECT_CONTAINS(error_of([] {
                    data::normalize(kiln::ones({2, 2}, {.dtype = DType::i64}), {0}, {1});
                  }),
                  "normalize: x is i64; expected f32 or f64");
}

TEST(Transforms, StandardizeUsesTrainingStatisticsOnly) {
  // Feature 0 in train: 1, 3 (mean 2, std 1); feature 1 constant 5 (std 1 by convention).
  Tensor train = kiln::from_vector(std::vector<float>{1, 5, 3, 5}, Shape{2, 2});
  Tensor test = kiln::from_vector(std::vector<float>{100, 7}, Shape{1, 2});
  data::Standardize s = data::Standardize::fit(train);
  EXPECT_EQ(s.mean(), (std::vector<double>{2, 5}));
  EXPECT_EQ(s.std(), (std::vector<double>{1, 1}));
  EXPECT_EQ(values(s(test)), (std::vector<double>{98, 2}));  // not refitted on the test data
  // Fitting through a dataset (a training Subset) gives the same statistics, batch by batch.
  std::vector<float> xs;
  for (int i = 0; i < 10; ++i) xs.push_back(static_cast<float>(i)), xs.push_back(static_cast<float>(i * i));
  data::TensorDataset ds(kiln::from_vector(xs, Shape{10, 2}));
  auto [tr, rest] = data::random_split(ds, {0.6, 0.4}, 1);
  data::Standardize a = data::Standardize::fit(tr, 4);
  std::vector<int64_t> all(static_cast<size_t>(tr.size()));
  std::iota(all.begin(), all.end(), 0);
  data::Standardize b = data::Standardize::fit(tr.get_batch(all).x);
  EXPECT_NE(a.mean()[0], 4.5);  // the mean of all ten examples: the split's is different
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(a.mean()[j], b.mean()[j], 1e-9);
    EXPECT_NEAR(a.std()[j], b.std()[j], 1e-9);
  }
  // Image statistics are per channel (over N, H, W).
  Tensor img = kiln::from_vector(std::vector<float>{0, 2, 10, 10, 4, 6, 20, 40}, Shape{2, 2, 1, 2});
  data::Standardize c = data::Standardize::fit(img);
  EXPECT_EQ(c.mean(), (std::vector<double>{3, 20}));
  EXPECT_CONTAINS(error_of([] { data::Standardize::fit(kiln::zeros({0, 3})); }), "no training examples");
}

TEST(Transforms, RandomHorizontalFlip) {
  Tensor x = kiln::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{1, 1, 2, 3});
  EXPECT_EQ(values(data::RandomHorizontalFlip(1.0)(x, 0)), (std::vector<double>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(values(data::RandomHorizontalFlip(0.0)(x, 0)), values(x));
  // Over many images about half are flipped, and the same seed flips the same ones.
  Tensor many = kiln::zeros({2000, 1, 1, 2});
  for (int i = 0; i < 2000; ++i) many.at<float>({i, 0, 0, 0}) = 1;
  data::RandomHorizontalFlip flip;
  Tensor a = flip(many, 42), b = flip(many, 42), c = flip(many, 43);
  int flipped = 0;
  for (int i = 0; i < 2000; ++i) flipped += a.at<float>({i, 0, 0, 1}) == 1;
  EXPECT_NEAR(flipped / 2000.0, 0.5, 0.05);
  EXPECT_EQ(values(a), values(b));
  EXPECT_NE(values(a), values(c));
  EXPECT_CONTAINS(error_of([] { data::RandomHorizontalFlip(1.5); }), "p must be in [0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] {
                    flip(kiln::zeros({3, 3}), 0);
                  }),
                  "expected images (N, C, H, W) or (C, H, W)");
}

TEST(Transforms, RandomCropWithPadding) {
  Tensor x = kiln::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{1, 2, 2});  // one (C, H, W) image
  // No padding and full size: the identity.
  EXPECT_EQ(values(data::RandomCrop(2)(x, 9)), (std::vector<double>{1, 2, 3, 4}));
  // Padding 1, crop 2: every output is one of the 9 windows of the padded 4x4 image, and all occur.
  std::set<std::vector<double>> windows;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    Tensor y = data::RandomCrop(2, 1)(x, seed);
    EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
    windows.insert(values(y));
  }
  EXPECT_EQ(windows.size(), 9u);
  EXPECT_TRUE(windows.count({0, 0, 0, 1}));  // top-left corner of the padded image
  EXPECT_TRUE(windows.count({4, 0, 0, 0}));  // bottom-right
  Tensor filled = data::RandomCrop({3, 3}, 1, -1.0)(x, 3);
  EXPECT_EQ(filled.shape(), (Shape{1, 3, 3}));
  EXPECT_CONTAINS(error_of([&] { data::RandomCrop(5, 1)(x, 0); }),
                  "RandomCrop: crop (5, 5) is larger than the padded image (4, 4)");
  EXPECT_CONTAINS(error_of([] { data::RandomCrop(0); }), "RandomCrop: size (0, 0) must be positive");
}

TEST(Transforms, ComposeAppliesInOrder) {
  Tensor x = kiln::from_vector(std::vector<float>{1, 2}, Shape{1, 1, 1, 2});
  data::Transform t = data::compose({data::RandomHorizontalFlip(1.0), data::Normalize({1}, {2})});
  EXPECT_EQ(values(t(x, 0)), (std::vector<double>{0.5, 0}));
}

TEST(Transforms, MoreErrorMessages) {
  EXPECT_CONTAINS(error_of([] {
                    data::Standardize::fit(kiln::zeros({2, 2}, {.dtype = DType::i64}));
                  }),
                  "Standardize::fit: x is i64; expected f32, f64 or u8");
  EXPECT_CONTAINS(error_of([] { data::Standardize::fit(kiln::zeros({4})); }),
                  "Standardize::fit: expected x (N, D) or (N, C, ...), got [4]");
  data::TensorDataset ds(kiln::zeros({4, 2}));
  EXPECT_CONTAINS(error_of([&] { data::Standardize::fit(ds, 0); }),
                  "Standardize::fit: batch_size must be > 0");
  data::TensorDataset none(kiln::zeros({0, 2}));
  EXPECT_CONTAINS(error_of([&] { data::Standardize::fit(none); }), "Standardize::fit: no training examples");
  EXPECT_CONTAINS(error_of([] { data::normalize(kiln::zeros({4}), {0}, {1}); }),
                  "normalize: expected x (N, C, ...) or (C, H, W), got [4]");
  EXPECT_CONTAINS(error_of([] { data::normalize(Tensor(), {0}, {1}); }), "normalize: undefined tensor");
}
