// The Params mechanism (classic/params.h): get_params, set_params, clone and range checks all come from one
// fields() list, so each is checked here through a real estimator and through a small Params of its own.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/classic/linear.h"
#include "kiln/classic/params.h"
#include "support/helpers.h"

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;

namespace {

struct Sample {
  double rate = 0.5;
  std::int64_t depth = 3;
  bool flag = false;
  std::string mode = "fast";
  ParamValue any = std::string("auto");
  template <class Visit>
  void fields(Visit&& visit) {
    visit("rate", rate, param::open(0, 1));
    visit("depth", depth, param::at_least(1));
    visit("flag", flag);
    visit("mode", mode, param::one_of({"fast", "exact", "none"}));
    visit("any", any);
  }
};

}  // namespace

TEST(ClassicParams, MapRoundTripsEveryDeclaredField) {
  Sample s;
  ParamMap m = params::to_map(s);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(std::get<double>(m.at("rate")), 0.5);
  EXPECT_EQ(std::get<std::int64_t>(m.at("depth")), 3);
  EXPECT_EQ(std::get<bool>(m.at("flag")), false);
  EXPECT_EQ(std::get<std::string>(m.at("mode")), "fast");
  params::assign(s, {{"rate", std::int64_t{0}}, {"depth", std::int64_t{7}}, {"any", 1.5}}, "Sample");
  EXPECT_EQ(s.rate, 0.0);  // an int is accepted for a double, as scikit-learn does
  EXPECT_EQ(s.depth, 7);
  EXPECT_EQ(std::get<double>(s.any), 1.5);
}

TEST(ClassicParams, BadNamesAndTypesLeaveParamsUnchanged) {
  Sample s;
  EXPECT_CONTAINS(error_of([&] {
                    params::assign(s, {{"depth", std::int64_t{9}}, {"dpth", 1.0}}, "Sample");
                  }),
                  "Sample.set_params: unknown parameter 'dpth'; valid: any, depth, flag, mode, rate");
  EXPECT_EQ(s.depth, 3);
  EXPECT_CONTAINS(error_of([&] {
                    params::assign(s, {{"flag", 1.0}}, "Sample");
                  }),
                  "Sample.set_params: parameter 'flag' must be a bool, got double 1");
  EXPECT_CONTAINS(error_of([&] {
                    params::assign(s, {{"depth", 2.5}}, "Sample");
                  }),
                  "parameter 'depth' must be an int, got double 2.5");
  EXPECT_CONTAINS(error_of([&] {
                    params::assign(s, {{"mode", true}}, "Sample");
                  }),
                  "parameter 'mode' must be a string, got bool true");
}

TEST(ClassicParams, RulesNameTheFieldTheRangeAndTheValue) {
  params::validate(Sample{}, "Sample.fit");
  EXPECT_CONTAINS(error_of([] { params::validate(Sample{.rate = 1}, "Sample.fit"); }),
                  "Sample.fit: rate must be in (0, 1), got 1");
  EXPECT_CONTAINS(error_of([] { params::validate(Sample{.rate = NAN}, "Sample.fit"); }), "rate must be");
  EXPECT_CONTAINS(error_of([] { params::validate(Sample{.depth = 0}, "Sample.fit"); }),
                  "Sample.fit: depth must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([] { params::validate(Sample{.mode = "slow"}, "Sample.fit"); }),
                  "Sample.fit: mode must be 'fast', 'exact' or 'none', got 'slow'");
  // An unbounded real range still refuses infinity.
  EXPECT_CONTAINS(error_of([] {
                    Ridge({.alpha = INFINITY})
                        .fit(from_vector(std::vector<double>{1, 2}, Shape{2, 1}),
                             from_vector(std::vector<double>{1, 2}));
                  }),
                  "Ridge.fit: alpha must be >= 0 and finite, got inf");
}

TEST(ClassicParams, EstimatorGetSetCloneComeFromTheFieldList) {
  Lasso l({.alpha = 0.25, .max_iter = 50});
  ParamMap m = l.get_params();
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(std::get<double>(m.at("alpha")), 0.25);
  EXPECT_EQ(std::get<std::int64_t>(m.at("max_iter")), 50);
  l.set_params({{"tol", 1e-6}, {"fit_intercept", false}});
  EXPECT_EQ(l.params().tol, 1e-6);
  EXPECT_FALSE(l.params().fit_intercept);
  std::unique_ptr<Estimator> c = l.clone();
  EXPECT_EQ(c->get_params(), l.get_params());
  EXPECT_FALSE(c->is_fitted());
}
