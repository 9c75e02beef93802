// tests/test_random.cpp: the counter-based random stream (seeded, reproducible, independent of the thread
// count, with the right distributions) and reductions that are bit-identical for any thread count.
// Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/helpers.h"

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::testing::error_of;
using kiln::testing::ThreadCountRestorer;
using kiln::testing::values;

namespace {

// ---------------------------------------------------------------------------------------------------
// Random numbers.

TEST(Random, ManualSeedMakesEveryDrawReproducible) {
  auto draw_all = [] {
    std::vector<std::vector<double>> out;
    out.push_back(values(kiln::rand({257})));
    out.push_back(values(kiln::randn({3, 5}, {.dtype = DType::f64})));
    out.push_back(values(kiln::randint(-5, 5, {99})));
    out.push_back(values(kiln::bernoulli({64}, 0.5)));
    out.push_back(values(kiln::empty({33}).normal_(1.0, 2.0)));
    out.push_back(values(kiln::empty({33}).uniform_(-1.0, 1.0)));
    return out;
  };
  kiln::manual_seed(1234);
  auto first = draw_all();
  kiln::manual_seed(1234);
  auto second = draw_all();
  EXPECT_EQ(first, second);
  kiln::manual_seed(1235);
  auto other = draw_all();
  for (size_t i = 0; i < first.size(); ++i) EXPECT_NE(first[i], other[i]) << "draw " << i;
  // The stream moves on: two draws after one seed differ.
  kiln::manual_seed(7);
  EXPECT_NE(values(kiln::rand({16})), values(kiln::rand({16})));
}

TEST(Random, StreamIsAFunctionOfSeedAndPosition) {
  const uint64_t seed = 99;
  kiln::manual_seed(seed);
  std::vector<float> u = kiln::rand({9}).to_vector<float>();
  // Element e uses Philox(seed, e / 2), words 2 (e % 2) and 2 (e % 2) + 1; f32 uniform takes 24 bits.
  for (int e = 0; e < 9; ++e) {
    auto w = kiln::philox4x32(seed, static_cast<uint64_t>(e / 2));
    float expected = static_cast<float>(w[2 * (e % 2)] >> 8) * 0x1.0p-24f;
    EXPECT_EQ(u[e], expected) << "element " << e;
  }
  EXPECT_EQ(kiln::default_generator().offset(), 5u);
  // Two draws of 10 are one draw of 20.
  kiln::manual_seed(seed);
  std::vector<double> a = values(kiln::randn({10})), b = values(kiln::randn({10}));
  kiln::manual_seed(seed);
  std::vector<double> ab = values(kiln::randn({20}));
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(a, ab);
}

TEST(Random, StreamDoesNotDependOnThreadCount) {
  ThreadCountRestorer restore;
  const Shape shape{1000003};  // odd and far above the serial threshold
  auto draw = [&](int threads, const std::function<Tensor()>& f) {
    kiln::set_num_threads(threads);
    kiln::manual_seed(2024);
    return f();
  };
  std::vector<std::function<Tensor()>> draws = {
      [&] { return kiln::rand(shape); },
      [&] { return kiln::randn(shape); },
      [&] { return kiln::randn(shape, {.dtype = DType::f64}); },
      [&] { return kiln::randint(0, 1000, shape); },
      [&] { return kiln::bernoulli(shape, 0.3); },
      [&] { return kiln::empty(shape).normal_(2.0, 3.0); },
  };
  for (size_t i = 0; i < draws.size(); ++i) {
    Tensor one = draw(1, draws[i]);
    Tensor two = draw(2, draws[i]);
    ASSERT_EQ(one.numel(), two.numel());
    size_t bytes = one.numel() * kiln::dtype_size(one.dtype());
    EXPECT_EQ(std::memcmp(one.data_ptr(), two.data_ptr(), bytes), 0) << "draw " << i;
  }
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double std_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

TEST(Random, DistributionsHaveTheRightMoments) {
  kiln::manual_seed(42);
  const int64_t n = 1000000;
  std::vector<double> g = values(kiln::randn({n}));
  EXPECT_NEAR(mean_of(g), 0.0, 0.01);
  EXPECT_NEAR(std_of(g), 1.0, 0.01);
  EXPECT_NEAR(std::count_if(g.begin(), g.end(), [](double x) { return std::abs(x) < 1; }) / double(n), 0.6827,
              0.01);

  std::vector<double> u = values(kiln::rand({n}));
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  EXPECT_NEAR(mean_of(u), 0.5, 0.01);
  EXPECT_NEAR(std_of(u), std::sqrt(1.0 / 12.0), 0.01);
  std::vector<double> ud = values(kiln::rand({n}, {.dtype = DType::f64}));
  EXPECT_GE(*std::min_element(ud.begin(), ud.end()), 0.0);
  EXPECT_LT(*std::max_element(ud.begin(), ud.end()), 1.0);
  EXPECT_NEAR(mean_of(ud), 0.5, 0.01);

  Tensor ri = kiln::randint(3, 9, {60000});
  EXPECT_EQ(ri.dtype(), DType::i64);
  std::map<int64_t, int> counts;
  for (int64_t v : ri.to_vector<int64_t>()) ++counts[v];
  ASSERT_EQ(counts.size(), 6u);
  EXPECT_EQ(counts.begin()->first, 3);
  EXPECT_EQ(counts.rbegin()->first, 8);
  for (auto [value, count] : counts) EXPECT_NEAR(count / 60000.0, 1.0 / 6.0, 0.01) << value;
  Tensor ri32 = kiln::randint(-2, 2, {1000}, {.dtype = DType::i32});
  EXPECT_EQ(ri32.dtype(), DType::i32);
  std::vector<int32_t> r32 = ri32.to_vector<int32_t>();
  EXPECT_EQ(*std::min_element(r32.begin(), r32.end()), -2);
  EXPECT_EQ(*std::max_element(r32.begin(), r32.end()), 1);

  std::vector<double> bern = values(kiln::bernoulli({n}, 0.3));
  EXPECT_TRUE(std::all_of(bern.begin(), bern.end(), [](double x) { return x == 0.0 || x == 1.0; }));
  EXPECT_NEAR(mean_of(bern), 0.3, 0.01);
  Tensor probs = kiln::from_vector(std::vector<float>{0, 1, 0, 1}).expand({1000, 4}).contiguous();
  std::vector<double> pb = values(kiln::bernoulli(probs));
  for (size_t i = 0; i < pb.size(); ++i) ASSERT_EQ(pb[i], static_cast<double>(i % 2)) << i;
  std::vector<double> half = values(kiln::bernoulli(kiln::full({n}, 0.7)));
  EXPECT_NEAR(mean_of(half), 0.7, 0.01);
}

TEST(Random, InPlaceRefills) {
  kiln::manual_seed(5);
  Tensor t = kiln::zeros({1000, 1000});
  const void* data = t.data_ptr();
  t.normal_(5.0, 2.0);
  EXPECT_EQ(t.data_ptr(), data);  // in place
  std::vector<double> v = values(t);
  EXPECT_NEAR(mean_of(v), 5.0, 0.02);
  EXPECT_NEAR(std_of(v), 2.0, 0.02);
  t.uniform_(-2.0, 3.0);
  v = values(t);
  EXPECT_GE(*std::min_element(v.begin(), v.end()), -2.0);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), 3.0);
  EXPECT_NEAR(mean_of(v), 0.5, 0.02);
  // Through a strided view only the viewed elements change.
  Tensor m = kiln::zeros({4, 4});
  m.t().slice(0, 0, 4, 2).uniform_(1.0, 2.0);  // columns 0 and 2 of m
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      float x = m.at<float>({i, j});
      if (j % 2 == 0) {
        EXPECT_GE(x, 1.0f);
        EXPECT_LT(x, 2.0f);
      } else {
        EXPECT_EQ(x, 0.0f);
      }
    }
}

