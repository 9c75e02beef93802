// tests/test_classic_trees.cpp: DecisionTreeClassifier/Regressor and RandomForestClassifier/Regressor
// (classic/tree.h, classic/forest.h) against scikit-learn 1.2.1's results in tests/fixtures/sklearn_trees.txt
// (written by tests/gen_sklearn_trees.py) on the real data sets of tests/data/, plus their contracts:
// parameters, errors, sample and class weights, thread-count independence. Depends on GoogleTest,
// tests/support (fixtures, data sets) and kiln::kiln.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/classic_datasets.h"
#include "support/fixture.h"
#include "support/helpers.h"
#include "support/tree_test_utils.h"

using kiln::Tensor;
using kiln::testing::error_of;
using namespace kiln::classic;
using namespace kiln::tree_test;

namespace {

// ---- single trees: the whole fitted tree equals scikit-learn's ----

template <class Model>
void expect_same_tree(const Model& model, const kiln::test::FixtureCase& c, bool classifier) {
  const auto& t = model.tree_();
  const auto ints = [](const std::vector<int32_t>& v) { return std::vector<double>(v.begin(), v.end()); };
  EXPECT_EQ(ints(t.left), c.get("children_left").values);
  EXPECT_EQ(ints(t.right), c.get("children_right").values);
  EXPECT_EQ(ints(t.feature), c.get("feature").values);
  std::vector<double> n_samples(t.n_samples.begin(), t.n_samples.end());
  EXPECT_EQ(n_samples, c.get("n_node_samples").values);
  expect_near_all(t.threshold, c.get("threshold").values, 0.0, "threshold");  // same float32 midpoints
  expect_near_all(t.impurity, c.get("impurity").values, 1e-9, "impurity");
  expect_near_all(t.weighted_n, c.get("weighted_n").values, 1e-12, "weighted_n");
  expect_near_all(t.value, c.get("value").values, 1e-12, "value");
  expect_near_all(kiln::testing::values(model.feature_importances_()), c.get("importances").values, 1e-12,
                  "importances");
  (void)classifier;
}

TEST(DecisionTree, IrisDepth3EqualsSklearnTree) {
  // The root split is a tie (petal length <= 2.45 and petal width <= 0.8 both isolate setosa): kiln takes
  // the lower column, and the fixture's random_state is one where scikit-learn does too.
  const auto ds = kiln::testing::load_dataset("iris");
  DecisionTreeClassifier tree({.max_depth = 3});
  tree.fit(ds.X, ds.y);
  const auto c = fixture_case("tree_iris_depth3");
  expect_same_tree(tree, c, true);
  EXPECT_EQ(kiln::testing::values(tree.predict(ds.X)), c.get("predict").values);
  EXPECT_EQ(tree.get_depth(), 3);
  EXPECT_EQ(tree.get_n_leaves(), 5);
}

TEST(DecisionTree, DiabetesDepth3EqualsSklearnTree) {
  const auto ds = kiln::testing::load_dataset("diabetes");  // no ties at this depth (see the generator)
  DecisionTreeRegressor tree({.max_depth = 3});
  tree.fit(ds.X, ds.y);
  const auto c = fixture_case("tree_diabetes_depth3");
  expect_same_tree(tree, c, false);
  expect_near_all(kiln::testing::values(tree.predict(ds.X)), c.get("predict").values, 1e-9, "predict");
}

TEST(DecisionTree, FullyGrownTreeFitsTrainingSetAndProbabilitiesSumToOne) {
  const auto ds = kiln::testing::load_dataset("wine");
  DecisionTreeClassifier tree;
  tree.fit(ds.X, ds.y);
  EXPECT_DOUBLE_EQ(tree.score(ds.X, ds.y), 1.0);
  const std::vector<double> p = kiln::testing::values(tree.predict_proba(ds.X));
  for (size_t i = 0; i < p.size() / 3; ++i) EXPECT_NEAR(p[3 * i] + p[3 * i + 1] + p[3 * i + 2], 1.0, 1e-12);
  EXPECT_EQ(kiln::testing::values(tree.classes()), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(tree.apply(ds.X).shape(), (kiln::Shape{178}));
}

TEST(DecisionTree, IntegerSampleWeightsEqualRepeatedRows) {
  const auto ds = kiln::testing::load_dataset("wine");
  const int64_t n = ds.X.size(0);
  std::vector<double> w(n);
  std::vector<int64_t> repeated;
  for (int64_t i = 0; i < n; ++i) {
    w[i] = static_cast<double>(i % 4);  // 0..3 copies
    for (int r = 0; r < i % 4; ++r) repeated.push_back(i);
  }
  DecisionTreeClassifier weighted({.max_depth = 4}), copies({.max_depth = 4});
  weighted.fit(ds.X, ds.y, kiln::from_vector(w));
  copies.fit(take_rows(ds.X, repeated), take_rows(ds.y, repeated));
  EXPECT_EQ(kiln::testing::values(weighted.predict_proba(ds.X)),
            kiln::testing::values(copies.predict_proba(ds.X)));
  EXPECT_EQ(weighted.tree_().feature, copies.tree_().feature);
}

TEST(DecisionTree, BalancedClassWeightEqualsExplicitSampleWeights) {
  const auto ds = kiln::testing::load_dataset("breast_cancer");
  const std::vector<int64_t> y = ds.y.to_vector<int64_t>();
  const double n = static_cast<double>(y.size());
  const double n1 = static_cast<double>(std::count(y.begin(), y.end(), 1)), n0 = n - n1;
  std::vector<double> w(y.size());
  for (size_t i = 0; i < y.size(); ++i) w[i] = y[i] == 1 ? n / (2 * n1) : n / (2 * n0);
  DecisionTreeClassifier balanced({.max_depth = 5, .class_weight = "balanced"}), explicit_w({.max_depth = 5});
  balanced.fit(ds.X, ds.y);
  explicit_w.fit(ds.X, ds.y, kiln::from_vector(w));
  EXPECT_EQ(balanced.tree_().feature, explicit_w.tree_().feature);
  expect_near_all(kiln::testing::values(balanced.predict_proba(ds.X)),
                  kiln::testing::values(explicit_w.predict_proba(ds.X)), 1e-12, "proba");
}

TEST(DecisionTree, DepthAndLeafLimitsHold) {
  const auto ds = kiln::testing::load_dataset("digits");
  DecisionTreeClassifier tree(
      {.max_depth = 6, .min_samples_leaf = 10, .max_features = "sqrt", .random_state = 3});
  tree.fit(ds.X, ds.y);
  EXPECT_LE(tree.get_depth(), 6);
  const auto& t = tree.tree_();
  for (int64_t i = 0; i < t.node_count(); ++i) EXPECT_GE(t.n_samples[i], 10);
  DecisionTreeClassifier again(
      {.max_depth = 6, .min_samples_leaf = 10, .max_features = "sqrt", .random_state = 3});
  again.fit(ds.X, ds.y);
  EXPECT_EQ(again.tree_().threshold, t.threshold);  // the same random_state, the same tree
}

// ---- randomized models: 5-fold CV within a band of scikit-learn's ----

struct CvCase {
  std::string model, data;
  double band;
};

double kiln_cv(const std::string& model, const std::string& data, int64_t seed) {
  const bool regression = data == "diabetes";
  return cross_validate_on_fixture_folds(
      data, [&](const Tensor& Xtr, const Tensor& ytr, const Tensor& Xte, const Tensor& yte) {
        if (model == "tree" && regression)
          return DecisionTreeRegressor({.random_state = seed}).fit(Xtr, ytr).score(Xte, yte);
        if (model == "tree")
          return DecisionTreeClassifier({.random_state = seed}).fit(Xtr, ytr).score(Xte, yte);
        if (model == "forest" && regression)
          return RandomForestRegressor({.random_state = seed}).fit(Xtr, ytr).score(Xte, yte);
        return RandomForestClassifier({.random_state = seed}).fit(Xtr, ytr).score(Xte, yte);
      });
}

// kiln's mean CV score over random_state 0..seeds-1 must lie within `band` of scikit-learn's mean over
// random_state 0..4 (both draw features in a random order per node, so a tie-break moves a single tree's
// score by a few points; the means are what the implementations share). Measured gaps (printed by the
// test): trees at most 0.003 accuracy and 0.013 R^2 (diabetes), forests at most 0.006 accuracy (wine; 0.0003
// on integer_coded, where scikit-learn's own seeds span 0.754..0.771) and
// 0.003 R^2; the bands are about twice that: trees 0.01 (0.03 R^2), forests 0.01 (0.01 R^2).
TEST(RandomizedModels, CrossValidationWithinBandOfSklearn) {
  const std::vector<CvCase> cases = {{"tree", "iris", 0.01},           {"tree", "wine", 0.01},
                                     {"tree", "breast_cancer", 0.01},  {"tree", "digits", 0.01},
                                     {"tree", "diabetes", 0.03},       {"forest", "iris", 0.01},
                                     {"forest", "wine", 0.01},         {"forest", "breast_cancer", 0.01},
                                     {"forest", "digits", 0.01},       {"forest", "diabetes", 0.01},
                                     {"forest", "integer_coded", 0.01}};
  for (const CvCase& c : cases) {
    const auto fc = fixture_case("cv_" + c.model + "_" + c.data);
    const std::vector<double>& per_seed = fc.get("per_seed").values;
    double ref = 0;
    for (double v : per_seed) ref += v / static_cast<double>(per_seed.size());
    const int64_t seeds = c.model == "tree" ? 5 : 3;
    double mean = 0, lo = 1e9, hi = -1e9;
    for (int64_t seed = 0; seed < seeds; ++seed) {
      const double score = kiln_cv(c.model, c.data, seed);
      mean += score / static_cast<double>(seeds);
      lo = std::min(lo, score), hi = std::max(hi, score);
    }
    EXPECT_NEAR(mean, ref, c.band) << c.model << " on " << c.data << ": kiln mean " << mean << " (" << lo
                                   << ".." << hi << ") vs sklearn mean " << ref;
    std::printf("  cv %-6s %-13s kiln mean %.4f (%.4f..%.4f over %lld seeds)  sklearn mean %.4f  gap %+.4f\n",
                c.model.c_str(), c.data.c_str(), mean, lo, hi, static_cast<long long>(seeds), ref,
                mean - ref);
  }
}

// ---- forests ----

// Integer codes leave many features constant inside a node; a forest that stops drawing candidates there
// (or loses some from its pool) stops splitting early and grows visibly smaller trees. kiln's mean leaves
// and depth per tree over random_state 0..2 must lie within kShapeBand of scikit-learn's over 0..4.
// Measured: kiln 529.0 leaves and depth 16.92 against scikit-learn's 524.8 (518.9..530.3 over its seeds, so
// +-1% from randomness alone) and 16.83: ratios 1.008 and 1.006. The band, 3%, is three times that spread;
// a forest that gives up on nodes early (the defect this guards) grew a tenth of scikit-learn's leaves on
// the public survey data such codes come from.
TEST(RandomForest, TreesOnIntegerCodesGrowAsLargeAsSklearns) {
  constexpr double kShapeBand = 0.03;
  const auto ds = kiln::testing::load_dataset("integer_coded");
  const auto ref = fixture_case("shape_forest_integer_coded");
  auto mean_of = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  };
  const double ref_leaves = mean_of(ref.get("mean_leaves").values),
               ref_depth = mean_of(ref.get("mean_depth").values);
  std::vector<double> leaves, depths;
  for (int64_t seed = 0; seed < 3; ++seed) {
    RandomForestClassifier rf({.n_estimators = 30, .random_state = seed});
    rf.fit(ds.X, ds.y);
    double l = 0, d = 0;
    for (const auto& t : rf.estimators_())
      l += static_cast<double>(t.leaf_count()), d += static_cast<double>(t.max_depth);
    leaves.push_back(l / static_cast<double>(rf.estimators_().size()));
    depths.push_back(d / static_cast<double>(rf.estimators_().size()));
  }
  const double kiln_leaves = mean_of(leaves), kiln_depth = mean_of(depths);
  EXPECT_NEAR(kiln_leaves / ref_leaves, 1.0, kShapeBand)
      << "kiln " << kiln_leaves << " leaves, sklearn " << ref_leaves;
  EXPECT_NEAR(kiln_depth / ref_depth, 1.0, kShapeBand)
      << "kiln depth " << kiln_depth << ", sklearn " << ref_depth;
  const auto [lo_l, hi_l] =
      std::minmax_element(ref.get("mean_leaves").values.begin(), ref.get("mean_leaves").values.end());
  std::printf(
      "  integer codes: kiln %.1f leaves, depth %.2f; sklearn %.1f (%.1f..%.1f) leaves, depth %.2f; ratios "
      "%.4f %.4f\n",
      kiln_leaves, kiln_depth, ref_leaves, *lo_l, *hi_l, ref_depth, kiln_leaves / ref_leaves,
      kiln_depth / ref_depth);
}

TEST(RandomForest, OobScoreCloseToSklearn) {
  for (const std::string data : {"wine", "breast_cancer", "diabetes"}) {
    const auto ds = kiln::testing::load_dataset(data);
    double oob;
    if (data == "diabetes") {
      RandomForestRegressor rf({.oob_score = true});
      oob = rf.fit(ds.X, ds.y).oob_score_();
      EXPECT_EQ(rf.oob_prediction_().shape(), (kiln::Shape{ds.X.size(0)}));
    } else {
      RandomForestClassifier rf({.oob_score = true});
      oob = rf.fit(ds.X, ds.y).oob_score_();
      EXPECT_EQ(rf.oob_decision_function_().size(0), ds.X.size(0));
    }
    const std::vector<double> ref = fixture_case("oob_forest_" + data).get("per_seed").values;
    const double lo = *std::min_element(ref.begin(), ref.end()),
                 hi = *std::max_element(ref.begin(), ref.end());
    // Out-of-bag scores vary with the bootstrap draws: within 0.02 of scikit-learn's range (0.03 R^2).
    const double band = data == "diabetes" ? 0.03 : 0.02;
    EXPECT_GE(oob, lo - band) << data;
    EXPECT_LE(oob, hi + band) << data;
  }
}

TEST(RandomForest, ImportancesSumToOneAndRankLikeSklearn) {
  for (const std::string data : {"wine", "breast_cancer"}) {
    const auto ds = kiln::testing::load_dataset(data);
    RandomForestClassifier rf({.n_estimators = 500});
    const std::vector<double> imp = kiln::testing::values(rf.fit(ds.X, ds.y).feature_importances_());
    const std::vector<double> ref = fixture_case("importances_" + data).get("importances").values;
    EXPECT_NEAR(std::accumulate(imp.begin(), imp.end(), 0.0), 1.0, 1e-12);
    const std::vector<size_t> mine = top_k(imp, 5), theirs = top_k(ref, 5);
    // The top 5 features are the same set (in 500 trees the ranks below that are noise); the top one is the
    // same feature unless scikit-learn's top two are within 0.01 of each other.
    EXPECT_EQ(std::set<size_t>(mine.begin(), mine.end()), std::set<size_t>(theirs.begin(), theirs.end()))
        << data;
    if (ref[theirs[0]] - ref[theirs[1]] > 0.01) {
      EXPECT_EQ(mine[0], theirs[0]) << data;
    }
  }
}

TEST(RandomForest, ResultsDoNotDependOnThreadCount) {
  const auto ds = kiln::testing::load_dataset("breast_cancer");
  std::vector<double> proba[3], imp[3];
  double oob[3];
  for (int j = 0; j < 3; ++j) {
    RandomForestClassifier rf({.n_estimators = 30, .oob_score = true, .n_jobs = j + 1, .random_state = 7});
    rf.fit(ds.X, ds.y);
    proba[j] = kiln::testing::values(rf.predict_proba(ds.X));
    imp[j] = kiln::testing::values(rf.feature_importances_());
    oob[j] = rf.oob_score_();
  }
  for (int j = 1; j < 3; ++j) {
    EXPECT_EQ(proba[j], proba[0]);
    EXPECT_EQ(imp[j], imp[0]);
    EXPECT_EQ(oob[j], oob[0]);
  }
  RandomForestClassifier other({.n_estimators = 30, .random_state = 8});
  EXPECT_NE(kiln::testing::values(other.fit(ds.X, ds.y).predict_proba(ds.X)), proba[0]);  // seeds matter
}

TEST(RandomForest, ProbaIsMeanOfTreeProbabilities) {
  const auto ds = kiln::testing::load_dataset("iris");
  RandomForestClassifier rf({.n_estimators = 7, .max_depth = 3});
  rf.fit(ds.X, ds.y);
  const auto& trees = rf.estimators_();
  ASSERT_EQ(trees.size(), 7u);
  const std::vector<float> row = {5.9f, 3.0f, 5.1f, 1.8f};
  std::vector<double> mean(3, 0.0);
  for (const auto& t : trees)
    for (int k = 0; k < 3; ++k) mean[k] += t.value[t.apply(row.data()) * 3 + k] / 7.0;
  const Tensor x = kiln::from_vector(std::vector<double>{5.9, 3.0, 5.1, 1.8}, kiln::Shape{1, 4});
  expect_near_all(kiln::testing::values(rf.predict_proba(x)), mean, 1e-15, "proba");
}

TEST(RandomForest, ClassWeightsHelpTheMinorityClass) {
  // breast cancer with most malignant (0) rows dropped: 30 of class 0 against 357 of class 1.
  const auto ds = kiln::testing::load_dataset("breast_cancer");
  const std::vector<int64_t> y = ds.y.to_vector<int64_t>();
  std::vector<int64_t> keep;
  int64_t zeros = 0;
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] == 1 || zeros++ < 30) keep.push_back(static_cast<int64_t>(i));
  const Tensor X = take_rows(ds.X, keep), yy = take_rows(ds.y, keep);
  for (const std::string cw : {"balanced", "balanced_subsample"}) {
    RandomForestClassifier rf({.n_estimators = 50, .min_samples_leaf = 5, .class_weight = cw});
    rf.fit(X, yy);
    RandomForestClassifier plain({.n_estimators = 50, .min_samples_leaf = 5});
    plain.fit(X, yy);
    // Weighting the rare class raises its mean predicted probability on its own rows.
    const double p_w = mean_proba_of_class(rf.predict_proba(X), yy, 0);
    const double p_plain = mean_proba_of_class(plain.predict_proba(X), yy, 0);
    EXPECT_GT(p_w, p_plain) << cw;
  }
}

