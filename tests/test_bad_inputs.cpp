// Hostile inputs to kiln's public entry points. Each must raise kiln::Error (never crash, never a bare
// standard exception, never silent garbage) with a message naming the op, parameter or file. Built a
// second time under AddressSanitizer + UBSan by `make test` (tests/CMakeLists.txt, test_bad_inputs_asan),
// so an out-of-bounds access or an undefined conversion that happens to give an error is still caught.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "support/helpers.h"

using namespace kiln;
using kiln::testing::error_of;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The error of f must name every one of `parts`.
void expect_error(const std::function<void()>& f, std::initializer_list<const char*> parts) {
  const std::string msg = error_of(f);
  for (const char* p : parts) EXPECT_CONTAINS(msg, p);
}

Tensor matrix(std::vector<double> v, int64_t rows, int64_t cols) { return from_vector(v, Shape{rows, cols}); }

std::string temp_file(const std::string& name, const std::string& bytes) {
  std::string path = ::testing::TempDir() + "kiln_bad_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

// ---- element counts and allocation ----

TEST(BadInputs, FactoryElementCountOverflow) {
  const int64_t big = int64_t{1} << 32;
  expect_error([&] { zeros({big, big}); }, {"empty", "[4294967296, 4294967296]", "2^53"});
  expect_error([&] { ones({big, big, big}); }, {"empty"});
  expect_error([&] { empty({-1, 3}); }, {"empty", "negative size", "[-1, 3]"});
  expect_error([&] { full({1 << 30, 1 << 30, 16}, 1.0); }, {"empty"});
  // A zero size does not hide an overflow of the other sizes (the strides would wrap).
  expect_error([&] { zeros({0, big, big}); }, {"2^53"});
  expect_error([&] { rand({big, big}); }, {"empty"});
  expect_error([&] { randn({big, big}); }, {"empty"});
}

TEST(BadInputs, AllocationLargerThanMemoryNamesShapeAndBytes) {
  // 2^50 bytes: within the count limit, beyond any machine's memory.
  expect_error([&] { empty({int64_t{1} << 47}, {.dtype = DType::f64}); },
               {"empty", "[140737488355328]", "1125899906842624 bytes", "memory"});
}

TEST(BadInputs, EyeLinspaceArange) {
  expect_error([&] { eye(int64_t{1} << 32); }, {"eye", "2^53"});
  expect_error([&] { eye((int64_t{1} << 31) + 1); }, {"eye"});
  expect_error([&] { eye(-3); }, {"eye", "non-negative"});
  expect_error([&] { linspace(0, 1, int64_t{1} << 62); }, {"empty"});
  expect_error([&] { linspace(0, 1, -2); }, {"linspace", "steps"});
  expect_error([&] { linspace(0, kInf, 5); }, {"linspace", "finite"});
  expect_error([&] { arange(0, 1e19, 1); }, {"arange", "element count", "out of range"});
  expect_error([&] { arange(0, 1, 1e-300); }, {"arange", "element count"});
  expect_error([&] { arange(0, 10, 0); }, {"arange", "nonzero"});
  expect_error([&] { arange(0, kInf, 1); }, {"arange", "finite"});
  expect_error([&] { arange(0, kNaN, 1); }, {"arange", "finite"});
  expect_error([&] { arange(5, 0, 1); }, {"arange", "wrong sign"});
  // The good paths still work, eye through its strided diagonal fill.
  EXPECT_EQ(arange(0, 1, 0.25, {.dtype = DType::f64}).numel(), 4);
  EXPECT_EQ(eye(3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(eye(0).numel(), 0);
}

TEST(BadInputs, ViewsAndShapes) {
  Tensor x = zeros({2, 3});
  expect_error([&] { x.expand({-2, 3}); }, {"expand", "-2"});
  expect_error([&] { x.expand({4, -5, 3}); }, {"expand", "-5"});
  expect_error([&] { x.reshape({-1, -1}); }, {"reshape", "only one size may be -1"});
  expect_error([&] { x.reshape({int64_t{1} << 40, int64_t{1} << 40}); }, {"reshape"});
  expect_error([&] { x.reshape({0, -1}); }, {"reshape"});
  expect_error([&] { x.view({7}); }, {"view"});
  expect_error([&] { as_strided(x, {2}, {int64_t{1} << 62}, 0); }, {"as_strided"});
  expect_error([&] { as_strided(x, {3, 3}, {3, 1}, 0); }, {"as_strided", "leaves the storage"});
  expect_error([&] { as_strided(x, {2}, {1}, -1); }, {"as_strided", "offset"});
  expect_error([&] { x.at<float>({2, 0}); }, {"at()", "out of range"});
  expect_error([&] { x.at<double>({0, 0}); }, {"at<f64>", "f32"});
  expect_error([&] { x.narrow(1, 2, 5); }, {"narrow"});
  expect_error([&] { x.select(0, 9); }, {"select"});
  expect_error([&] { x.permute({0, 0}); }, {"permute"});
  expect_error([&] { x.transpose(0, 5); }, {"dim 5"});
  expect_error([&] { Tensor().sum(); }, {"undefined"});
  expect_error([&] { from_vector(std::vector<float>{1, 2, 3}, Shape{2, 2}); }, {"from_vector", "3 values"});
  expect_error([&] { from_blob(nullptr, {4}, DType::f32); }, {"from_blob", "null"});
}

TEST(BadInputs, ElementwiseShapesAndDtypes) {
  Tensor a = zeros({2, 3}), b = zeros({4, 5});
  expect_error([&] { (void)(a + b); }, {"add", "[2, 3]", "[4, 5]", "broadcast"});
  expect_error([&] { a.matmul(b); }, {"matmul"});
  EXPECT_EQ(clamp(from_vector(std::vector<float>{0, 5}), 2.0, 1.0).to_vector<float>(),
            (std::vector<float>{1, 1}));
  EXPECT_EQ((from_vector(std::vector<int64_t>{7}) * 2.5).to_vector<float>(), std::vector<float>{17.5f});
  expect_error([&] { zeros({3}).backward(); }, {"backward"});
}

TEST(BadInputs, EmbeddingOfImpossibleSize) {
  expect_error([&] { nn::Embedding(int64_t{1} << 40, int64_t{1} << 24); }, {"empty", "2^53"});
  expect_error([&] { nn::Embedding(0, 4); }, {"Embedding", "positive"});
  nn::Embedding e(10, 4);
  expect_error([&] { e(from_vector(std::vector<int64_t>{3, 10})); }, {"10"});
  expect_error([&] { e(from_vector(std::vector<int64_t>{-11})); }, {"-11"});
  expect_error([&] { nn::Linear(-1, 3); }, {"Linear"});
}

TEST(BadInputs, LoadStateDictNamesTheKey) {
  nn::Linear layer(2, 3);
  StateDict sd = layer.state_dict();
  sd.set("weight", Tensor());
  expect_error([&] { layer.load_state_dict(sd); }, {"load_state_dict", "'weight'", "undefined"});
  sd = layer.state_dict();
  sd.set("bias", zeros({4}));
  expect_error([&] { layer.load_state_dict(sd); }, {"load_state_dict", "'bias'", "[4]", "[3]"});
}

// ---- optimizers and schedulers: every path that sets a hyper-parameter checks it ----

TEST(BadInputs, OptimizerHyperParametersOnEveryPath) {
  Tensor w = zeros({3}, {.requires_grad = true});
  expect_error([&] { optim::SGD({w}, {.lr = -1}); }, {"SGD", "lr"});
  expect_error([&] { optim::SGD({w}, {.lr = kInf}); }, {"SGD", "'lr'", "finite"});
  expect_error([&] { optim::Adam({w}, {.lr = kNaN}); }, {"Adam"});
  optim::SGD opt({w}, {.lr = 0.1});
  expect_error([&] { opt.set_lr(0, -5); }, {"SGD", "lr"});
  expect_error([&] { opt.set_lr(0, kInf); }, {"SGD", "'lr'", "finite"});
  expect_error([&] { opt.set_lr(3, 0.1); }, {"SGD", "group 3"});
  expect_error([&] { opt.set_option(0, "momentum", -0.5); }, {"SGD", "momentum"});
  expect_error([&] { opt.set_option(0, "nesterov_typo", 1); }, {"SGD", "nesterov_typo"});
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.1);  // a refused value leaves the old one
  expect_error([&] { optim::ExponentialLR(opt, {.gamma = -0.5}); }, {"ExponentialLR", "gamma"});
  expect_error([&] { optim::ExponentialLR(opt, {.gamma = kInf}); }, {"ExponentialLR", "gamma"});
  expect_error([&] { optim::StepLR(opt, {.step_size = 2, .gamma = -1}); }, {"StepLR", "gamma"});
  expect_error([&] { optim::MultiStepLR(opt, {.milestones = {1}, .gamma = kNaN}); },
               {"MultiStepLR", "gamma"});
}

// ---- classic/: scikit-learn's check_array semantics ----

TEST(BadInputs, ClassicRefusesNonFiniteData) {
  Tensor X_inf = matrix({1, 2, kInf, 4, 5, 6}, 3, 2), X_nan = matrix({1, 2, kNaN, 4, 5, 6}, 3, 2);
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 0});
  // Infinity is refused everywhere, even where NaN is a missing value.
  expect_error([&] { classic::StandardScaler().fit(X_inf); }, {"StandardScaler.fit", "infinity", "row 1"});
  expect_error([&] { classic::MinMaxScaler().fit(X_inf); }, {"MinMaxScaler.fit", "infinity"});
  expect_error([&] { classic::SimpleImputer().fit(X_inf); }, {"SimpleImputer.fit", "infinity"});
  // NaN: refused by estimators that do not treat it as missing.
  expect_error([&] { classic::PolynomialFeatures().fit(X_nan); }, {"PolynomialFeatures.fit", "NaN"});
  expect_error(
      [&] {
        classic::LinearRegression().fit(X_nan, from_vector(std::vector<double>{1, 2, 3}));
      },
      {"NaN"});
  expect_error([&] { classic::DecisionTreeClassifier().fit(X_nan, y); }, {"NaN"});
  expect_error([&] { classic::KNeighborsClassifier({.n_neighbors = 1}).fit(X_inf, y); }, {"infinity"});
  // NaN where scikit-learn treats it as a missing value: accepted, and ignored by the statistics.
  classic::StandardScaler s;
  s.fit(X_nan);
  EXPECT_DOUBLE_EQ(s.mean_().to_vector<double>()[0], 3.0);  // mean of 1 and 5
  classic::SimpleImputer imp;
  EXPECT_DOUBLE_EQ(imp.fit_transform(X_nan).to_vector<double>()[2], 3.0);
}