TEST(Random, BadArgumentsAreErrors) {
  std::string msg = error_of([] { kiln::randn({4}, {.dtype = DType::i64}); });
  EXPECT_CONTAINS(msg, "normal");
  EXPECT_CONTAINS(msg, "i64");
  msg = error_of([] { kiln::randint(5, 5, {4}); });
  EXPECT_CONTAINS(msg, "randint");
  msg = error_of([] { kiln::bernoulli({4}, 1.5); });
  EXPECT_CONTAINS(msg, "bernoulli");
  EXPECT_CONTAINS(msg, "1.5");
}

// ---------------------------------------------------------------------------------------------------
// Reductions do not depend on the thread count.

TEST(Reductions, BitwiseIdenticalForOneAndTwoThreads) {
  ThreadCountRestorer restore;
  kiln::manual_seed(11);
  Tensor big = kiln::randn({1000000});
  Tensor mat = kiln::randn({1000, 513});
  auto reduce = [&](int threads) {
    kiln::set_num_threads(threads);
    return std::vector<Tensor>{big.sum(), mat.sum({0}), mat.sum({1}), mat.mean(), mat.t().sum({1})};
  };
  std::vector<Tensor> one = reduce(1), two = reduce(2);
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].shape(), two[i].shape());
    EXPECT_EQ(std::memcmp(one[i].data_ptr(), two[i].data_ptr(), one[i].numel() * sizeof(float)), 0)
        << "reduction " << i;
  }
  // And they are right.
  std::vector<double> b = values(big);
  double exact = 0;
  for (double x : b) exact += x;
  EXPECT_NEAR(one[0].item<double>(), exact, 1e-2);
  ASSERT_EQ(one[1].shape(), (Shape{513}));
  std::vector<double> m = values(mat);
  for (int64_t j : {0, 100, 512}) {
    double col = 0;
    for (int64_t i = 0; i < 1000; ++i) col += m[i * 513 + j];
    EXPECT_NEAR(one[1].at<float>({j}), col, 1e-3) << "column " << j;
    EXPECT_NEAR(one[4].at<float>({j}), col, 1e-3) << "column " << j << " through a transposed view";
  }
}

}  // namespace
