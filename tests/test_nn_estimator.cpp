// tests/test_nn_estimator.cpp: NeuralNetClassifier / NeuralNetRegressor (nn/train/neural_net_estimator.h)
// as classic estimators: they learn (breast cancer, diabetes), are reproducible from random_state and
// leave kiln's stream alone, expose their parameters by name, clone unfitted, save and load their fitted
// state, sit in a Pipeline that fits on training rows only, and GridSearchCV over them gives the same
// result for any n_jobs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/classic_datasets.h"
#include "support/helpers.h"

namespace {

using kiln::DType;
using kiln::Tensor;
using kiln::classic::GridSearchCV;
using kiln::classic::Pipeline;
using kiln::classic::StandardScaler;
using kiln::nn::train::NeuralNetClassifier;
using kiln::nn::train::NeuralNetRegressor;
using kiln::testing::error_of;

struct Split {
  Tensor X_train, y_train, X_test, y_test;
};
Split split(const kiln::testing::Dataset& d) {
  auto s = kiln::classic::train_test_split(d.X, d.y, {.test_size = 0.25, .random_state = 0});
  return {s.X_train, s.y_train, s.X_test, s.y_test};
}

Tensor positive_column(const Tensor& proba) {
  std::vector<double> p = proba.to_vector<double>(), pos;
  for (size_t i = 1; i < p.size(); i += 2) pos.push_back(p[i]);
  return kiln::from_vector(pos);
}

Pipeline scaled(const kiln::classic::Estimator& last) {
  Pipeline p;
  p.add("scale", StandardScaler()).add("net", last.clone());
  return p;
}

NeuralNetClassifier small_net(int64_t seed = 0) {
  return NeuralNetClassifier(
      {.hidden_sizes = {16}, .lr = 3e-3, .epochs = 30, .batch_size = 32, .random_state = seed});
}

TEST(NNEstimator, ClassifierLearnsAndIsReproducible) {
  Split s = split(kiln::testing::load_dataset("breast_cancer"));
  Pipeline a = scaled(small_net()), b = scaled(small_net()), c = scaled(small_net(1));
  a.fit(s.X_train, s.y_train);
  EXPECT_GT(a.score(s.X_test, s.y_test), 0.94);
  const double auc = kiln::classic::roc_auc_score(s.y_test, positive_column(a.predict_proba(s.X_test)));
  EXPECT_GT(auc, 0.98);
  b.fit(s.X_train, s.y_train);
  c.fit(s.X_train, s.y_train);
  EXPECT_EQ(a.predict_proba(s.X_test).to_vector<double>(), b.predict_proba(s.X_test).to_vector<double>());
  EXPECT_NE(a.predict_proba(s.X_test).to_vector<double>(), c.predict_proba(s.X_test).to_vector<double>());
  EXPECT_EQ(a.classes().to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(NNEstimator, LabelsAreAnyIntegersAndTheStreamIsLeftAlone) {
  Split s = split(kiln::testing::load_dataset("iris"));
  std::vector<int64_t> y = s.y_train.to_vector<int64_t>();
  for (int64_t& v : y) v = v * 10 - 5;  // -5, 5, 15
  kiln::manual_seed(123);
  kiln::Generator before = kiln::default_generator();
  Pipeline p = scaled(small_net());
  p.fit(s.X_train, kiln::from_vector(y));
  EXPECT_EQ(kiln::default_generator().seed(), before.seed());
  EXPECT_EQ(kiln::default_generator().offset(), before.offset());
  EXPECT_EQ(p.classes().to_vector<int64_t>(), (std::vector<int64_t>{-5, 5, 15}));
  std::vector<int64_t> pred = p.predict(s.X_test).to_vector<int64_t>(), truth = s.y_test.to_vector<int64_t>();
  int hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == truth[i] * 10 - 5;
  EXPECT_GT(hits, static_cast<int>(pred.size()) * 9 / 10);
}

TEST(NNEstimator, RegressorLearns) {
  Split s = split(kiln::testing::load_dataset("diabetes"));
  // The target (25..346) scaled to unit range keeps the default lr meaningful.
  Tensor y_train = kiln::from_vector(s.y_train.to_vector<double>()), y_test = s.y_test;
  std::vector<double> yt = y_train.to_vector<double>(), ye = y_test.to_vector<double>();
  for (double& v : yt) v /= 100;
  for (double& v : ye) v /= 100;
  Pipeline p = scaled(NeuralNetRegressor({.hidden_sizes = {32}, .lr = 1e-2, .epochs = 60, .batch_size = 32}));
  p.fit(s.X_train, kiln::from_vector(yt));
  EXPECT_GT(p.score(s.X_test, kiln::from_vector(ye)), 0.35);  // linear models reach about 0.4 here
  EXPECT_FALSE(kiln::classic::is_classifier(p));
  EXPECT_TRUE(kiln::classic::is_regressor(p));
}

TEST(NNEstimator, ParamsByNameCloneAndFittedState) {
  NeuralNetClassifier net = small_net();
  net.set_params({{"hidden_sizes", std::string("8,4")}, {"lr", int64_t{1}}, {"early_stopping", true}});
  auto params = net.get_params();
  EXPECT_EQ(std::get<std::string>(params.at("hidden_sizes")), "8,4");
  EXPECT_EQ(std::get<double>(params.at("lr")), 1.0);
  net.set_params({{"hidden_sizes", int64_t{12}}, {"lr", 0.01}});
  EXPECT_EQ(net.params().hidden_sizes, (std::vector<int64_t>{12}));
  EXPECT_CONTAINS(error_of([&] {
                    net.set_params({{"width", int64_t{3}}});
                  }),
                  "NeuralNetClassifier.set_params: unknown parameter 'width'; valid: activation, batch_size");
  EXPECT_CONTAINS(error_of([&] { net.set_params({{"epochs", 2.5}}); }), "parameter 'epochs' must be an int");
  EXPECT_CONTAINS(error_of([&] {
                    net.set_params({{"hidden_sizes", std::string("8,x")}});
                  }),
                  "hidden_sizes must be positive widths like \"64,32\", got \"8,x\"");
  EXPECT_EQ(net.params().hidden_sizes, (std::vector<int64_t>{12}));  // a failed set_params changes nothing

  Split s = split(kiln::testing::load_dataset("breast_cancer"));
  StandardScaler scaler;
  Tensor Xtr = scaler.fit_transform(s.X_train), Xte = scaler.transform(s.X_test);
  net.fit(Xtr, s.y_train);
  EXPECT_TRUE(net.is_fitted());
  EXPECT_FALSE(net.clone()->is_fitted());
  EXPECT_EQ(net.clone()->get_params(), net.get_params());
  EXPECT_GE(net.history_().size(), 1u);
  NeuralNetClassifier loaded({.hidden_sizes = {12}});
  loaded.load_fitted_state(net.fitted_state());
  EXPECT_EQ(loaded.predict_proba(Xte).to_vector<double>(), net.predict_proba(Xte).to_vector<double>());
  EXPECT_EQ(loaded.classes().to_vector<int64_t>(), net.classes().to_vector<int64_t>());
}

TEST(NNEstimator, BadInputIsAClearError) {
  NeuralNetClassifier net = small_net();
  Tensor X = kiln::from_vector(std::vector<double>{0, 1, 2, NAN}, kiln::Shape{2, 2});
  Tensor y = kiln::from_vector(std::vector<int64_t>{0, 1});
  EXPECT_CONTAINS(error_of([&] { net.fit(X, y); }),
                  "NeuralNetClassifier.fit: X has a non-finite value (nan) in row 1, column 1; impute");
  EXPECT_CONTAINS(error_of([&] { net.predict(X); }), "NeuralNetClassifier.predict: called before fit()");
  Tensor ok = kiln::from_vector(std::vector<double>{0, 1, 2, 3}, kiln::Shape{2, 2});
  EXPECT_CONTAINS(error_of([&] {
                    net.fit(ok, y, kiln::from_vector(std::vector<double>{1, 1}));
                  }),
                  "sample_weight is not supported; use class_weight = \"balanced\"");
  EXPECT_CONTAINS(error_of([&] { net.fit(ok, y.to(DType::f64)); }), "y must hold integer class labels");
  EXPECT_CONTAINS(error_of([&] {
                    net.fit(ok, kiln::from_vector(std::vector<int64_t>{1, 1}));
                  }),
                  "y has one class (1)");
  NeuralNetClassifier bad({.lr = -1});
  EXPECT_CONTAINS(error_of([&] { bad.fit(ok, y); }),
                  "NeuralNetClassifier.fit: lr must be > 0 and finite, got -1");
  NeuralNetRegressor reg({.class_weight = "balanced"});
  EXPECT_CONTAINS(error_of([&] { reg.fit(ok, y.to(DType::f64)); }), "class_weight is a classifier's option");
  net.fit(ok, y);
  EXPECT_CONTAINS(error_of([&] {
                    net.predict(kiln::from_vector(std::vector<double>{1, 2, 3}, kiln::Shape{1, 3}));
                  }),
                  "X has 3 features, but the network was fitted with 2");
}

// The network inside a Pipeline sees only the training rows, standardized by their own statistics: it is
// the very network fitted by hand on the scaled training rows, whatever the test rows are.
TEST(NNEstimator, PipelineFitsOnTrainingRowsOnly) {
  Split s = split(kiln::testing::load_dataset("breast_cancer"));
  Pipeline p = scaled(small_net());
  p.fit(s.X_train, s.y_train);
  StandardScaler scaler;
  Tensor Xtr = scaler.fit_transform(s.X_train);
  EXPECT_EQ(p.get<StandardScaler>("scale").mean_().to_vector<double>(), scaler.mean_().to_vector<double>());
  NeuralNetClassifier alone = small_net();
  alone.fit(Xtr, s.y_train);
  EXPECT_EQ(p.predict_proba(s.X_test).to_vector<double>(),
            alone.predict_proba(scaler.transform(s.X_test)).to_vector<double>());
  // Far-away test rows change nothing that was fitted.
  std::vector<double> far = s.X_test.to_vector<double>();
  for (double& v : far) v = v * 1000 + 1e6;
  Pipeline q = scaled(small_net());
  q.fit(s.X_train, s.y_train);
  q.predict(kiln::from_vector(far, s.X_test.shape()));
  EXPECT_EQ(q.predict_proba(s.X_test).to_vector<double>(), p.predict_proba(s.X_test).to_vector<double>());
}

TEST(NNEstimator, GridSearchIsIndependentOfNJobs) {
  Split s = split(kiln::testing::load_dataset("breast_cancer"));
  Pipeline p = scaled(NeuralNetClassifier({.hidden_sizes = {8}, .epochs = 8, .batch_size = 32}));
  auto search = [&](int64_t jobs) {
    GridSearchCV g(p, {.param_grid = {{{"net__lr", {1e-3, 1e-2}},
                                       {"net__hidden_sizes", {std::string("4"), std::string("16")}}}},
                       .scoring = "roc_auc",
                       .cv = 3,
                       .n_jobs = jobs});
    g.fit(s.X_train, s.y_train);
    return g;
  };
  GridSearchCV one = search(1), two = search(2);
  EXPECT_EQ(one.best_params(), two.best_params());
  EXPECT_EQ(one.cv_results().split_test_scores, two.cv_results().split_test_scores);
  EXPECT_EQ(one.predict_proba(s.X_test).to_vector<double>(), two.predict_proba(s.X_test).to_vector<double>());
  // The candidates differ (the search has something to choose).
  const auto& m = one.cv_results().mean_test_score;
  EXPECT_NE(*std::min_element(m.begin(), m.end()), *std::max_element(m.begin(), m.end()));
  EXPECT_TRUE(kiln::classic::is_classifier(one));
  EXPECT_GT(kiln::classic::get_scorer("roc_auc")(one, s.X_test, s.y_test), 0.95);
}

}  // namespace