TEST(BadInputs, ClassicStructure) {
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 0});
  expect_error(
      [&] {
        classic::StandardScaler().fit(zeros({0, 3}, {.dtype = DType::f64}));
      },
      {"StandardScaler.fit", "no rows", "[0, 3]"});
  expect_error(
      [&] {
        classic::StandardScaler().fit(zeros({3, 0}, {.dtype = DType::f64}));
      },
      {"StandardScaler.fit", "no features", "[3, 0]"});
  expect_error([&] { classic::StandardScaler().fit(zeros({3})); }, {"StandardScaler.fit", "2-D"});
  expect_error([&] { classic::StandardScaler().fit(Tensor()); }, {"StandardScaler.fit", "undefined"});
  expect_error(
      [&] {
        classic::LogisticRegression().fit(zeros({4, 2}), y);
      },
      {"LogisticRegression", "3", "4"});
  expect_error([&] { classic::StandardScaler().transform(zeros({2, 2})); }, {"StandardScaler", "not fitted"});
}

TEST(BadInputs, ClassicResamplersAndMetricsRefuseNaN) {
  Tensor X = matrix({0, 0, 1, 1, 2, 2, kNaN, 3, 10, 10, 11, 11}, 6, 2);
  Tensor y = from_vector(std::vector<int64_t>{0, 0, 0, 0, 1, 1});
  expect_error([&] { classic::SMOTE({.k_neighbors = 1}).fit_resample(X, y); }, {"SMOTE", "NaN", "row 3"});
  Tensor t = from_vector(std::vector<double>{1, 2, 3}), p = from_vector(std::vector<double>{1, kNaN, 3});
  expect_error([&] { classic::mean_squared_error(t, p); }, {"mean_squared_error", "y_pred", "NaN"});
  expect_error([&] { classic::r2_score(p, t); }, {"r2_score", "y_true", "NaN"});
  expect_error(
      [&] {
        classic::mean_absolute_error(t, from_vector(std::vector<double>{1, kInf, 3}));
      },
      {"mean_absolute_error", "infinity"});
  expect_error(
      [&] {
        classic::mean_squared_error(t, t, from_vector(std::vector<double>{1, kNaN, 1}));
      },
      {"sample_weight"});
}

