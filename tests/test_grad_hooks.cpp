// Post-accumulate-grad hooks (autograd/grad_hooks.h): they fire once per backward, after every
// contribution to the leaf's gradient was summed, and not for autograd::grad().
#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/helpers.h"

using namespace kiln;

TEST(GradHooks, FireOncePerBackwardWithTheFinalGradient) {
  Tensor w = full({3}, 2.0, {.requires_grad = true});
  std::vector<std::vector<float>> seen;
  const int64_t id = autograd::register_post_accumulate_grad_hook(
      w, [&](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<float>()); });
  // w is used twice: the hook must see the sum of both contributions (3 + 5), once.
  Tensor loss = add(sum(mul(w, full({3}, 3.0))), sum(mul(w, full({3}, 5.0))));
  loss.backward();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::vector<float>{8, 8, 8}));
  // A second backward accumulates into .grad(); the hook sees the accumulated value.
  sum(mul(w, full({3}, 1.0))).backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], (std::vector<float>{9, 9, 9}));
  // grad() leaves .grad() alone and fires nothing.
  autograd::grad({sum(w)}, {w});
  EXPECT_EQ(seen.size(), 2u);
  autograd::remove_post_accumulate_grad_hook(id);
  autograd::remove_post_accumulate_grad_hook(id);  // harmless
  sum(w).backward();
  EXPECT_EQ(seen.size(), 2u);
}

TEST(GradHooks, HooksMayModifyTheGradientAndNeedALeaf) {
  Tensor w = full({2}, 1.0, {.requires_grad = true});
  autograd::register_post_accumulate_grad_hook(w, [](const Tensor& leaf) { leaf.grad().mul_(10.0); });
  sum(w).backward();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{10, 10}));
  Tensor y = mul(w, w);
  EXPECT_CONTAINS(
      kiln::testing::error_of([&] { autograd::register_post_accumulate_grad_hook(y, [](const Tensor&) {}); }),
      "must be a leaf that requires grad");
}
