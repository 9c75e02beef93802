// tests/test_classic_model_selection.cpp: train_test_split, KFold, StratifiedKFold, scorers,
// cross_validate / cross_val_score, GridSearchCV and RandomizedSearchCV — against scikit-learn 1.2.1
// (tests/fixtures/sklearn_model_selection.txt, from tests/gen_sklearn_model_selection.py) where the result
// is deterministic, and by their contracts (sizes, proportions, leakage) where it is random.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "support/classic_datasets.h"
#include "support/helpers.h"

namespace {

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;
using kiln::testing::expect_close;
using kiln::testing::load_dataset;
using kiln::testing::select_rows;
using kiln::testing::standardize;
using kiln::testing::values;

const kiln::test::FixtureCase& fixture(const std::string& name) {
  return kiln::testing::sklearn_case("sklearn_model_selection.txt", name);
}

std::vector<double> fold_of(const std::vector<Split>& splits, int64_t n) {
  std::vector<double> out(n, -1);
  for (size_t f = 0; f < splits.size(); ++f)
    for (int64_t i : splits[f].test) out[i] = static_cast<double>(f);
  return out;
}

void expect_partition(const std::vector<Split>& splits, int64_t n) {
  for (const auto& s : splits) {
    EXPECT_EQ(static_cast<int64_t>(s.train.size() + s.test.size()), n);
    std::set<int64_t> all(s.train.begin(), s.train.end());
    all.insert(s.test.begin(), s.test.end());
    EXPECT_EQ(static_cast<int64_t>(all.size()), n);  // disjoint and covering
  }
}

TEST(ClassicModelSelection, UnshuffledFoldsEqualSklearn) {
  for (auto [ds, k] : std::vector<std::pair<std::string, int64_t>>{
           {"iris", 5}, {"wine", 3}, {"breast_cancer", 5}, {"diabetes", 7}, {"digits", 10}}) {
    SCOPED_TRACE(ds);
    auto d = load_dataset(ds);
    const int64_t n = d.X.shape()[0];
    auto kf = KFold({.n_splits = k}).split(d.X);
    expect_partition(kf, n);
    EXPECT_EQ(fold_of(kf, n), fixture("kfold_" + ds + "_" + std::to_string(k)).get("fold_of").values);
    if (ds == "diabetes") continue;
    auto skf = StratifiedKFold({.n_splits = k}).split(d.X, d.y);
    expect_partition(skf, n);
    EXPECT_EQ(fold_of(skf, n), fixture("skfold_" + ds + "_" + std::to_string(k)).get("fold_of").values);
  }
  const auto& f = fixture("skfold_bc200_4");
  auto d = load_dataset("breast_cancer");
  Tensor y = f.tensor("y");
  std::vector<int64_t> rows(200);
  for (int64_t i = 0; i < 200; ++i) rows[i] = i;
  EXPECT_EQ(fold_of(StratifiedKFold({.n_splits = 4}).split(select_rows(d.X, rows), y), 200),
            f.get("fold_of").values);
}

TEST(ClassicModelSelection, FoldSizesAndClassProportions) {
  auto d = load_dataset("wine");  // classes 59 / 71 / 48
  for (bool shuffle : {false, true}) {
    SCOPED_TRACE(shuffle);
    auto kf = KFold({.n_splits = 4, .shuffle = shuffle, .random_state = 3}).split(d.X);
    std::vector<size_t> sizes;
    for (auto& s : kf) sizes.push_back(s.test.size());
    EXPECT_EQ(sizes, (std::vector<size_t>{45, 45, 44, 44}));
    auto skf = StratifiedKFold({.n_splits = 4, .shuffle = shuffle, .random_state = 3}).split(d.X, d.y);
    expect_partition(skf, 178);
    std::vector<int64_t> y = d.y.to_vector<int64_t>();
    const double totals[3] = {59, 71, 48};
    for (auto& s : skf) {
      int64_t count[3] = {0, 0, 0};
      for (int64_t i : s.test) ++count[y[i]];
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(count[c], totals[c] / 4, 1.0);  // each class within one row
      EXPECT_NEAR(static_cast<double>(s.test.size()), 178.0 / 4, 1.0);
    }
  }
  // Shuffling is reproducible from random_state and differs between seeds.
  auto a = KFold({.n_splits = 3, .shuffle = true, .random_state = 7}).split(d.X);
  auto b = KFold({.n_splits = 3, .shuffle = true, .random_state = 7}).split(d.X);
  auto c = KFold({.n_splits = 3, .shuffle = true, .random_state = 8}).split(d.X);
  EXPECT_EQ(a[0].test, b[0].test);
  EXPECT_NE(a[0].test, c[0].test);
  EXPECT_NE(fold_of(a, 178), fold_of(KFold({.n_splits = 3}).split(d.X), 178));
}

TEST(ClassicModelSelection, TrainTestSplit) {
  auto d = load_dataset("breast_cancer");  // 212 malignant / 357 benign
  auto [X_train, X_test, y_train, y_test] =
      train_test_split(d.X, d.y, {.test_size = 0.25, .stratify = d.y, .random_state = 42});
  EXPECT_EQ(X_test.shape(), (Shape{143, 30}));  // ceil(0.25 * 569)
  EXPECT_EQ(X_train.shape(), (Shape{426, 30}));
  EXPECT_EQ(y_train.dtype(), DType::i64);
  auto yt = y_test.to_vector<int64_t>();
  const int64_t malignant_test = std::count(yt.begin(), yt.end(), 0);
  EXPECT_NEAR(malignant_test, 143.0 * 212 / 569, 1.0);
  // Rows stay paired with their labels, and train and test are disjoint and cover every row.
  Split s = train_test_split_indices(569, {.test_size = 0.25, .stratify = d.y, .random_state = 42});
  EXPECT_EQ(values(X_test), values(select_rows(d.X, s.test)));
  EXPECT_EQ(values(y_train), values(select_rows(d.y, s.train)));
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), 569u);
  // Counts, train_size, no shuffle (scikit-learn: the first rows train, the next ones test).
  Split counts = train_test_split_indices(10, {.test_size = 3, .train_size = 5, .shuffle = false});
  EXPECT_EQ(counts.train, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(counts.test, (std::vector<int64_t>{5, 6, 7}));
  Split a = train_test_split_indices(100, {.random_state = 1}),
        b = train_test_split_indices(100, {.random_state = 1});
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.test.size(), 25u);
}