TEST(BadInputs, RocAucWithOneClassSaysWhy) {
  Tensor y = from_vector(std::vector<int64_t>{1, 1, 1}), s = from_vector(std::vector<double>{0.1, 0.5, 0.9});
  expect_error([&] { classic::roc_auc_score(y, s); }, {"roc_auc_score", "only one class", "not defined"});
  auto curve = classic::roc_curve(y, s);
  expect_error([&] { classic::auc(curve.fpr, curve.tpr); }, {"auc", "one class"});
}

TEST(BadInputs, ClassicHyperParameters) {
  Tensor X = matrix({0, 1, 2, 3, 4, 5, 6, 7}, 4, 2);
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 0, 1});
  using HGB = classic::HistGradientBoostingClassifier;
  expect_error([&] { HGB({.learning_rate = kInf}).fit(X, y); }, {"learning_rate", "finite"});
  expect_error([&] { HGB({.learning_rate = kNaN}).fit(X, y); }, {"learning_rate"});
  expect_error([&] { HGB({.learning_rate = -1}).fit(X, y); }, {"learning_rate"});
  expect_error([&] { HGB({.l2_regularization = kInf}).fit(X, y); }, {"l2_regularization"});
  // The set_params path is checked by the same validator when fit runs.
  HGB h;
  h.set_params({{"learning_rate", kInf}});
  expect_error([&] { h.fit(X, y); }, {"learning_rate", "finite"});
  expect_error([&] { h.set_params({{"learning_rate", std::string("fast")}}); }, {"learning_rate"});
  expect_error(
      [&] {
        classic::Lasso({.tol = kNaN}).fit(X, from_vector(std::vector<double>{0, 1, 2, 3}));
      },
      {"Lasso", "tol"});
  expect_error([&] { classic::GaussianNB({.var_smoothing = kInf}).fit(X, y); }, {"var_smoothing"});
  expect_error([&] { classic::DecisionTreeClassifier({.min_impurity_decrease = kNaN}).fit(X, y); },
               {"min_impurity_decrease"});
  expect_error([&] { classic::train_test_split(X, y, {.test_size = 1e30}); },
               {"train_test_split", "test_size"});
  expect_error([&] { classic::train_test_split(X, y, {.test_size = kNaN}); },
               {"train_test_split", "test_size"});
}

