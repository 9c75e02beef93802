// tests/test_classic_linear.cpp: LinearRegression, Ridge, Lasso, LogisticRegression, KNeighbors* and
// GaussianNB against scikit-learn 1.2.1 (tests/fixtures/sklearn_linear.txt, written by
// tests/gen_sklearn_linear.py) on the real data sets in tests/data/, plus parameters and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "support/classic_datasets.h"
#include "support/fixture.h"
#include "support/helpers.h"

namespace {

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;
using kiln::testing::expect_close;
using kiln::testing::load_dataset;
using kiln::testing::select_rows;
using kiln::testing::values;
using kiln::testing::w3;

const kiln::test::FixtureCase& fixture(const std::string& name) {
  return kiln::testing::sklearn_case("sklearn_linear.txt", name);
}

// ---------------------------------------------------------------- linear regressors on diabetes

struct LinearCase {
  std::string name;
  std::function<std::unique_ptr<LinearModel>()> make;
  bool weighted;
  double rtol;
};

TEST(ClassicLinear, RegressorsMatchSklearnOnDiabetes) {
  auto ds = load_dataset("diabetes");
  std::vector<LinearCase> cases = {
      {"linreg", [] { return std::make_unique<LinearRegression>(); }, false, 1e-9},
      {"linreg_w3", [] { return std::make_unique<LinearRegression>(); }, true, 1e-9},
      {"linreg_noint",
       [] { return std::make_unique<LinearRegression>(LinearRegression::Params{.fit_intercept = false}); },
       false, 1e-9},
      {"ridge_a0.1", [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 0.1}); }, false, 1e-9},
      {"ridge_a1", [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 1.0}); }, false, 1e-9},
      {"ridge_a10_w3", [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 10.0}); }, true, 1e-9},
      {"ridge_noint",
       [] { return std::make_unique<Ridge>(Ridge::Params{.alpha = 1.0, .fit_intercept = false}); }, false,
       1e-9},
      // Lasso runs the same cyclic coordinate descent and stopping rule as scikit-learn, so even at the
      // default tolerance the coefficients agree far below that tolerance.
      {"lasso_a0.01", [] { return std::make_unique<Lasso>(Lasso::Params{.alpha = 0.01}); }, false, 1e-8},
      {"lasso_a0.1", [] { return std::make_unique<Lasso>(Lasso::Params{.alpha = 0.1}); }, false, 1e-8},
      {"lasso_a1", [] { return std::make_unique<Lasso>(Lasso::Params{.alpha = 1.0}); }, false, 1e-8},
      {"lasso_a0.1_w3", [] { return std::make_unique<Lasso>(Lasso::Params{.alpha = 0.1}); }, true, 1e-8},
      {"lasso_a0.01_tight",
       [] { return std::make_unique<Lasso>(Lasso::Params{.alpha = 0.01, .max_iter = 100000, .tol = 1e-12}); },
       false, 1e-9},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& f = fixture("diabetes_" + c.name);
    auto model = c.make();
    model->fit(ds.X, ds.y, c.weighted ? w3(442) : Tensor{});
    expect_close(model->coef(), f.get("coef").values, c.rtol, 0, "coef");
    EXPECT_NEAR(model->intercept(), f.get("intercept").values[0], c.rtol * 200);
    expect_close(model->predict(ds.X), f.get("pred").values, c.rtol, 0, "pred");
    if (auto* lasso = dynamic_cast<Lasso*>(model.get())) {
      EXPECT_EQ(lasso->n_iter(), f.get("n_iter").values[0]);
      EXPECT_TRUE(lasso->warnings().empty());
    }
  }
}

TEST(ClassicLinear, ScoreIsR2AndParamsRoundTrip) {
  auto ds = load_dataset("diabetes");
  Ridge r({.alpha = 0.5});
  r.fit(ds.X, ds.y);
  EXPECT_GT(r.score(ds.X, ds.y), 0.45);
  EXPECT_LT(r.score(ds.X, ds.y), 0.55);
  r.set_params({{"alpha", std::int64_t{3}}, {"fit_intercept", false}});
  EXPECT_EQ(r.params().alpha, 3.0);
  EXPECT_FALSE(r.params().fit_intercept);
  auto c = r.clone();
  EXPECT_FALSE(c->is_fitted());
  EXPECT_EQ(std::get<double>(c->get_params().at("alpha")), 3.0);
}

TEST(ClassicLinear, LassoReportsNonConvergence) {
  auto ds = load_dataset("diabetes");
  Lasso l({.alpha = 0.001, .max_iter = 2, .tol = 1e-12});
  l.fit(ds.X, ds.y);
  ASSERT_EQ(l.warnings().size(), 1u);
  EXPECT_CONTAINS(l.warnings()[0], "did not converge");
  EXPECT_EQ(l.n_iter(), 2);
}

TEST(ClassicLinear, RegressorErrors) {
  auto ds = load_dataset("diabetes");
  Ridge r;
  EXPECT_CONTAINS(error_of([&] { r.predict(ds.X); }), "Ridge.predict: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] {
                    r.set_params({{"alpha", std::string("big")}});
                  }),
                  "Ridge.set_params: parameter 'alpha' must be a number, got string 'big'");
  EXPECT_CONTAINS(error_of([&] {
                    r.set_params({{"alpah", 1.0}});
                  }),
                  "unknown parameter 'alpah'; valid: alpha, fit_intercept");
  EXPECT_CONTAINS(error_of([&] { Ridge({.alpha = -1}).fit(ds.X, ds.y); }),
                  "Ridge.fit: alpha must be >= 0 and finite, got -1");
  EXPECT_CONTAINS(error_of([&] {
                    r.fit(ds.X, select_rows(ds.y, {0, 1, 2}));
                  }),
                  "Ridge.fit: y has 3 samples but X has 442");
  EXPECT_CONTAINS(error_of([&] { r.fit(ds.y, ds.y); }), "Ridge.fit: X must be 2-D");
  EXPECT_CONTAINS(error_of([&] { LinearRegression().fit(ds.X, ds.y, w3(5)); }),
                  "LinearRegression.fit: sample_weight must have shape [442], got [5]");
  std::vector<double> nan_x = values(ds.X);
  nan_x[7] = NAN;
  EXPECT_CONTAINS(error_of([&] {
                    Lasso().fit(from_vector(nan_x, Shape{442, 10}), ds.y);
                  }),
                  "Lasso.fit: X contains NaN at row 0, column 7");
  r.fit(ds.X, ds.y);
  EXPECT_CONTAINS(error_of([&] {
                    r.predict(from_vector(std::vector<double>(6, 0.0), Shape{2, 3}));
                  }),
                  "Ridge.predict: X has 3 features, but the estimator was fitted with 10");
}

}  // namespace
