// Tests of classic/preprocessing*.h (and ColumnTransformer of Pipelines on a mixed table) against
// scikit-learn 1.2.1 (tests/fixtures/sklearn_preprocessing.txt, written by
// tests/gen_sklearn_preprocessing.py): outputs and fitted attributes to 1e-12 relative; plus get/set_params,
// clone, LabelEncoder, feature names, and every error path.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include <kiln/classic/preprocessing_util.h>

#include "support/fixture.h"
#include "support/helpers.h"

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;

namespace {

const std::vector<kiln::test::FixtureCase>& cases() {
  static const auto c = kiln::test::read_fixture_file(KILN_FIXTURES_DIR "/sklearn_preprocessing.txt");
  return c;
}

void expect_tensor(const Tensor& got, const kiln::test::FixtureCase& c, const std::string& label) {
  const auto& want = c.get(label);
  ASSERT_EQ(got.shape(), want.shape) << c.name << " " << label;
  std::vector<double> g = got.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    double w = want.values[i];
    bool ok = std::isnan(w) ? std::isnan(g[i]) : std::abs(g[i] - w) <= 1e-12 * std::max(1.0, std::abs(w));
    EXPECT_TRUE(ok) << c.name << " " << label << "[" << i << "]: got " << g[i] << ", want " << w;
  }
}

// A ParamMap as text (NaN-valued parameters compare equal this way).
std::string params_text(const ParamMap& p) {
  std::string s;
  for (const auto& [k, v] : p) s += k + "=" + kiln::classic::param::str(v) + ";";
  return s;
}

// A transformer for each fixture case, and how to read its fitted attributes.
struct Subject {
  std::unique_ptr<Transformer> t;
  std::function<Tensor(const std::string&)> attr;
};

template <class T>
Subject make(T t, std::map<std::string, std::function<Tensor(const T&)>> attrs = {}) {
  auto p = std::make_unique<T>(std::move(t));
  T* raw = p.get();
  return {std::move(p), [raw, attrs](const std::string& name) { return attrs.at(name)(*raw); }};
}

Subject subject_for(const std::string& name) {
  using SS = StandardScaler;
  using MM = MinMaxScaler;
  using RS = RobustScaler;
  std::map<std::string, std::function<Tensor(const SS&)>> ss = {
      {"mean_", [](const SS& s) { return s.mean_(); }},
      {"var_", [](const SS& s) { return s.var_(); }},
      {"scale_", [](const SS& s) { return s.scale_(); }}};
  std::map<std::string, std::function<Tensor(const MM&)>> mm = {
      {"data_min_", [](const MM& s) { return s.data_min_(); }},
      {"data_max_", [](const MM& s) { return s.data_max_(); }},
      {"scale_", [](const MM& s) { return s.scale_(); }},
      {"min_", [](const MM& s) { return s.min_(); }}};
  std::map<std::string, std::function<Tensor(const RS&)>> rs = {
      {"center_", [](const RS& s) { return s.center_(); }},
      {"scale_", [](const RS& s) { return s.scale_(); }}};
  std::map<std::string, std::function<Tensor(const SimpleImputer&)>> imp = {
      {"statistics_", [](const SimpleImputer& s) { return s.statistics_(); }}};
  std::map<std::string, std::function<Tensor(const PolynomialFeatures&)>> poly = {
      {"powers_", [](const PolynomialFeatures& s) { return s.powers_(); }}};

  if (name == "standard" || name == "standard_nan" || name == "standard_constant") return make(SS(), ss);
  if (name == "standard_no_mean") return make(SS({.with_mean = false}), ss);
  if (name == "standard_no_std") return make(SS({.with_std = false}), ss);
  if (name == "minmax" || name == "minmax_nan" || name == "minmax_constant") return make(MM(), mm);
  if (name == "minmax_range_clip") return make(MM({.feature_min = -1, .feature_max = 2, .clip = true}), mm);
  if (name == "robust" || name == "robust_nan") return make(RS(), rs);
  if (name == "robust_10_90") return make(RS({.quantile_min = 10, .quantile_max = 90}), rs);
  if (name == "robust_no_center") return make(RS({.with_centering = false}), rs);
  if (name == "impute_mean") return make(SimpleImputer({.strategy = "mean"}), imp);
  if (name == "impute_median") return make(SimpleImputer({.strategy = "median"}), imp);
  if (name == "impute_most_frequent" || name == "impute_most_frequent_ties")
    return make(SimpleImputer({.strategy = "most_frequent"}), imp);
  if (name == "impute_constant")
    return make(SimpleImputer({.strategy = "constant", .fill_value = -1.5}), imp);
  if (name == "impute_mean_keep_empty")
    return make(SimpleImputer({.strategy = "mean", .keep_empty_features = true}), imp);
  if (name == "poly_2") return make(PolynomialFeatures({.degree = 2}), poly);
  if (name == "poly_3_no_bias") return make(PolynomialFeatures({.degree = 3, .include_bias = false}), poly);
  if (name == "poly_3_interaction")
    return make(PolynomialFeatures({.degree = 3, .interaction_only = true}), poly);
  if (name == "poly_0") return make(PolynomialFeatures({.degree = 0}), poly);
  if (name == "onehot" || name == "onehot_nan") return make(OneHotEncoder());
  if (name == "onehot_ignore") return make(OneHotEncoder({.handle_unknown = "ignore"}));
  if (name == "onehot_drop_first") return make(OneHotEncoder({.drop = "first"}));
  if (name == "onehot_drop_if_binary") return make(OneHotEncoder({.drop = "if_binary"}));
  if (name == "ordinal" || name == "ordinal_nan") return make(OrdinalEncoder());
  if (name == "ordinal_unknown")
    return make(OrdinalEncoder({.handle_unknown = "use_encoded_value", .unknown_value = -1}));
  if (name == "ordinal_missing_code") return make(OrdinalEncoder({.encoded_missing_value = -2}));
  if (name == "column_transformer_drop" || name == "column_transformer_passthrough") {
    Pipeline num, cat;
    num.add("impute", SimpleImputer({.strategy = "median"})).add("scale", StandardScaler());
    cat.add("impute", SimpleImputer({.strategy = "most_frequent"}))
        .add("onehot", OneHotEncoder({.handle_unknown = "ignore"}));
    ColumnTransformer ct({.remainder = name == "column_transformer_drop" ? "drop" : "passthrough"});
    ct.add("num", std::move(num), {0, 2}).add("cat", std::move(cat), {1, 3});
    return make(std::move(ct));
  }
  return {};
}

}  // namespace