TEST(BadInputs, PolynomialFeaturesRefusesAnImpossibleWidth) {
  Tensor X = zeros({2, 30}, {.dtype = DType::f64});
  expect_error([&] { classic::PolynomialFeatures({.degree = 60}).fit(X); },
               {"PolynomialFeatures.fit", "degree 60", "30 features"});
  expect_error([&] { classic::PolynomialFeatures({.degree = -1}).fit(X); },
               {"PolynomialFeatures.fit", "degree"});
  // The count is exact: 30 features, degree 2 with bias gives 1 + 30 + 465.
  classic::PolynomialFeatures pf({.degree = 2});
  pf.fit(X);
  EXPECT_EQ(pf.n_output_features_(), 496);
}

// ---- data/ ----

TEST(BadInputs, CsvLimitsAndUtf16) {
  // A record with no end, beyond max_record_bytes.
  std::string endless(1 << 16, 'x');
  std::string path = temp_file("endless.csv", "a,b\n1," + endless);
  data::CsvOptions small;
  small.chunk_bytes = 1024;
  small.max_record_bytes = 8192;
  expect_error([&] { data::read_csv(path, small); },
               {"read_csv", "kiln_bad_endless.csv", "max_record_bytes"});
  small.max_record_bytes = size_t{1} << 30;
  small.max_field_bytes = 4096;
  expect_error([&] { data::read_csv(path, small); }, {"read_csv", "line 2", "max_field_bytes"});
  expect_error([&] { data::parse_csv("a\n\"open quote\n", {}); }, {"never closed"});
  // UTF-16 with and without a byte-order mark: the reason survives the NUL bytes.
  std::string utf16 = std::string("\xFF\xFE", 2) + std::string("a\0,\0b\0\n\0", 8);
  expect_error([&] { data::read_csv(temp_file("bom16.csv", utf16)); }, {"read_csv", "UTF-16"});
  std::string nobom = std::string("a\0,\0b\0\n\0001\0,\0002\0\n\0", 16);
  expect_error([&] { data::read_csv(temp_file("nobom16.csv", nobom)); }, {"read_csv", "UTF-16", "NUL"});
  expect_error([&] { data::read_csv("/nonexistent/kiln.csv"); }, {"read_csv", "/nonexistent/kiln.csv"});
}