TEST(ClassicModelSelection, CrossValScoreEqualsSklearn) {
  struct Case {
    std::string name, ds;
    bool scaled;
    std::function<std::unique_ptr<Predictor>()> make;
    std::string scoring;
    double tol;
  };
  auto logistic = [] {
    return std::make_unique<LogisticRegression>(LogisticRegression::Params{.max_iter = 10000, .tol = 1e-10});
  };
  std::vector<Case> cases = {
      {"logistic_iris_accuracy", "iris", false, logistic, "accuracy", 1e-12},
      // scikit-learn's lbfgs stops on its loss-decrease rule even at tol 1e-10, ~1e-6 short of the optimum.
      {"logistic_wine_scaled_neg_log_loss", "wine", true, logistic, "neg_log_loss", 2e-5},
      {"knn_wine_f1_macro", "wine", false,
       [] { return std::make_unique<KNeighborsClassifier>(KNeighborsClassifier::Params{.n_neighbors = 7}); },
       "f1_macro", 1e-12},
      {"knn_bc_f1", "breast_cancer", false, [] { return std::make_unique<KNeighborsClassifier>(); }, "f1",
       1e-12},
      {"gnb_bc_balanced_accuracy", "breast_cancer", false, [] { return std::make_unique<GaussianNB>(); },
       "balanced_accuracy", 1e-12},
      {"gnb_digits_f1_weighted", "digits", false, [] { return std::make_unique<GaussianNB>(); },
       "f1_weighted", 1e-12},
      {"gnb_iris_default", "iris", false, [] { return std::make_unique<GaussianNB>(); }, "", 1e-12},
      {"ridge_diabetes_r2", "diabetes", false,
       [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 0.1}); }, "r2", 1e-10},
      {"ridge_diabetes_neg_mse", "diabetes", false,
       [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 0.1}); }, "neg_mean_squared_error", 1e-10},
      {"knnreg_diabetes_neg_mae", "diabetes", false,
       [] { return std::make_unique<KNeighborsRegressor>(KNeighborsRegressor::Params{.n_neighbors = 9}); },
       "neg_mean_absolute_error", 1e-12},
      {"knnreg_diabetes_neg_rmse", "diabetes", false,
       [] { return std::make_unique<KNeighborsRegressor>(KNeighborsRegressor::Params{.n_neighbors = 9}); },
       "neg_root_mean_squared_error", 1e-12},
      {"ridge_diabetes_explained_variance", "diabetes", false, [] { return std::make_unique<Ridge>(); },
       "explained_variance", 1e-10},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto d = load_dataset(c.ds);
    Tensor X = c.scaled ? standardize(d.X) : d.X;
    auto est = c.make();
    std::vector<double> got = cross_val_score(*est, X, d.y, {.scoring = c.scoring, .n_jobs = 2});
    expect_close(from_vector(got), fixture("cvs_" + c.name).get("scores").values, c.tol, 0, "scores");
    EXPECT_FALSE(est->is_fitted());  // the prototype is cloned, never fitted
  }
}

