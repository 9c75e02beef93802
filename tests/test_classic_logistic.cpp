// tests/test_classic_logistic.cpp: LogisticRegression against scikit-learn 1.2.1's lbfgs
// (tests/fixtures/sklearn_linear.txt, from tests/gen_sklearn_linear.py) on breast cancer, iris and wine,
// the convergence warning on unscaled data, parameters and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

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
using kiln::testing::w3;

const kiln::test::FixtureCase& fixture(const std::string& name) {
  return kiln::testing::sklearn_case("sklearn_linear.txt", name);
}

Tensor every_4th(const Tensor& X) {
  return select_rows(X, kiln::testing::every_4th_rows(X.shape()[0], true));
}

struct LogisticCase {
  std::string name, dataset;
  bool scaled;
  LogisticRegression::Params params;
  bool weighted;
  // At the default tol 1e-4 each L-BFGS stops near, not at, the optimum. With L-BFGS-B's line search and
  // stopping rules the two solvers take the same steps on the standardized data sets (equal n_iter,
  // printed) and agree to 1e-4 of the largest coefficient. Raw iris is ill-conditioned: there the path
  // depends on rounding (the order of a sum), and both stop within 2e-3 of each other and the optimum.
  double default_rtol = 1e-4;
};

// Each fixture case holds the optimum (newton-cg at tol <= 1e-7: "coef", "intercept", "proba", "pred") and
// where scikit-learn's lbfgs stopped at its default tol 1e-4 ("lbfgs_*").
TEST(ClassicLogistic, MatchesSklearn) {
  std::vector<LogisticCase> cases = {
      {"bc_scaled", "breast_cancer", true, {}, false},
      {"bc_scaled_C0.1", "breast_cancer", true, {.C = 0.1}, false},
      {"bc_scaled_cw", "breast_cancer", true, {.class_weights = {{0, 2.0}, {1, 0.5}}}, false},
      {"bc_scaled_balanced", "breast_cancer", true, {.class_weight = "balanced"}, false},
      {"iris", "iris", false, {}, false, 2e-3},
      {"iris_w3", "iris", false, {}, true, 2e-3},
      {"iris_ovr", "iris", false, {.multi_class = "ovr"}, false, 2e-3},
      {"iris_noint", "iris", false, {.fit_intercept = false}, false, 2e-3},
      {"wine_scaled", "wine", true, {.C = 0.5}, false},
      {"wine_scaled_balanced", "wine", true, {.class_weight = "balanced"}, false},
      {"wine_scaled_ovr_balanced", "wine", true, {.class_weight = "balanced", .multi_class = "ovr"}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& f = fixture("logistic_" + c.name);
    auto ds = load_dataset(c.dataset);
    Tensor X = c.scaled ? standardize(ds.X) : ds.X;
    Tensor sw = c.weighted ? w3(X.shape()[0]) : Tensor{};
    // At tol 1e-10 both sit at the optimum: coefficients to 1e-6 of the largest, probabilities to 1e-6.
    LogisticRegression::Params tight = c.params;
    tight.tol = 1e-10;
    tight.max_iter = 10000;
    LogisticRegression lr(tight);
    lr.fit(X, ds.y, sw);
    // At tol 1e-10 the line search may reach float64's floor first on some CPUs (the vector units' summation
    // order differs between machines); that stop is the optimum too, which the checks below hold to 1e-6.
    // Any other warning is a failure.
    for (const std::string& w : lr.warnings()) EXPECT_CONTAINS(w, "the line search failed");
    EXPECT_EQ(lr.coef().shape(), f.get("coef").shape);
    expect_close(lr.coef(), f.get("coef").values, 1e-6, 0, "coef");
    expect_close(lr.intercept(), f.get("intercept").values, 1e-6, 1e-6, "intercept");
    expect_close(lr.predict_proba(every_4th(X)), f.get("proba").values, 0, 1e-6, "proba");
    EXPECT_EQ(values(lr.predict(X)), f.get("pred").values);
    std::vector<double> lp = values(lr.predict_log_proba(X)), pr = values(lr.predict_proba(X));
    for (size_t i = 0; i < pr.size(); ++i) EXPECT_NEAR(std::exp(lp[i]), pr[i], 1e-12);
    LogisticRegression::Params dflt = c.params;
    dflt.max_iter = 1000;
    LogisticRegression lb(dflt);
    lb.fit(X, ds.y, sw);
    EXPECT_TRUE(lb.warnings().empty()) << lb.warnings()[0];
    expect_close(lb.coef(), f.get("lbfgs_coef").values, c.default_rtol, 0, "lbfgs coef");
    expect_close(lb.coef(), f.get("coef").values, 2 * c.default_rtol, 0, "lbfgs coef vs optimum");
    std::cout << c.name << ": n_iter " << lb.n_iter() << " (scikit-learn " << f.get("lbfgs_n_iter").values[0]
              << "), tight " << lr.n_iter() << "\n";
  }
}

TEST(ClassicLogistic, UnscaledDataReportsNonConvergenceWithHint) {
  auto ds = load_dataset("breast_cancer");
  LogisticRegression lr;  // max_iter 100 on raw features spanning 1e-3 .. 4e3, as in scikit-learn
  ::testing::internal::CaptureStderr();
  lr.fit(ds.X, ds.y);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(lr.warnings().size(), 1u);
  EXPECT_CONTAINS(lr.warnings()[0], "lbfgs failed to converge");
  EXPECT_CONTAINS(lr.warnings()[0], "scale the data (StandardScaler) or raise max_iter");
  EXPECT_EQ(lr.n_iter(), 100);
  EXPECT_CONTAINS(err, "scale the data (StandardScaler) or raise max_iter");
  // Printed once: the same warning again stays quiet, but is still recorded on the estimator.
  ::testing::internal::CaptureStderr();
  LogisticRegression again;
  again.fit(ds.X, ds.y);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(again.warnings().size(), 1u);
  // Scaled, the same fit converges and says nothing.
  LogisticRegression scaled;
  scaled.fit(standardize(ds.X), ds.y);
  EXPECT_TRUE(scaled.warnings().empty());
  EXPECT_LT(scaled.n_iter(), 100);
  EXPECT_GT(scaled.score(standardize(ds.X), ds.y), 0.97);
}

LogisticRegression::Params tight(LogisticRegression::Params p) {
  p.tol = 1e-10;
  p.max_iter = 10000;
  return p;
}

TEST(ClassicLogistic, PenaltyNoneAndSampleWeightSemantics) {
  auto ds = load_dataset("breast_cancer");
  Tensor X =
      select_rows(standardize(ds.X), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  Tensor Xs = select_rows(X, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  // Integer sample weights act like repeated rows.
  std::vector<double> w(20, 1.0);
  w[3] = 3.0;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 20; ++i) rows.push_back(i);
  rows.push_back(3), rows.push_back(3);
  auto first20 = ds.y.to_vector<int64_t>();
  first20.resize(20);
  Tensor y20 = from_vector(first20);
  LogisticRegression a(tight({.C = 0.3})), b(tight({.C = 0.3}));
  a.fit(Xs, y20, from_vector(w));
  b.fit(select_rows(Xs, rows), select_rows(y20, rows));
  expect_close(a.coef(), values(b.coef()), 1e-6, 1e-9, "weighted vs repeated");
  // penalty "none" equals a vanishing penalty.
  auto iris = load_dataset("iris");
  std::vector<int64_t> r;
  for (int64_t i = 50; i < 150; ++i) r.push_back(i);  // versicolor vs virginica: not separable
  Tensor Xi = select_rows(iris.X, r), yi = select_rows(iris.y, r);
  LogisticRegression none(tight({.penalty = "none"})), huge(tight({.C = 1e12}));
  none.fit(Xi, yi);
  huge.fit(Xi, yi);
  expect_close(none.coef(), values(huge.coef()), 1e-5, 1e-8, "penalty none");
  EXPECT_EQ(none.coef().shape(), (Shape{1, 4}));
  EXPECT_EQ(values(none.classes()), (std::vector<double>{1, 2}));
  auto dec = values(none.decision_function(Xi));
  auto pred = values(none.predict(Xi));
  for (size_t i = 0; i < dec.size(); ++i) EXPECT_EQ(pred[i], dec[i] > 0 ? 2.0 : 1.0);
}

TEST(ClassicLogistic, ParamsAndErrors) {
  auto ds = load_dataset("iris");
  LogisticRegression lr;
  lr.set_params({{"C", 0.5}, {"penalty", std::string("none")}, {"max_iter", std::int64_t{50}}});
  EXPECT_EQ(lr.params().C, 0.5);
  EXPECT_EQ(lr.params().penalty, "none");
  EXPECT_EQ(std::get<std::int64_t>(lr.clone()->get_params().at("max_iter")), 50);
  EXPECT_CONTAINS(error_of([&] { lr.predict(ds.X); }),
                  "LogisticRegression.predict: this estimator is not fitted");
  EXPECT_CONTAINS(error_of([&] { lr.predict_proba(ds.X); }), "not fitted yet");
  EXPECT_CONTAINS(error_of([&] { LogisticRegression({.penalty = "l1"}).fit(ds.X, ds.y); }),
                  "penalty must be \"l2\" or \"none\", got \"l1\"");
  EXPECT_CONTAINS(error_of([&] { LogisticRegression({.C = 0}).fit(ds.X, ds.y); }),
                  "C must be positive, got 0");
  EXPECT_CONTAINS(error_of([&] { LogisticRegression({.class_weight = "auto"}).fit(ds.X, ds.y); }),
                  "class_weight must be \"\" or \"balanced\"");
  EXPECT_CONTAINS(error_of([&] { LogisticRegression({.multi_class = "softmax"}).fit(ds.X, ds.y); }),
                  "multi_class must be");
  Tensor one_class = from_vector(std::vector<int64_t>(150, 2));
  EXPECT_CONTAINS(error_of([&] { LogisticRegression().fit(ds.X, one_class); }),
                  "needs samples of at least 2 classes, but y contains only class 2");
  std::vector<double> frac(150, 0.5);
  EXPECT_CONTAINS(error_of([&] { LogisticRegression().fit(ds.X, from_vector(frac)); }),
                  "class labels must be integers");
  EXPECT_CONTAINS(error_of([&] {
                    LogisticRegression({.class_weights = {{5, 2.0}}}).fit(ds.X, ds.y);
                  }),
                  "class_weights has label 5, which is not present in y");
  EXPECT_CONTAINS(error_of([&] {
                    LogisticRegression({.class_weights = {{1, -2.0}}}).fit(ds.X, ds.y);
                  }),
                  "class_weights[1] must be >= 0, got -2");
  std::vector<double> neg(150, 1.0);
  neg[4] = -1;
  EXPECT_CONTAINS(error_of([&] { LogisticRegression().fit(ds.X, ds.y, from_vector(neg)); }),
                  "sample_weight must be non-negative, got -1 at index 4");
  lr.fit(ds.X, ds.y);
  EXPECT_CONTAINS(error_of([&] {
                    lr.predict(select_rows(ds.X, {0}).reshape({2, 2}));
                  }),
                  "X has 2 features, but the estimator was fitted with 4");
}

}  // namespace
