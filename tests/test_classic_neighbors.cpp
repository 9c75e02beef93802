// tests/test_classic_neighbors.cpp: KNeighborsClassifier / KNeighborsRegressor and GaussianNB against
// scikit-learn 1.2.1 (tests/fixtures/sklearn_linear.txt, from tests/gen_sklearn_linear.py): fitted on the
// rows i % 4 != 0 of breast cancer, wine, diabetes, iris and digits, evaluated on the rows i % 4 == 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/classic_datasets.h"
#include "support/helpers.h"

namespace {

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;
using kiln::testing::every_4th_rows;
using kiln::testing::expect_close;
using kiln::testing::load_dataset;
using kiln::testing::select_rows;
using kiln::testing::values;
using kiln::testing::w3;

const kiln::test::FixtureCase& fixture(const std::string& name) {
  return kiln::testing::sklearn_case("sklearn_linear.txt", name);
}

struct Parts {
  Tensor X_train, y_train, X_test, y_test;
};

Parts parts(const std::string& name) {
  auto d = load_dataset(name);
  auto tr = every_4th_rows(d.X.shape()[0], false), te = every_4th_rows(d.X.shape()[0], true);
  return {select_rows(d.X, tr), select_rows(d.y, tr), select_rows(d.X, te), select_rows(d.y, te)};
}

TEST(ClassicNeighbors, ClassifierMatchesSklearn) {
  for (std::string ds : {"breast_cancer", "wine"}) {
    Parts p = parts(ds);
    for (auto [k, weights, pn] : std::vector<std::tuple<int64_t, std::string, int64_t>>{
             {5, "uniform", 2}, {7, "distance", 1}, {1, "uniform", 2}, {10, "distance", 2}}) {
      const std::string name =
          "knn_" + ds + "_k" + std::to_string(k) + "_" + weights + "_p" + std::to_string(pn);
      SCOPED_TRACE(name);
      const auto& f = fixture(name);
      KNeighborsClassifier knn({.n_neighbors = k, .weights = weights, .p = pn, .n_jobs = 2});
      knn.fit(p.X_train, p.y_train);
      expect_close(knn.predict_proba(p.X_test), f.get("proba").values, 0, 1e-12, "proba");
      EXPECT_EQ(values(knn.predict(p.X_test)), f.get("pred").values);
      if (f.has("dist")) {
        auto [dist, ind] = knn.kneighbors(p.X_test);
        expect_close(dist, f.get("dist").values, 1e-12, 0, "distances");
        EXPECT_EQ(values(ind), f.get("ind").values);
      }
    }
  }
}

TEST(ClassicNeighbors, RegressorMatchesSklearn) {
  Parts p = parts("diabetes");
  for (auto [k, weights, pn] :
       std::vector<std::tuple<int64_t, std::string, int64_t>>{{5, "uniform", 2}, {9, "distance", 1}}) {
    const std::string name =
        "knnreg_diabetes_k" + std::to_string(k) + "_" + weights + "_p" + std::to_string(pn);
    SCOPED_TRACE(name);
    KNeighborsRegressor knn({.n_neighbors = k, .weights = weights, .p = pn});
    knn.fit(p.X_train, p.y_train);
    expect_close(knn.predict(p.X_test), fixture(name).get("pred").values, 1e-12, 0, "pred");
  }
}

// The Euclidean search goes through a matrix product and re-measures near candidates: on digits (integer
// pixels, so many exactly tied distances) it must give the same neighbours, in the same (distance, row)
// order, as measuring every pair directly.
TEST(ClassicNeighbors, EuclideanSearchEqualsDirectWithTies) {
  Parts p = parts("digits");
  const int64_t k = 10, d = 64, nt = p.X_train.shape()[0], nq = p.X_test.shape()[0];
  KNeighborsClassifier knn({.n_neighbors = k, .n_jobs = 2});
  knn.fit(p.X_train, p.y_train);
  auto [dist, ind] = knn.kneighbors(p.X_test);
  std::vector<double> xt = values(p.X_train), xq = values(p.X_test), got_d = values(dist),
                      got_i = values(ind);
  int64_t ties = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> all(nt);
    for (int64_t t = 0; t < nt; ++t) {
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += (xq[i * d + j] - xt[t * d + j]) * (xq[i * d + j] - xt[t * d + j]);
      all[t] = {s, t};
    }
    std::sort(all.begin(), all.end());
    for (int64_t j = 0; j < k; ++j) {
      ASSERT_EQ(got_i[i * k + j], all[j].second) << "query " << i << " neighbour " << j;
      ASSERT_EQ(got_d[i * k + j], std::sqrt(all[j].first));
      if (j > 0 && all[j].first == all[j - 1].first) ++ties;
    }
  }
  EXPECT_GT(ties, 50);  // the case this test exists for (74 tied pairs among the first 10)
}