// A Classifier-typed wrapper around a regressor, like a Pipeline ending in Ridge (a Pipeline always derives
// from Classifier): a continuous target must still get plain KFold, not StratifiedKFold.
class ClassifierTypedRidge : public Classifier {
 public:
  std::string name() const override { return "ClassifierTypedRidge"; }
  ParamMap get_params() const override { return ridge_.get_params(); }
  void set_params(const ParamMap& p) override { ridge_.set_params(p); }
  std::unique_ptr<Estimator> clone() const override {
    auto c = std::make_unique<ClassifierTypedRidge>();
    c->set_params(get_params());
    return c;
  }
  bool is_fitted() const override { return ridge_.is_fitted(); }
  ClassifierTypedRidge& fit(const Tensor& X, const Tensor& y, const Tensor& w = {}) override {
    ridge_.fit(X, y, w);
    return *this;
  }
  Tensor predict(const Tensor& X) const override { return ridge_.predict(X); }
  double score(const Tensor& X, const Tensor& y) const override { return ridge_.score(X, y); }
  Tensor predict_proba(const Tensor&) const override { throw Error("no predict_proba"); }
  Tensor classes() const override { throw Error("no classes"); }

 private:
  Ridge ridge_{Ridge::Params{.alpha = 0.1}};
};

TEST(ClassicModelSelection, ContinuousTargetGetsKFoldEvenForClassifierTypes) {
  auto d = load_dataset("diabetes");
  std::vector<double> got = cross_val_score(ClassifierTypedRidge(), d.X, d.y, {.scoring = "r2"});
  expect_close(from_vector(got), fixture("cvs_ridge_diabetes_r2").get("scores").values, 1e-10, 0, "scores");
}

TEST(ClassicModelSelection, CrossValidateTimesTrainScoresAndCallable) {
  auto d = load_dataset("iris");
  GaussianNB nb;
  auto r = cross_validate(nb, d.X, d.y, {.cv = 3, .return_train_score = true});
  ASSERT_EQ(r.test_score.size(), 3u);
  ASSERT_EQ(r.train_score.size(), 3u);
  ASSERT_EQ(r.fit_time.size(), 3u);
  for (int f = 0; f < 3; ++f) {
    EXPECT_GE(r.fit_time[f], 0);
    EXPECT_GE(r.score_time[f], 0);
    EXPECT_GT(r.train_score[f], 0.9);
  }
  // A callable scorer sees only the fold's test rows (50 of 150 here) and a fitted clone.
  std::atomic<int> calls{0};
  auto scorer = [&calls](const Predictor& est, const Tensor& X, const Tensor& y) {
    ++calls;
    EXPECT_TRUE(est.is_fitted());
    return static_cast<double>(X.shape()[0]);
  };
  auto sizes = cross_val_score(nb, d.X, d.y, {.cv = 3, .scoring_fn = scorer, .n_jobs = 3});
  EXPECT_EQ(sizes, (std::vector<double>{50, 50, 50}));
  EXPECT_EQ(calls.load(), 3);
}