TEST(RandomForest, BootstrapsWithoutWeightedRowsStayFinite) {
  // One row of weight 1, the rest 0: about a third of the bootstrap samples miss it entirely.
  const auto ds = kiln::testing::load_dataset("iris");
  std::vector<double> w(150, 0.0);
  w[60] = 1.0;
  RandomForestClassifier rf({.n_estimators = 20});
  rf.fit(ds.X, ds.y, kiln::from_vector(w));
  int64_t empty = 0;
  for (const auto& t : rf.estimators_()) empty += t.weighted_n[0] == 0;
  EXPECT_GT(empty, 0);
  for (double v : kiln::testing::values(rf.predict_proba(ds.X))) EXPECT_TRUE(std::isfinite(v));
  for (double v : kiln::testing::values(rf.feature_importances_())) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(kiln::testing::values(rf.predict(ds.X.slice(0, 60, 61))), std::vector<double>{1});
}

// ---- parameters and errors ----

TEST(TreeParams, GetSetCloneRoundTrip) {
  RandomForestClassifier rf({.n_estimators = 10, .max_features = 0.5});
  ParamMap p = rf.get_params();
  EXPECT_EQ(std::get<int64_t>(p.at("n_estimators")), 10);
  EXPECT_EQ(std::get<double>(p.at("max_features")), 0.5);
  rf.set_params({{"max_depth", int64_t{4}}, {"max_features", std::string("log2")}, {"bootstrap", false}});
  auto copy = rf.clone();
  EXPECT_FALSE(copy->is_fitted());
  EXPECT_EQ(std::get<int64_t>(copy->get_params().at("max_depth")), 4);
  EXPECT_EQ(std::get<std::string>(copy->get_params().at("max_features")), "log2");
  EXPECT_EQ(std::get<bool>(copy->get_params().at("bootstrap")), false);
  EXPECT_EQ(copy->name(), "RandomForestClassifier");
  DecisionTreeRegressor tr;
  tr.set_params({{"min_samples_leaf", int64_t{3}}});
  EXPECT_EQ(tr.params().min_samples_leaf, 3);
}

