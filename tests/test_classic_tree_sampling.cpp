// The per-node feature sampling of the CART engine (classic/tree_builder.cpp), checked by properties
// scikit-learn's splitter guarantees rather than by one frozen result:
//  - a node keeps drawing features until it finds a non-constant one, so a fully grown tree on data whose
//    label is a function of the features fits every training row (no leaf stops impure while a feature
//    still varies in it), whatever max_features is; integer-coded features, which turn constant inside
//    nodes all the time, are where wrong bookkeeping of the known-constant features shows;
//  - with max_features = every feature, the visiting order is drawn per node, so ties between equally good
//    splits go to the seed, not to the first column.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include <kiln/kiln.h>

using namespace kiln;

namespace {

// n rows of d small-integer features (0..levels-1) and a label that is a function of the row; rows are
// distinct enough that the label is learnable exactly.
std::pair<Tensor, Tensor> integer_coded(int64_t n, int64_t d, int64_t levels, uint64_t seed) {
  std::vector<double> x(n * d);
  std::vector<int64_t> y(n);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  auto next = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 0;
    for (int64_t j = 0; j < d; ++j) {
      // Most columns are low-cardinality (0/1/2), a few wider, as in survey data.
      const int64_t lv = j % 4 == 0 ? levels * 3 : levels;
      x[i * d + j] = static_cast<double>(next() % lv);
      h = h * 31 + static_cast<uint64_t>(x[i * d + j]) + 7;
    }
    y[i] = static_cast<int64_t>((h >> 3) % 3);
  }
  return {from_vector(x, Shape{n, d}), from_vector(y)};
}

}  // namespace

TEST(TreeSampling, FullyGrownTreesFitIntegerCodedDataExactly) {
  auto [X, y] = integer_coded(600, 12, 3, 1);
  for (int64_t seed = 0; seed < 8; ++seed) {
    const std::vector<std::pair<const char*, classic::ParamValue>> choices = {
        {"sqrt", std::string("sqrt")}, {"1", int64_t{1}}, {"5", int64_t{5}}, {"none", std::string("none")}};
    for (const auto& [label, mf] : choices) {
      classic::DecisionTreeClassifier tree({.max_features = mf, .random_state = seed});
      tree.fit(X, y);
      EXPECT_DOUBLE_EQ(tree.score(X, y), 1.0) << "seed " << seed << ", max_features " << label << ": "
                                              << tree.get_n_leaves() << " leaves, depth " << tree.get_depth();
    }
  }
}

TEST(TreeSampling, ForestTreesGrowUntilPureOnIntegerCodedData) {
  auto [X, y] = integer_coded(800, 16, 3, 2);
  classic::RandomForestClassifier rf({.n_estimators = 10, .bootstrap = false, .random_state = 3});
  rf.fit(X, y);
  EXPECT_DOUBLE_EQ(rf.score(X, y), 1.0);
  for (const auto& t : rf.estimators_()) {
    // Every leaf is pure: no node stopped while a feature could still separate its rows.
    for (int64_t i = 0; i < t.node_count(); ++i)
      if (t.left[i] < 0) EXPECT_NEAR(t.impurity[i], 0.0, 1e-12) << "leaf " << i << " is impure";
  }
}

TEST(TreeSampling, TiesBetweenEqualColumnsGoToTheSeed) {
  // Two identical columns: every split on one is equally good on the other.
  std::vector<double> x;
  std::vector<double> y;
  for (int i = 0; i < 16; ++i) {
    x.push_back(i), x.push_back(i);
    y.push_back(i < 8 ? 1.0 : 3.0 + 0.1 * i);
  }
  Tensor X = from_vector(x, Shape{16, 2}), Y = from_vector(y);
  std::set<int32_t> roots;
  for (int64_t seed = 0; seed < 16; ++seed) {
    classic::DecisionTreeRegressor t({.random_state = seed});
    t.fit(X, Y);
    roots.insert(t.tree_().feature[0]);
  }
  EXPECT_EQ(roots, (std::set<int32_t>{0, 1})) << "the root split should use either column, by seed";
  // The same seed gives the same tree.
  classic::DecisionTreeRegressor a({.random_state = 5}), b({.random_state = 5});
  a.fit(X, Y), b.fit(X, Y);
  EXPECT_EQ(a.tree_().feature, b.tree_().feature);
}