TEST(ClassicModelSelection, GridSearchPicksSklearnsBest) {
  {
    auto d = load_dataset("breast_cancer");
    const auto& f = fixture("grid_knn_bc");
    GridSearchCV gs(
        KNeighborsClassifier(),
        {.param_grid = {{{"n_neighbors",
                          {std::int64_t{1}, std::int64_t{3}, std::int64_t{5}, std::int64_t{7},
                           std::int64_t{9}, std::int64_t{11}, std::int64_t{15}, std::int64_t{21}}},
                         {"weights", {std::string("uniform"), std::string("distance")}},
                         {"p", {std::int64_t{1}, std::int64_t{2}}}}},
         .scoring = "accuracy",
         .n_jobs = 2});
    gs.fit(d.X, d.y);
    EXPECT_EQ(gs.best_index(), f.get("best_index").values[0]);  // a tie for rank 1: the first one wins
    EXPECT_EQ(std::get<std::int64_t>(gs.best_params().at("n_neighbors")),
              f.get("best_n_neighbors").values[0]);
    EXPECT_DOUBLE_EQ(gs.best_score(), f.get("best_score").values[0]);
    expect_close(from_vector(gs.cv_results().mean_test_score), f.get("mean_test_score").values, 1e-14, 0,
                 "mean");
    expect_close(from_vector(gs.cv_results().std_test_score), f.get("std_test_score").values, 1e-12, 1e-15,
                 "std");
    EXPECT_EQ(values(from_vector(gs.cv_results().rank_test_score)), f.get("rank_test_score").values);
    EXPECT_EQ(gs.n_splits(), 5);
    // Refit on all rows with the best parameters.
    KNeighborsClassifier best({.n_neighbors = std::get<std::int64_t>(gs.best_params().at("n_neighbors")),
                               .weights = std::get<std::string>(gs.best_params().at("weights")),
                               .p = std::get<std::int64_t>(gs.best_params().at("p"))});
    best.fit(d.X, d.y);
    EXPECT_EQ(values(gs.predict(d.X)), values(best.predict(d.X)));
    EXPECT_EQ(values(gs.predict_proba(d.X)), values(best.predict_proba(d.X)));
  }
  {
    auto d = load_dataset("diabetes");
    const auto& f = fixture("grid_ridge_diabetes");
    GridSearchCV gs(
        Ridge(),
        {.param_grid = {{{"alpha", {1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 10.0}}}}, .scoring = "r2", .cv = 10});
    gs.fit(d.X, d.y);
    EXPECT_EQ(gs.best_index(), f.get("best_index").values[0]);
    EXPECT_NEAR(gs.best_score(), f.get("best_score").values[0], 1e-10);
    expect_close(from_vector(gs.cv_results().mean_test_score), f.get("mean_test_score").values, 1e-10, 0,
                 "mean");
    EXPECT_EQ(values(from_vector(gs.cv_results().rank_test_score)), f.get("rank_test_score").values);
  }
  {
    auto d = load_dataset("wine");
    const auto& f = fixture("grid_logistic_wine");
    GridSearchCV gs(LogisticRegression({.max_iter = 10000, .tol = 1e-10}),
                    {.param_grid = {{{"C", {0.001, 0.01, 0.1, 1.0, 10.0}}}},
                     .scoring = "neg_log_loss",
                     .return_train_score = true,
                     .n_jobs = 0});
    gs.fit(standardize(d.X), d.y);
    EXPECT_EQ(gs.best_index(), f.get("best_index").values[0]);
    EXPECT_NEAR(gs.best_score(), f.get("best_score").values[0], 1e-6);
    expect_close(from_vector(gs.cv_results().mean_test_score), f.get("mean_test_score").values, 1e-6, 0,
                 "mean");
    expect_close(from_vector(gs.cv_results().mean_train_score), f.get("mean_train_score").values, 1e-6, 0,
                 "train");
    EXPECT_EQ(values(from_vector(gs.cv_results().rank_test_score)), f.get("rank_test_score").values);
  }
}