TEST(ClassicNeighbors, DistanceWeightsWithExactMatchesAndThreads) {
  // A query equal to a training row takes that row's label only (weight 1 / 0 would be infinite).
  Tensor X = from_vector(std::vector<double>{0, 0, 1, 0, 2, 0, 3, 0}, Shape{4, 2});
  Tensor y = from_vector(std::vector<int64_t>{7, 7, 9, 9});
  KNeighborsClassifier knn({.n_neighbors = 3, .weights = "distance"});
  knn.fit(X, y);
  EXPECT_EQ(values(knn.predict_proba(from_vector(std::vector<double>{2, 0}, Shape{1, 2}))),
            (std::vector<double>{0, 1}));
  EXPECT_EQ(values(knn.classes()), (std::vector<double>{7, 9}));
  // Thread count does not change the result.
  Parts p = parts("breast_cancer");
  KNeighborsClassifier one({.n_jobs = 1}), four({.n_jobs = 4});
  one.fit(p.X_train, p.y_train);
  four.fit(p.X_train, p.y_train);
  EXPECT_EQ(values(one.predict_proba(p.X_test)), values(four.predict_proba(p.X_test)));
  EXPECT_GT(one.score(p.X_test, p.y_test), 0.9);
}

TEST(ClassicNeighbors, Errors) {
  Parts p = parts("wine");
  KNeighborsClassifier knn;
  EXPECT_CONTAINS(error_of([&] { knn.predict(p.X_test); }), "KNeighborsClassifier.predict");
  EXPECT_CONTAINS(error_of([&] { knn.predict(p.X_test); }), "not fitted yet");
  EXPECT_CONTAINS(error_of([&] { KNeighborsClassifier({.n_neighbors = 0}).fit(p.X_train, p.y_train); }),
                  "n_neighbors must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([&] { KNeighborsClassifier({.weights = "gaussian"}).fit(p.X_train, p.y_train); }),
                  "weights must be \"uniform\" or \"distance\", got \"gaussian\"");
  EXPECT_CONTAINS(error_of([&] { KNeighborsRegressor({.p = 3}).fit(p.X_train, p.y_train); }),
                  "p must be 1 or 2, got 3");
  EXPECT_CONTAINS(error_of([&] { knn.fit(p.X_train, p.y_train, w3(133)); }),
                  "sample_weight is not supported");
  KNeighborsClassifier big({.n_neighbors = 500});
  big.fit(p.X_train, p.y_train);
  EXPECT_CONTAINS(error_of([&] { big.predict(p.X_test); }),
                  "n_neighbors = 500 must be between 1 and the 133 training samples");
  knn.set_params({{"n_neighbors", std::int64_t{3}}, {"weights", std::string("distance")}});
  EXPECT_EQ(knn.params().n_neighbors, 3);
  EXPECT_CONTAINS(error_of([&] {
                    knn.set_params({{"n_neighbors", 3.0}});
                  }),
                  "KNeighborsClassifier.set_params: parameter 'n_neighbors' must be an int, got double");
  EXPECT_EQ(knn.clone()->name(), "KNeighborsClassifier");
}

// ---------------------------------------------------------------- GaussianNB

TEST(ClassicNaiveBayes, MatchesSklearn) {
  struct Case {
    std::string name, ds;
    GaussianNB::Params params;
    bool weighted;
  };
  std::vector<Case> cases = {
      {"iris", "iris", {}, false},
      {"wine", "wine", {}, false},
      {"breast_cancer", "breast_cancer", {}, false},
      {"iris_w3", "iris", {}, true},
      {"wine_priors", "wine", {.priors = {0.2, 0.3, 0.5}}, false},
      {"digits_smooth", "digits", {.var_smoothing = 1e-2}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& f = fixture("gnb_" + c.name);
    Parts p = parts(c.ds);
    GaussianNB nb(c.params);
    nb.fit(p.X_train, p.y_train, c.weighted ? w3(p.X_train.shape()[0]) : Tensor{});
    expect_close(nb.theta(), f.get("theta").values, 1e-12, 0, "theta");
    expect_close(nb.var(), f.get("var").values, 1e-10, 0, "var");
    expect_close(nb.class_prior(), f.get("class_prior").values, 1e-12, 0, "class_prior");
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < std::min<int64_t>(60, p.X_test.shape()[0]); ++i) rows.push_back(i);
    expect_close(nb.predict_proba(select_rows(p.X_test, rows)), f.get("proba").values, 0, 1e-9, "proba");
    EXPECT_EQ(values(nb.predict(p.X_test)), f.get("pred").values);
  }
}

TEST(ClassicNaiveBayes, Errors) {
  Parts p = parts("iris");
  GaussianNB nb;
  EXPECT_CONTAINS(error_of([&] { nb.predict_proba(p.X_test); }),
                  "GaussianNB.predict_proba: this estimator is not fitted");
  EXPECT_CONTAINS(error_of([&] {
                    GaussianNB({.priors = {0.5, 0.5}}).fit(p.X_train, p.y_train);
                  }),
                  "2 priors given for 3 classes");
  EXPECT_CONTAINS(error_of([&] {
                    GaussianNB({.priors = {0.5, 0.5, 0.5}}).fit(p.X_train, p.y_train);
                  }),
                  "priors must sum to 1, they sum to 1.5");
  EXPECT_CONTAINS(error_of([&] { GaussianNB({.var_smoothing = -1}).fit(p.X_train, p.y_train); }),
                  "var_smoothing must be >= 0");
  nb.set_params({{"var_smoothing", 1e-6}});
  EXPECT_EQ(nb.params().var_smoothing, 1e-6);
  nb.fit(p.X_train, p.y_train);
  EXPECT_GT(nb.score(p.X_test, p.y_test), 0.9);
  EXPECT_CONTAINS(error_of([&] {
                    nb.predict(select_rows(p.X_test, {0}).reshape({2, 2}));
                  }),
                  "GaussianNB.predict: X has 2 features, but the estimator was fitted with 4");
}

}  // namespace
