// tests/test_checkpoint_classic.cpp: classic::save / classic::load (nn/io/checkpoint_estimator.h): a fitted
// StandardScaler, linear models and LogisticRegression (binary, multinomial, one-vs-rest) come back with
// their parameters and give bitwise-identical outputs on real data; the wrong class, an unfitted
// estimator, one without fitted_state and a damaged file are refused by name.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include <kiln/kiln.h>

#include "support/classic_datasets.h"
#include "support/helpers.h"
#include "support/temp_dir.h"

using kiln::Tensor;
using kiln::testing::error_of;
namespace classic = kiln::classic;

namespace {

void expect_identical(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
}

TEST(ClassicSave, StandardScalerRoundTrips) {
  kiln::test::TempDir dir("kiln-classic");
  auto wine = kiln::testing::load_dataset("wine");
  classic::StandardScaler scaler({.with_mean = true, .with_std = false});
  scaler.fit(wine.X);
  classic::save(dir.file("s.h5"), scaler);
  classic::StandardScaler back;  // default parameters: the file's replace them
  classic::load(dir.file("s.h5"), back);
  EXPECT_TRUE(back.is_fitted());
  EXPECT_FALSE(back.params().with_std);
  expect_identical(back.transform(wine.X), scaler.transform(wine.X));
  EXPECT_EQ(back.n_samples_seen_(), scaler.n_samples_seen_());
}

TEST(ClassicSave, LinearModelsRoundTrip) {
  kiln::test::TempDir dir("kiln-classic-linear");
  auto diabetes = kiln::testing::load_dataset("diabetes");
  classic::Ridge ridge({.alpha = 0.5});
  ridge.fit(diabetes.X, diabetes.y);
  classic::save(dir.file("r.h5"), ridge);
  classic::Ridge back;
  classic::load(dir.file("r.h5"), back);
  EXPECT_EQ(back.params().alpha, 0.5);
  expect_identical(back.predict(diabetes.X), ridge.predict(diabetes.X));
  classic::LinearRegression lr;
  EXPECT_CONTAINS(error_of([&] { classic::load(dir.file("r.h5"), lr); }),
                  "holds a fitted Ridge, not a LinearRegression");
}

TEST(ClassicSave, LogisticRegressionRoundTripsInEveryMode) {
  kiln::test::TempDir dir("kiln-classic-logistic");
  auto iris = kiln::testing::load_dataset("iris");
  for (const char* mode : {"multinomial", "ovr"}) {
    SCOPED_TRACE(mode);
    classic::LogisticRegression model({.C = 0.7, .max_iter = 300, .multi_class = mode});
    model.fit(iris.X, iris.y);
    classic::save(dir.file("l.h5"), model);
    classic::LogisticRegression back;
    classic::load(dir.file("l.h5"), back);
    EXPECT_EQ(back.params().multi_class, mode);
    EXPECT_EQ(back.params().C, 0.7);
    expect_identical(back.predict_proba(iris.X), model.predict_proba(iris.X));
    expect_identical(back.predict(iris.X), model.predict(iris.X));
    expect_identical(back.classes(), model.classes());
  }
  // Binary.
  Tensor y2 = (iris.y > 0.5).to(kiln::DType::i64);
  classic::LogisticRegression binary;
  binary.fit(iris.X, y2);
  classic::save(dir.file("b.h5"), binary);
  classic::LogisticRegression back;
  classic::load(dir.file("b.h5"), back);
  expect_identical(back.decision_function(iris.X), binary.decision_function(iris.X));
}

TEST(ClassicSave, RefusalsNameTheProblem) {
  kiln::test::TempDir dir("kiln-classic-errors");
  auto iris = kiln::testing::load_dataset("iris");
  classic::StandardScaler unfitted;
  EXPECT_CONTAINS(error_of([&] { classic::save(dir.file("u.h5"), unfitted); }),
                  "cannot save an unfitted StandardScaler");
  classic::GaussianNB nb;
  nb.fit(iris.X, iris.y);
  EXPECT_CONTAINS(error_of([&] { classic::save(dir.file("nb.h5"), nb); }),
                  "saving a fitted GaussianNB is not supported yet");
  classic::StandardScaler scaler;
  scaler.fit(iris.X);
  classic::save(dir.file("s.h5"), scaler);
  // Damage the stored mean: its checksum fails.
  std::fstream f(dir.file("s.h5"), std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  double mean0 = scaler.mean_().to_vector<double>()[0];
  char pattern[8];
  std::memcpy(pattern, &mean0, 8);
  const auto at = bytes.find(std::string(pattern, 8));
  ASSERT_NE(at, std::string::npos);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(bytes[at] ^ 1));
  f.close();
  classic::StandardScaler back;
  EXPECT_CONTAINS(error_of([&] { classic::load(dir.file("s.h5"), back); }), "fails its checksum");
  EXPECT_FALSE(back.is_fitted());
  // Weights are not an estimator.
  kiln::nn::io::save_weights(dir.file("w.h5"), kiln::nn::Linear(2, 2));
  EXPECT_CONTAINS(error_of([&] { classic::load(dir.file("w.h5"), back); }), "holds 'weights', not estimator");
}

}  // namespace