TEST(ClassicModelSelection, RandomizedSearch) {
  auto d = load_dataset("wine");
  Tensor X = standardize(d.X);
  RandomizedSearchCV rs(LogisticRegression(),
                        {.param_distributions = {{"C", Distribution::loguniform(1e-3, 1e2)},
                                                 {"fit_intercept", std::vector<ParamValue>{true, false}}},
                         .n_iter = 6,
                         .random_state = 0,
                         .cv = 3});
  rs.fit(X, d.y);
  ASSERT_EQ(rs.cv_results().params.size(), 6u);
  for (const auto& p : rs.cv_results().params) {
    const double C = std::get<double>(p.at("C"));
    EXPECT_GE(C, 1e-3);
    EXPECT_LE(C, 1e2);
  }
  EXPECT_GT(rs.best_score(), 0.9);
  // Reproducible from random_state; the best is the argmax of the mean test scores.
  RandomizedSearchCV again(LogisticRegression(),
                           {.param_distributions = {{"C", Distribution::loguniform(1e-3, 1e2)},
                                                    {"fit_intercept", std::vector<ParamValue>{true, false}}},
                            .n_iter = 6,
                            .random_state = 0,
                            .cv = 3});
  again.fit(X, d.y);
  EXPECT_EQ(std::get<double>(again.best_params().at("C")), std::get<double>(rs.best_params().at("C")));
  const auto& m = rs.cv_results().mean_test_score;
  EXPECT_EQ(rs.best_score(), *std::max_element(m.begin(), m.end()));
  // Only lists: distinct grid points, at most the grid's size.
  RandomizedSearchCV lists(
      KNeighborsClassifier(),
      {.param_distributions = {{"n_neighbors", std::vector<ParamValue>{std::int64_t{1}, std::int64_t{5}}},
                               {"weights",
                                std::vector<ParamValue>{std::string("uniform"), std::string("distance")}}},
       .n_iter = 10,
       .random_state = 1});
  lists.fit(X, d.y);
  std::set<ParamMap> distinct(lists.cv_results().params.begin(), lists.cv_results().params.end());
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(lists.cv_results().params.size(), 4u);
  // randint draws integers in [low, high).
  RandomizedSearchCV ints(KNeighborsClassifier(),
                          {.param_distributions = {{"n_neighbors", Distribution::randint(1, 4)}},
                           .n_iter = 5,
                           .random_state = 2,
                           .refit = false});
  ints.fit(X, d.y);
  for (const auto& p : ints.cv_results().params) {
    const auto k = std::get<std::int64_t>(p.at("n_neighbors"));
    EXPECT_GE(k, 1);
    EXPECT_LT(k, 4);
  }
  EXPECT_CONTAINS(error_of([&] { ints.predict(X); }), "needs refit = true");
}

// The search only ever sees fit()'s rows: a scorer and an estimator that record the rows they get never
// meet a held-out row.
TEST(ClassicModelSelection, SearchNeverTouchesHeldOutRows) {
  auto d = load_dataset("iris");
  // Tag each row by a unique value in an extra column: row i has tag i.
  std::vector<double> x = values(d.X), tagged;
  for (int64_t i = 0; i < 150; ++i) {
    tagged.insert(tagged.end(), x.begin() + i * 4, x.begin() + i * 4 + 4);
    tagged.push_back(static_cast<double>(i));
  }
  Tensor X = from_vector(tagged, Shape{150, 5});
  Split outer = train_test_split_indices(150, {.stratify = d.y, .random_state = 0});
  std::set<int64_t> held_out(outer.test.begin(), outer.test.end());
  std::mutex mutex;
  std::set<int64_t> seen;
  auto scorer = [&](const Predictor& est, const Tensor& Xs, const Tensor& ys) {
    std::vector<double> v = values(Xs);
    std::lock_guard<std::mutex> lock(mutex);
    for (int64_t i = 0; i < Xs.shape()[0]; ++i) seen.insert(static_cast<int64_t>(v[i * 5 + 4]));
    return est.score(Xs, ys);
  };
  GridSearchCV gs(GaussianNB(),
                  {.param_grid = {{{"var_smoothing", {1e-9, 1e-3}}}}, .scoring_fn = scorer, .n_jobs = 2});
  gs.fit(select_rows(X, outer.train), select_rows(d.y, outer.train));
  EXPECT_EQ(seen.size(), outer.train.size());
  for (int64_t i : seen) EXPECT_EQ(held_out.count(i), 0u) << "row " << i;
}