TEST(TreeErrors, MessagesNameTheProblem) {
  const auto ds = kiln::testing::load_dataset("iris");
  DecisionTreeClassifier tree;
  EXPECT_CONTAINS(error_of([&] { tree.predict(ds.X); }),
                  "DecisionTreeClassifier.predict: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] { RandomForestRegressor().predict(ds.X); }),
                  "RandomForestRegressor.predict: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] { RandomForestClassifier().predict_proba(ds.X); }), "not fitted yet");
  EXPECT_CONTAINS(error_of([&] { tree.feature_importances_(); }), "not fitted yet");
  tree.fit(ds.X, ds.y);
  const Tensor X3 = kiln::zeros({2, 3}, {.dtype = kiln::DType::f64});
  EXPECT_CONTAINS(error_of([&] { tree.predict(X3); }), "X has 3 features, but the model was fitted with 4");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.max_depth = 0}).fit(ds.X, ds.y); }),
                  "max_depth must be >= 1 or -1");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.min_samples_leaf = 0}).fit(ds.X, ds.y); }),
                  "min_samples_leaf must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.min_samples_split = 1}).fit(ds.X, ds.y); }),
                  "min_samples_split must be >= 2, got 1");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.criterion = "mae"}).fit(ds.X, ds.y); }),
                  "criterion must be \"gini\", \"entropy\" or \"log_loss\", got \"mae\"");
  EXPECT_CONTAINS(
      error_of([&] { DecisionTreeRegressor({.criterion = "gini"}).fit(ds.X, ds.X.select(1, 0)); }),
      "criterion must be \"squared_error\"");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.max_features = "half"}).fit(ds.X, ds.y); }),
                  "max_features must be an int, a float, \"sqrt\", \"log2\" or \"none\", got \"half\"");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.max_features = 1.5}).fit(ds.X, ds.y); }),
                  "max_features as a fraction must be in (0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] { DecisionTreeClassifier({.max_features = int64_t{9}}).fit(ds.X, ds.y); }),
                  "max_features = 9 exceeds the number of features (4)");
  EXPECT_CONTAINS(
      error_of([&] { DecisionTreeClassifier({.class_weight = "balanced_subsample"}).fit(ds.X, ds.y); }),
      "class_weight must be \"\" (none) or \"balanced\"");
  EXPECT_CONTAINS(error_of([&] { RandomForestClassifier({.n_estimators = 0}).fit(ds.X, ds.y); }),
                  "n_estimators must be >= 1, got 0");
  EXPECT_CONTAINS(
      error_of([&] { RandomForestClassifier({.bootstrap = false, .oob_score = true}).fit(ds.X, ds.y); }),
      "oob_score needs bootstrap = true");
  EXPECT_CONTAINS(error_of([&] { RandomForestClassifier().fit(ds.X, ds.y).oob_score_(); }),
                  "oob_score_() needs the parameter oob_score = true");
  EXPECT_CONTAINS(error_of([&] {
                    tree.set_params({{"max_dept", int64_t{3}}});
                  }),
                  "DecisionTreeClassifier.set_params: unknown parameter 'max_dept'");
  EXPECT_CONTAINS(error_of([&] {
                    tree.set_params({{"max_depth", 3.5}});
                  }),
                  "parameter 'max_depth' must be an int, got double 3.5");
  EXPECT_CONTAINS(error_of([&] { tree.fit(ds.X, ds.X.select(1, 0)); }),
                  "class labels y must be an integer tensor (i64), got f64");
  EXPECT_CONTAINS(error_of([&] { tree.fit(ds.X, ds.y.slice(0, 0, 10)); }), "y must have shape [150]");
  EXPECT_CONTAINS(error_of([&] { tree.fit(ds.X.select(1, 0), ds.y); }),
                  "X must be 2-D (n_samples, n_features)");
  EXPECT_CONTAINS(
      error_of([&] { tree.fit(ds.X, ds.y, kiln::full({150}, -1.0, {.dtype = kiln::DType::f64})); }),
      "sample_weight must be finite and >= 0, got -1");
  Tensor bad = ds.X.clone();
  bad.at<double>({3, 2}) = std::nan("");
  EXPECT_CONTAINS(error_of([&] { RandomForestClassifier().fit(bad, ds.y); }),
                  "X (as float32) contains NaN at row 3, column 2");
}

}  // namespace