TEST(ClassicPreprocessing, MatchesSklearn) {
  ASSERT_GE(cases().size(), 30u);
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    Subject s = subject_for(c.name);
    ASSERT_TRUE(s.t != nullptr) << "no transformer for fixture case " << c.name;
    EXPECT_FALSE(s.t->is_fitted());
    Tensor train = c.tensor("X_train"), test = c.tensor("X_test");
    expect_tensor(s.t->fit_transform(train), c, "out_train");
    EXPECT_TRUE(s.t->is_fitted());
    expect_tensor(s.t->transform(test), c, "out_test");
    for (const auto& t : c.tensors)
      if (t.label != "X_train" && t.label != "X_test" && t.label != "out_train" && t.label != "out_test")
        expect_tensor(s.attr(t.label), c, t.label);
    // An unfitted clone with the same parameters reproduces the result.
    auto copy = s.t->clone();
    EXPECT_FALSE(copy->is_fitted());
    EXPECT_EQ(params_text(copy->get_params()), params_text(s.t->get_params()));
    auto* ct = dynamic_cast<Transformer*>(copy.get());
    ASSERT_NE(ct, nullptr);
    ct->fit(train);
    expect_tensor(ct->transform(test), c, "out_test");
  }
}

TEST(ClassicPreprocessing, InverseTransformsRoundTrip) {
  Tensor X = from_vector(std::vector<double>{1, 10, 2, 30, 4, 20, 8, 15}, Shape{4, 2});
  StandardScaler ss;
  MinMaxScaler mm({.feature_min = -1, .feature_max = 1});
  RobustScaler rs;
  for (auto [fwd, inv] : std::vector<std::pair<Tensor, std::function<Tensor(const Tensor&)>>>{
           {ss.fit_transform(X), [&](const Tensor& t) { return ss.inverse_transform(t); }},
           {mm.fit_transform(X), [&](const Tensor& t) { return mm.inverse_transform(t); }},
           {rs.fit_transform(X), [&](const Tensor& t) { return rs.inverse_transform(t); }}}) {
    std::vector<double> back = inv(fwd).to_vector<double>(), orig = X.to_vector<double>();
    for (size_t i = 0; i < orig.size(); ++i) EXPECT_NEAR(back[i], orig[i], 1e-12);
  }
  OrdinalEncoder oe;
  Tensor codes = oe.fit_transform(X);
  EXPECT_EQ(oe.inverse_transform(codes).to_vector<double>(), X.to_vector<double>());
  OneHotEncoder oh({.drop = "first"});
  EXPECT_EQ(oh.inverse_transform(oh.fit_transform(X)).to_vector<double>(), X.to_vector<double>());
}