TEST(BadInputs, ErrorMessagesKeepTextAfterNulBytes) {
  const std::string msg = error_of([] { KILN_CHECK(false, "before", std::string("\0", 1), "after"); });
  EXPECT_CONTAINS(msg, "before\\0after");
}

TEST(BadInputs, DataLoaderWorkerCounts) {
  data::TensorDataset ds(zeros({8, 2}), zeros({8}));
  expect_error([&] { data::DataLoader(ds, {.num_workers = 100000}); }, {"DataLoader", "num_workers"});
  expect_error([&] { data::DataLoader(ds, {.num_workers = -1}); }, {"DataLoader", "num_workers"});
  expect_error([&] { data::DataLoader(ds, {.batch_size = 0}); }, {"DataLoader", "batch_size"});
  expect_error([&] { data::DataLoader(ds, {.num_workers = 1, .prefetch_factor = 1 << 30}); },
               {"DataLoader", "prefetch_factor"});
}

// ---- more entry points, each with the op or class named ----

TEST(BadInputs, TensorOpsNameTheOp) {
  Tensor x = zeros({2, 3});
  expect_error([&] { softmax(x, 5); }, {"dim 5"});
  expect_error([&] { one_hot(from_vector(std::vector<int64_t>{0, 3}), 3); }, {"one_hot"});
  expect_error([&] { one_hot(from_vector(std::vector<int64_t>{0}), -2); }, {"one_hot"});
  expect_error([&] { index_select(x, 1, from_vector(std::vector<int64_t>{5})); }, {"index_select"});
  expect_error([&] { x.item<float>(); }, {"item()", "[2, 3]"});
  expect_error([&] { x.sum({7}); }, {"dim 7"});
  expect_error([&] { randint(5, 5, {2}); }, {"randint"});
  expect_error([&] { bernoulli({2}, kNaN); }, {"bernoulli"});
  expect_error([&] { bernoulli({2}, 1.5); }, {"bernoulli"});
  expect_error([&] { cat({}, 0); }, {"cat"});
  expect_error([&] { cat({x, zeros({3, 3})}, 1); }, {"cat"});
  expect_error([&] { zeros({2, 2}).matmul(zeros({3, 2})); }, {"matmul"});
  expect_error([&] { div(from_vector(std::vector<int64_t>{1}), from_vector(std::vector<int64_t>{0})); },
               {"division by zero"});
}

