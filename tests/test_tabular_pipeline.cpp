// tests/test_tabular_pipeline.cpp: from a data::Table to a model without glue — ColumnTransformer columns
// by name and kind, Pipeline / GridSearchCV fit(table, target) with test tables coded by the training
// schema, fitted on training rows only; searches are classifiers (nested CV stratifies); the named scorers
// equal scikit-learn's get_scorer on the same predictions (tests/fixtures/sklearn_scorers.txt, written by
// tests/gen_sklearn_tabular.py).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <kiln/data/csv.h>
#include <kiln/kiln.h>

#include "support/classic_datasets.h"
#include "support/fixture.h"
#include "support/helpers.h"

namespace {

namespace C = kiln::classic;
using kiln::Tensor;
using kiln::data::parse_csv;
using kiln::data::Table;
using kiln::testing::error_of;

const char* kTrain =
    "age,city,income,churn\n30,Paris,1,no\n,Lyon,2,yes\n50,Paris,,no\n60,,4,no\n20,Lyon,5,yes\n40,Paris,6,"
    "no\n";
const char* kTest = "age,city,income,churn\n1000,Nice,1000,no\n35,Lyon,3,yes\n";

C::ColumnTransformer preprocessor() {
  C::Pipeline num, cat;
  num.add("impute", C::SimpleImputer({.strategy = "median"})).add("scale", C::StandardScaler());
  cat.add("impute", C::SimpleImputer({.strategy = "most_frequent"}))
      .add("onehot", C::OneHotEncoder({.handle_unknown = "ignore"}));
  C::ColumnTransformer ct;
  ct.add("num", num, C::numeric_columns()).add("cat", cat, C::columns({"city"}));
  return ct;
}

TEST(TabularPipeline, ColumnTransformerSelectsByNameAndKindOnTables) {
  Table train = parse_csv(kTrain).drop({"churn"}), test = parse_csv(kTest).drop({"churn"});
  C::ColumnTransformer ct = preprocessor();
  Tensor out = ct.fit_transform(train);
  ASSERT_EQ(out.shape(), (kiln::Shape{6, 4}));  // age, income scaled; Lyon, Paris one-hot
  auto& imputer = dynamic_cast<C::Pipeline&>(ct.named_transformer("num")).get<C::SimpleImputer>("impute");
  EXPECT_EQ(imputer.statistics_().to_vector<double>(), (std::vector<double>{40, 4}));  // training medians
  std::vector<double> t = ct.transform(test).to_vector<double>();
  EXPECT_EQ(std::vector<double>(t.begin() + 2, t.begin() + 4), (std::vector<double>{0, 0}));  // Nice: unknown
  EXPECT_EQ(std::vector<double>(t.begin() + 6, t.begin() + 8), (std::vector<double>{1, 0}));  // Lyon
  // The missing city is the most frequent training city (Paris).
  std::vector<double> o = out.to_vector<double>();
  EXPECT_EQ(std::vector<double>(o.begin() + 14, o.begin() + 16), (std::vector<double>{0, 1}));

  C::ColumnTransformer unnamed = preprocessor();
  Tensor X = train.features(train.fit_schema(""));
  EXPECT_CONTAINS(error_of([&] { unnamed.fit(X); }),
                  "transformer 'num' selects numeric columns, which needs the table's schema");
  C::ColumnTransformer wrong;
  wrong.add("x", C::StandardScaler(), C::columns({"town"}));
  EXPECT_CONTAINS(error_of([&] { wrong.fit(train); }), "no feature column named 'town'");
}

TEST(TabularPipeline, PipelineAndSearchFitTablesWithTheTrainingSchema) {
  Table train = parse_csv(kTrain), test = parse_csv(kTest);
  C::Pipeline pipe;
  pipe.add("prep", preprocessor()).add("clf", C::LogisticRegression());
  pipe.fit(train, "churn");
  EXPECT_EQ(pipe.schema().classes, (std::vector<std::string>{"no", "yes"}));
  // The same as converting by hand with the training schema.
  auto fitted = train.to_xy("churn");
  C::Pipeline by_hand;
  by_hand.add("prep", preprocessor()).add("clf", C::LogisticRegression());
  by_hand.set_schema(fitted.schema);
  by_hand.fit(fitted.X, fitted.y);
  Tensor X_test = test.to_xy(fitted.schema).X;
  EXPECT_EQ(pipe.predict_proba(test).to_vector<double>(), by_hand.predict_proba(X_test).to_vector<double>());
  EXPECT_DOUBLE_EQ(pipe.score(test), by_hand.score(X_test, test.to_xy(fitted.schema).y));

  C::GridSearchCV search(pipe, {.param_grid = {{{"clf__C", {0.1, 1.0}}}}, .cv = 2});
  search.fit(train, "churn");
  EXPECT_EQ(search.predict(test).size(0), 2);
  EXPECT_TRUE(C::is_classifier(search));
  EXPECT_FALSE(C::is_classifier(C::GridSearchCV(C::Ridge(), {.param_grid = {{{"alpha", {1.0}}}}})));
  EXPECT_TRUE(C::is_regressor(C::GridSearchCV(C::Ridge(), {.param_grid = {{{"alpha", {1.0}}}}})));
}

// A search around a classifier is a classifier, so cross-validation around it (nested CV) uses
// StratifiedKFold like any classifier, not plain KFold on sorted labels.
TEST(TabularPipeline, NestedCrossValidationStratifies) {
  auto d = kiln::testing::load_dataset("iris");  // sorted by class: unstratified folds would miss classes
  C::Pipeline pipe;
  pipe.add("scale", C::StandardScaler()).add("clf", C::LogisticRegression());
  C::GridSearchCV inner(pipe, {.param_grid = {{{"clf__C", {0.1, 1.0}}}}, .cv = 3});
  std::vector<double> by_default = C::cross_val_score(inner, d.X, d.y, {.cv = 3});
  std::vector<double> stratified = C::cross_val_score(
      inner, d.X, d.y, {.splitter = std::make_shared<C::StratifiedKFold>(C::KFoldParams{.n_splits = 3})});
  EXPECT_EQ(by_default, stratified);
  for (double s : by_default) EXPECT_GT(s, 0.85);
}

// predict_proba returns stored probabilities whatever X is, so a scorer sees exactly the fixture's numbers.
class FixedClassifier : public C::Classifier {
 public:
  FixedClassifier(Tensor proba, Tensor classes) : proba_(proba), classes_(classes) {}
  std::string name() const override { return "FixedClassifier"; }
  C::ParamMap get_params() const override { return {}; }
  void set_params(const C::ParamMap&) override {}
  std::unique_ptr<C::Estimator> clone() const override { return std::make_unique<FixedClassifier>(*this); }
  bool is_fitted() const override { return true; }
  FixedClassifier& fit(const Tensor&, const Tensor&, const Tensor& = {}) override { return *this; }
  Tensor predict_proba(const Tensor&) const override { return proba_; }
  Tensor classes() const override { return classes_; }
  Tensor predict(const Tensor&) const override {
    std::vector<double> p = proba_.to_vector<double>();
    std::vector<int64_t> c = classes_.to_vector<int64_t>(), out;
    const size_t k = c.size();
    for (size_t i = 0; i < p.size() / k; ++i)
      out.push_back(c[std::max_element(p.begin() + i * k, p.begin() + (i + 1) * k) - (p.begin() + i * k)]);
    return kiln::from_vector(out);
  }
  double score(const Tensor& X, const Tensor& y) const override { return C::accuracy_score(y, predict(X)); }

