// lr_find: the exponential sweep, the smoothed curve and suggestions, and that model, optimizer, loader
// and generator are left exactly as they were (the run after it is the run without it, bit for bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/helpers.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
using kiln::testing::bitwise_equal;
using kiln::testing::blobs;
using kiln::testing::error_of;
using kiln::testing::mlp;

TEST(TrainLrFind, LeavesEverythingAsItWas) {
  auto train = blobs(300, 6, 3);
  auto run = [&](bool with_lr_find, T::LRFindResult* out) {
    manual_seed(1);
    auto model = mlp(6, 16, 3, 0.2);
    optim::Adam opt(model->parameters(), {.lr = 1e-2});
    data::DataLoader loader(train, {.batch_size = 30, .shuffle = true});
    T::FitOptions o{.epochs = 1, .verbose = 0, .diagnostics = false};
    T::fit(*model, opt, loader, {}, o);  // so the optimizer has state and the loader a position
    if (with_lr_find) {
      StateDict before = model->state_dict(), opt_before = opt.state_dict();
      StateDict snapshot;
      for (const auto& [k, t] : before) snapshot.insert(k, t.clone());
      const uint64_t offset = default_generator().offset();
      *out = T::lr_find(*model, opt, loader, {.num_iter = 50});
      EXPECT_TRUE(bitwise_equal(model->state_dict(), snapshot));
      EXPECT_TRUE(bitwise_equal(opt.state_dict(), opt_before));
      EXPECT_EQ(default_generator().offset(), offset);
      EXPECT_DOUBLE_EQ(opt.lr(), 1e-2);
      EXPECT_TRUE(model->is_training());
    }
    o.epochs = 3;
    o.initial_epoch = 1;
    T::History h = T::fit(*model, opt, loader, {}, o);
    return std::make_pair(model->state_dict(), h.to_map());
  };
  T::LRFindResult r;
  auto with = run(true, &r), without = run(false, nullptr);
  EXPECT_TRUE(bitwise_equal(with.first, without.first));
  EXPECT_EQ(with.second, without.second);

  ASSERT_GE(r.lrs.size(), 10u);
  EXPECT_DOUBLE_EQ(r.lrs[0], 1e-7);
  const double ratio = std::pow(10.0 / 1e-7, 1.0 / 49.0);
  for (size_t i = 1; i < r.lrs.size(); ++i) EXPECT_NEAR(r.lrs[i] / r.lrs[i - 1], ratio, 1e-9);
  EXPECT_EQ(r.losses.size(), r.lrs.size());
  EXPECT_EQ(r.smoothed_losses.size(), r.lrs.size());
  // The first smoothed value is the first loss (the average is debiased).
  EXPECT_NEAR(r.smoothed_losses[0], r.losses[0], 1e-12);
}

TEST(TrainLrFind, SuggestsARateInsideTheUsefulRange) {
  manual_seed(2);
  auto train = blobs(2000, 6, 3, /*noise=*/3.0);  // overlapping classes: the loss cannot reach 0
  auto model = mlp(6, 32, 3);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 20, .shuffle = true});
  T::LRFindResult r = T::lr_find(*model, opt, loader, {.start_lr = 1e-5, .end_lr = 100.0, .num_iter = 100});
  // SGD on this problem diverges somewhere past lr 1: the sweep stops before its end.
  EXPECT_LT(r.lrs.size(), 100u);
  // As fastai, the suggestions skip the first tenth and the last few steps of the sweep.
  const size_t n = r.lrs.size(), lo = std::min<size_t>(n / 10, 10), hi = n - std::min<size_t>(5, n / 10);
  auto min_it = std::min_element(r.smoothed_losses.begin() + static_cast<std::ptrdiff_t>(lo),
                                 r.smoothed_losses.begin() + static_cast<std::ptrdiff_t>(hi));
  const double lr_at_min = r.lrs[static_cast<size_t>(min_it - r.smoothed_losses.begin())];
  EXPECT_DOUBLE_EQ(r.suggestion_min_div10, lr_at_min / 10);
  EXPECT_GT(r.suggestion_steep, r.lrs[lo] * 0.9999999);
  EXPECT_LT(r.suggestion_steep, lr_at_min * 1.0000001) << "the steepest descent comes before the minimum";
  EXPECT_LT(*min_it, r.smoothed_losses[0] * 0.9) << "the loss fell along the sweep";
}

TEST(TrainLrFind, BadOptionsAreErrors) {
  auto train = blobs(20, 3, 2);
  auto model = mlp(3, 4, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 10});
  EXPECT_CONTAINS(error_of([&] { T::lr_find(*model, opt, loader, {.start_lr = 0}); }),
                  "start_lr must be > 0");
  EXPECT_CONTAINS(error_of([&] { T::lr_find(*model, opt, loader, {.start_lr = 1, .end_lr = 0.1}); }),
                  "end_lr");
  EXPECT_CONTAINS(error_of([&] { T::lr_find(*model, opt, loader, {.num_iter = 1}); }), "num_iter");
}