TEST(BadInputs, LayersAndLossesNameTheirParameters) {
  expect_error([&] { nn::Dropout(1.5); }, {"Dropout"});
  expect_error([&] { (void)nn::Dropout(kNaN); }, {"Dropout"});  // (void): not a declaration of kNaN
  expect_error([&] { nn::BatchNorm2d(0); }, {"BatchNorm", "num_features"});
  expect_error([&] { nn::Conv2d(0, 3, 3); }, {"Conv2d"});
  nn::Linear lin(3, 2);
  expect_error([&] { lin(zeros({4, 5})); }, {"[4, 5]"});
  Tensor logits = zeros({2, 3});
  expect_error(
      [&] {
        nn::functional::cross_entropy(logits, from_vector(std::vector<int64_t>{0, 3}));
      },
      {"3"});
  expect_error([&] { nn::functional::cross_entropy(logits, from_vector(std::vector<int64_t>{0})); },
               {"cross_entropy"});
  expect_error(
      [&] {
        nn::functional::cross_entropy(logits, from_vector(std::vector<int64_t>{0, 1}),
                                      {.label_smoothing = 2});
      },
      {"label_smoothing"});
}

TEST(BadInputs, OptimizerOptionsOutOfRange) {
  Tensor w = zeros({3}, {.requires_grad = true});
  expect_error([&] { optim::Adam({w}, {.betas = {1.5, 0.9}}); }, {"Adam", "beta"});
  expect_error([&] { optim::Adam({w}, {.eps = -1}); }, {"Adam", "eps"});
  expect_error([&] { optim::Adam({w}, {.weight_decay = kNaN}); }, {"Adam", "weight_decay"});
  expect_error([&] { optim::SGD({w}, {.lr = 0.1, .momentum = kInf}); }, {"SGD", "momentum"});
  w.set_grad(ones({3}));
  expect_error([&] { optim::clip_grad_norm_({w}, -1.0); }, {"max_norm"});
}

TEST(BadInputs, ClassicCountsAndSplits) {
  Tensor X = matrix({0, 1, 2, 3, 4, 5}, 3, 2);
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 0});
  expect_error([&] { classic::KNeighborsClassifier({.n_neighbors = 5}).fit(X, y).predict(X); },
               {"n_neighbors"});
  expect_error([&] { classic::KNeighborsClassifier({.n_neighbors = 0}).fit(X, y); }, {"n_neighbors"});
  expect_error([&] { classic::train_test_split(X, y, {.test_size = 0}); }, {"train_test_split", "test_size"});
  expect_error([&] { classic::train_test_split(X, y, {.test_size = 5}); }, {"train_test_split"});
  expect_error([&] { classic::RandomForestClassifier({.n_estimators = 0}).fit(X, y); }, {"n_estimators"});
  expect_error([&] { classic::RandomForestClassifier({.max_features = 1.5}).fit(X, y); }, {"max_features"});
  expect_error([&] { classic::DecisionTreeClassifier({.max_features = int64_t{9}}).fit(X, y); },
               {"max_features"});
  expect_error(
      [&] {
        classic::DecisionTreeClassifier().fit(X, from_vector(std::vector<int64_t>{0, 1}));
      },
      {"DecisionTreeClassifier"});
  expect_error(
      [&] {
        classic::accuracy_score(y, from_vector(std::vector<int64_t>{0, 1}));
      },
      {"accuracy_score"});
}
