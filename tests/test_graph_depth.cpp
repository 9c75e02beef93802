// tests/test_graph_depth.cpp: very deep graphs (long recurrences) are built, differentiated and freed
// without recursion, so nothing overflows the stack.
#include <gtest/gtest.h>

#include <kiln/kiln.h>

namespace kiln {
namespace {

constexpr int kDepth = 200000;

TEST(GraphDepth, BackwardThroughAVeryLongChain) {
  Tensor x = full({2}, 1.0, {.dtype = DType::f64, .requires_grad = true});
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = y * 1.0;
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1.0, 1.0}));
}

TEST(GraphDepth, FreeingAVeryLongUnusedChainDoesNotRecurse) {
  int64_t before = autograd::Node::live_count();
  {
    Tensor x = ones({3}, {.requires_grad = true});
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = exp(y * 0.0);
    EXPECT_GE(autograd::Node::live_count() - before, 2 * kDepth);
  }  // y's graph dies here, never differentiated
  EXPECT_EQ(autograd::Node::live_count(), before);
}

}  // namespace
}  // namespace kiln