TEST(ClassicModelSelection, SearchParamsFailuresAndErrors) {
  auto d = load_dataset("iris");
  GridSearchCV gs(LogisticRegression(), {.param_grid = {{{"C", {1.0}}}}, .cv = 3});
  ParamMap p = gs.get_params();
  EXPECT_EQ(std::get<std::int64_t>(p.at("cv")), 3);
  EXPECT_EQ(std::get<double>(p.at("estimator__C")), 1.0);
  gs.set_params({{"estimator__max_iter", std::int64_t{500}}, {"cv", std::int64_t{4}}});
  EXPECT_EQ(std::get<std::int64_t>(gs.get_params().at("estimator__max_iter")), 500);
  auto copy = gs.clone();
  EXPECT_EQ(std::get<std::int64_t>(copy->get_params().at("cv")), 4);
  EXPECT_FALSE(copy->is_fitted());
  EXPECT_CONTAINS(error_of([&] { gs.best_params(); }),
                  "GridSearchCV.best_params: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] { gs.predict(d.X); }), "not fitted yet");
  // A candidate that fails to fit scores NaN, ranks last, and is reported; the others still win.
  GridSearchCV failing(LogisticRegression(), {.param_grid = {{{"C", {-1.0, 1.0}}}}, .cv = 3});
  ::testing::internal::CaptureStderr();
  failing.fit(d.X, d.y);
  ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::isnan(failing.cv_results().mean_test_score[0]));
  EXPECT_EQ(failing.cv_results().rank_test_score, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(failing.best_index(), 1);
  ASSERT_EQ(failing.warnings().size(), 3u);
  EXPECT_CONTAINS(failing.warnings()[0], "C must be positive, got -1");
  GridSearchCV all_fail(LogisticRegression(), {.param_grid = {{{"C", {-1.0}}}}, .cv = 3});
  ::testing::internal::CaptureStderr();
  EXPECT_CONTAINS(error_of([&] { all_fail.fit(d.X, d.y); }), "GridSearchCV.fit: all 3 fits failed");
  ::testing::internal::GetCapturedStderr();
  GridSearchCV bad_name(LogisticRegression(), {.param_grid = {{{"gamma", {1.0}}}}});
  EXPECT_CONTAINS(error_of([&] { bad_name.fit(d.X, d.y); }),
                  "LogisticRegression.set_params: unknown parameter 'gamma'");
  EXPECT_CONTAINS(error_of([&] { get_scorer("accuracy_score"); }),
                  "get_scorer: unknown scoring \"accuracy_score\"");
  EXPECT_CONTAINS(error_of([&] { KFold({.n_splits = 200}).split(d.X); }),
                  "KFold: cannot have n_splits = 200 greater than the number of samples 150");
  EXPECT_CONTAINS(error_of([&] { StratifiedKFold({.n_splits = 51}).split(d.X, d.y); }),
                  "cannot be greater than the number of members in each class");
  EXPECT_CONTAINS(error_of([&] { train_test_split_indices(10, {.test_size = 1.5}); }),
                  "test_size must be a fraction in (0, 1) or a whole number of rows, got 1.5");
  EXPECT_CONTAINS(error_of([&] { train_test_split_indices(10, {.test_size = 6, .train_size = 5}); }),
                  "5 train + 6 test rows do not fit in 10 rows");
  std::vector<int64_t> single(150, 0);
  single[0] = 1;
  EXPECT_CONTAINS(error_of([&] { train_test_split(d.X, d.y, {.stratify = from_vector(single)}); }),
                  "the least populated class in stratify (1) has only 1 member");
  EXPECT_CONTAINS(error_of([&] {
                    cross_val_score(Ridge(), d.X, select_rows(d.y, {0, 1}));
                  }),
                  "cross_validate: y must have shape [150], got [2]");
  EXPECT_CONTAINS(
      error_of([&] { cross_val_score(Ridge(), d.X, d.y.to(DType::f64), {.scoring = "neg_log_loss"}); }),
      "scorer \"neg_log_loss\": Ridge is not a Classifier");
}

}  // namespace