TEST(ClassicPreprocessing, AcceptsOtherDtypes) {
  Tensor Xf = from_vector(std::vector<float>{1, 2, 3, 4}, Shape{2, 2});
  Tensor Xi = from_vector(std::vector<int64_t>{1, 2, 3, 4}, Shape{2, 2});
  StandardScaler a, b;
  Tensor out = a.fit_transform(Xf);
  EXPECT_EQ(out.dtype(), DType::f64);
  EXPECT_EQ(out.to_vector<double>(), b.fit_transform(Xi).to_vector<double>());
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{-1, -1, 1, 1}));
}

TEST(ClassicPreprocessing, LabelEncoder) {
  LabelEncoder le;
  Tensor y = from_vector(std::vector<int64_t>{10, -2, 10, 7, -2});
  EXPECT_EQ(le.fit_transform(y).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 2, 1, 0}));
  EXPECT_EQ(le.classes_().to_vector<int64_t>(), (std::vector<int64_t>{-2, 7, 10}));
  EXPECT_EQ(le.inverse_transform(from_vector(std::vector<int64_t>{1, 2})).to_vector<int64_t>(),
            (std::vector<int64_t>{7, 10}));
  EXPECT_CONTAINS(error_of([&] { le.transform(from_vector(std::vector<int64_t>{3})); }),
                  "LabelEncoder.transform: y contains the label 3 that was not seen in fit()");
  EXPECT_CONTAINS(error_of([&] { le.inverse_transform(from_vector(std::vector<int64_t>{3})); }),
                  "code 3 is out of range [0, 3)");
  LabelEncoder ls;
  ls.fit(std::vector<std::string>{"cat", "ant", "dog", "cat"});
  EXPECT_EQ(ls.string_classes_(), (std::vector<std::string>{"ant", "cat", "dog"}));
  EXPECT_EQ(ls.transform(std::vector<std::string>{"dog", "ant"}).to_vector<int64_t>(),
            (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(ls.inverse_transform_strings(from_vector(std::vector<int64_t>{1})),
            (std::vector<std::string>{"cat"}));
  EXPECT_CONTAINS(error_of([&] { ls.transform(std::vector<std::string>{"eel"}); }), "the label 'eel'");
  EXPECT_CONTAINS(error_of([&] { ls.transform(y); }), "fitted on string labels");
  EXPECT_CONTAINS(error_of([&] { LabelEncoder().transform(y); }),
                  "LabelEncoder.transform: this estimator is not fitted yet");
}

TEST(ClassicPreprocessing, OneHotFeatureNames) {
  OneHotEncoder oh({.drop = "if_binary"});
  Tensor X = from_vector(std::vector<double>{1, 0.5, 2, 1.5, 3, NAN}, Shape{3, 2});
  oh.fit(X);
  EXPECT_EQ(oh.get_feature_names_out(),
            (std::vector<std::string>{"x0_1.0", "x0_2.0", "x0_3.0", "x1_0.5", "x1_1.5", "x1_nan"}));
  EXPECT_EQ(oh.get_feature_names_out({"a", "b"})[3], "b_0.5");
}

TEST(ClassicPreprocessing, ParamsByName) {
  StandardScaler ss;
  ss.set_params({{"with_mean", false}});
  EXPECT_FALSE(ss.params().with_mean);
  EXPECT_EQ(std::get<bool>(ss.get_params().at("with_mean")), false);
  PolynomialFeatures pf;
  pf.set_params({{"degree", int64_t{3}}, {"include_bias", false}});
  EXPECT_EQ(pf.params().degree, 3);
  MinMaxScaler mm;
  mm.set_params({{"feature_max", int64_t{5}}});  // an int is accepted for a real parameter
  EXPECT_EQ(mm.params().feature_max, 5.0);
  EXPECT_CONTAINS(error_of([&] {
                    ss.set_params({{"with_man", true}});
                  }),
                  "StandardScaler.set_params: unknown parameter 'with_man'; valid: with_mean, with_std");
  EXPECT_CONTAINS(error_of([&] {
                    ss.set_params({{"with_mean", 1.0}});
                  }),
                  "parameter 'with_mean' must be a bool, got double 1");
  EXPECT_CONTAINS(error_of([&] { pf.set_params({{"degree", 2.5}}); }), "parameter 'degree' must be an int");
  EXPECT_CONTAINS(error_of([&] {
                    SimpleImputer().set_params({{"strategy", int64_t{1}}});
                  }),
                  "parameter 'strategy' must be a string");
  EXPECT_CONTAINS(error_of([&] {
                    LabelEncoder().set_params({{"x", true}});
                  }),
                  "LabelEncoder.set_params: unknown");
}

TEST(ClassicPreprocessing, Errors) {
  Tensor X = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{3, 2});
  Tensor X3 = from_vector(std::vector<double>{1, 2, 3}, Shape{1, 3});
  Tensor v = from_vector(std::vector<double>{1, 2, 3});
  EXPECT_CONTAINS(error_of([&] { StandardScaler().transform(X); }),
                  "StandardScaler.transform: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] { StandardScaler().mean_(); }),
                  "StandardScaler.mean_: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] { StandardScaler().fit(v); }),
                  "StandardScaler.fit: X must be 2-D (n_samples, n_features), got shape [3]");
  EXPECT_CONTAINS(error_of([&] { StandardScaler().fit(Tensor()); }),
                  "StandardScaler.fit: X is an undefined tensor");
  EXPECT_CONTAINS(error_of([&] {
                    StandardScaler().fit(from_vector(std::vector<double>{}, Shape{0, 2}));
                  }),
                  "X has no rows");
  StandardScaler ss;
  ss.fit(X);
  EXPECT_CONTAINS(error_of([&] { ss.transform(X3); }),
                  "StandardScaler.transform: X has 3 features, but the scaler was fitted on 2");
  EXPECT_CONTAINS(error_of([&] { MinMaxScaler({.feature_min = 1, .feature_max = 0}).fit(X); }),
                  "feature_min < feature_max");
  EXPECT_CONTAINS(error_of([&] { RobustScaler({.quantile_min = 80, .quantile_max = 20}).fit(X); }),
                  "invalid quantile range (80, 20)");
  EXPECT_CONTAINS(error_of([&] { SimpleImputer({.strategy = "mode"}).fit(X); }),
                  "strategy must be 'mean', 'median', 'most_frequent' or 'constant', got 'mode'");
  SimpleImputer imp;
  imp.fit(X);
  EXPECT_CONTAINS(error_of([&] { imp.transform(X3); }), "SimpleImputer.transform: X has 3 features");
  EXPECT_CONTAINS(error_of([&] { PolynomialFeatures({.degree = -1}).fit(X); }),
                  "degree must be >= 0, got -1");
  EXPECT_CONTAINS(error_of([&] { PolynomialFeatures({.degree = 0, .include_bias = false}).fit(X); }),
                  "gives no output features");
  OneHotEncoder oh;
  oh.fit(X);
  EXPECT_CONTAINS(
      error_of([&] {
        oh.transform(from_vector(std::vector<double>{1, 7}, Shape{1, 2}));
      }),
      "OneHotEncoder.transform: unknown category 7.0 in column 1 (row 0); set handle_unknown='ignore'");
  EXPECT_CONTAINS(error_of([&] { OneHotEncoder({.handle_unknown = "skip"}).fit(X); }),
                  "handle_unknown must be 'error' or 'ignore', got 'skip'");
  EXPECT_CONTAINS(error_of([&] { OneHotEncoder({.drop = "last"}).fit(X); }), "drop must be");
  EXPECT_CONTAINS(error_of([&] { oh.inverse_transform(X); }), "X has 2 columns, expected 6");
  OrdinalEncoder oe;
  oe.fit(X);
  EXPECT_CONTAINS(error_of([&] {
                    oe.transform(from_vector(std::vector<double>{1, 7}, Shape{1, 2}));
                  }),
                  "OrdinalEncoder.transform: unknown category 7.0 in column 1");
  EXPECT_CONTAINS(error_of([&] {
                    oe.transform(from_vector(std::vector<double>{NAN, 2}, Shape{1, 2}));
                  }),
                  "unknown category nan in column 0");
  OrdinalEncoder oe_unknown({.handle_unknown = "use_encoded_value", .unknown_value = -1});
  oe_unknown.fit(X);
  EXPECT_EQ(oe_unknown.transform(from_vector(std::vector<double>{NAN, 2}, Shape{1, 2})).to_vector<double>(),
            (std::vector<double>{-1, 0}));
  EXPECT_CONTAINS(error_of([&] { OrdinalEncoder({.handle_unknown = "ignore"}).fit(X); }),
                  "handle_unknown must be 'error' or 'use_encoded_value'");
  EXPECT_CONTAINS(error_of([&] { LabelEncoder().fit(X); }), "LabelEncoder.fit: y must be 1-D");
  EXPECT_CONTAINS(error_of([&] { LabelEncoder().fit(v); }),
                  "y must hold integer class labels (i64), got dtype");
}