 private:
  Tensor proba_, classes_;
};

TEST(TabularPipeline, ScorersMatchScikitLearn) {
  auto cases = kiln::test::read_fixture_file(KILN_FIXTURES_DIR "/sklearn_scorers.txt");
  ASSERT_EQ(cases.size(), 2u);
  int checked = 0;
  for (const auto& c : cases) {
    FixedClassifier est(c.tensor("y_prob"), c.tensor("classes"));
    Tensor y = c.tensor("y_true"), X = kiln::zeros({y.size(0), 1});
    for (const auto& t : c.tensors) {
      if (t.label == "y_true" || t.label == "y_prob" || t.label == "classes") continue;
      EXPECT_NEAR(C::get_scorer(t.label)(est, X, y), t.values[0], 1e-12) << c.name << " " << t.label;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 29);
  EXPECT_CONTAINS(error_of([&] {
                    C::get_scorer("roc_auc")(C::Ridge(), kiln::zeros({2, 1}), kiln::zeros({2}));
                  }),
                  "scorer \"roc_auc\": Ridge is not a Classifier");
  FixedClassifier three(kiln::full({2, 3}, 1.0 / 3), kiln::from_vector(std::vector<int64_t>{0, 1, 2}));
  EXPECT_CONTAINS(
      error_of([&] {
        C::get_scorer("roc_auc")(three, kiln::zeros({2, 1}), kiln::from_vector(std::vector<int64_t>{0, 1}));
      }),
      "needs a binary target, the estimator has 3 classes");
  EXPECT_CONTAINS(error_of([&] {
                    C::get_scorer("f1")(three, kiln::zeros({2, 1}), kiln::full({2}, 0.5));
                  }),
                  "the target holds 0.5, not a class label");
  EXPECT_EQ(C::scorer_names().size(), 24u);
}

}  // namespace
