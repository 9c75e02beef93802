// Tests of classic/pipeline.h and classic/column_transformer.h: every statistic is fitted on the training
// rows only (the leakage tests check a scaler's fitted mean inside a pipeline, and inside a column
// transformer inside a pipeline), resamplers run at fit time only, "step__param" names reach any step,
// clones are unfitted and independent, and every error path names the pipeline step.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/helpers.h"

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;

namespace {

// A nearest-centroid classifier that records what fit() and predict() received.
class RecordingClassifier : public Classifier {
 public:
  struct Params {
    double shrink = 0.0;  // a dummy parameter for get/set_params
  };
  RecordingClassifier() = default;
  explicit RecordingClassifier(Params p) : params_(p) {}
  std::string name() const override { return "RecordingClassifier"; }
  ParamMap get_params() const override { return {{"shrink", params_.shrink}}; }
  void set_params(const ParamMap& p) override {
    for (const auto& [k, v] : p) {
      KILN_CHECK(k == "shrink", "RecordingClassifier.set_params: unknown parameter '", k, "'");
      params_.shrink = std::get<double>(v);
    }
  }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<RecordingClassifier>(params_); }
  bool is_fitted() const override { return !classes_.empty(); }
  RecordingClassifier& fit(const Tensor& X, const Tensor& y, const Tensor& sw = {}) override {
    fit_X = X;
    fit_y = y;
    fit_sw = sw;
    std::vector<double> x = X.to_vector<double>();
    std::vector<int64_t> lab = y.to_vector<int64_t>();
    const int64_t d = X.size(1);
    classes_.clear();
    for (int64_t l : lab)
      if (std::find(classes_.begin(), classes_.end(), l) == classes_.end()) classes_.push_back(l);
    std::sort(classes_.begin(), classes_.end());
    centroids_.assign(classes_.size() * d, 0.0);
    std::vector<double> n(classes_.size());
    for (size_t i = 0; i < lab.size(); ++i) {
      size_t c = std::find(classes_.begin(), classes_.end(), lab[i]) - classes_.begin();
      n[c] += 1;
      for (int64_t f = 0; f < d; ++f) centroids_[c * d + f] += x[i * d + f];
    }
    for (size_t c = 0; c < classes_.size(); ++c)
      for (int64_t f = 0; f < d; ++f) centroids_[c * d + f] /= n[c];
    return *this;
  }
  Tensor predict(const Tensor& X) const override {
    predict_X = X;
    std::vector<double> x = X.to_vector<double>();
    const int64_t d = X.size(1);
    std::vector<int64_t> out;
    for (int64_t i = 0; i < X.size(0); ++i) {
      double best = INFINITY;
      int64_t arg = 0;
      for (size_t c = 0; c < classes_.size(); ++c) {
        double s = 0;
        for (int64_t f = 0; f < d; ++f) s += std::pow(x[i * d + f] - centroids_[c * d + f], 2);
        if (s < best) best = s, arg = classes_[c];
      }
      out.push_back(arg);
    }
    return from_vector(out);
  }
  Tensor predict_proba(const Tensor& X) const override {
    Tensor p = predict(X);
    std::vector<double> out;
    for (int64_t l : p.to_vector<int64_t>())
      for (int64_t c : classes_) out.push_back(c == l ? 1.0 : 0.0);
    return from_vector(out, Shape{X.size(0), static_cast<int64_t>(classes_.size())});
  }
  Tensor classes() const override { return from_vector(classes_); }
  double score(const Tensor& X, const Tensor& y) const override { return accuracy_score(y, predict(X)); }

  Tensor fit_X, fit_y, fit_sw;
  mutable Tensor predict_X;

 private:
  Params params_;
  std::vector<int64_t> classes_;
  std::vector<double> centroids_;
};

// Predicts the training mean.
class MeanRegressor : public Regressor {
 public:
  std::string name() const override { return "MeanRegressor"; }
  ParamMap get_params() const override { return {}; }
  void set_params(const ParamMap&) override {}
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<MeanRegressor>(); }
  bool is_fitted() const override { return fitted_; }
  MeanRegressor& fit(const Tensor&, const Tensor& y, const Tensor& = {}) override {
    auto v = y.to_vector<double>();
    mean_ = 0;
    for (double x : v) mean_ += x / static_cast<double>(v.size());
    fitted_ = true;
    return *this;
  }
  Tensor predict(const Tensor& X) const override {
    return from_vector(std::vector<double>(static_cast<size_t>(X.size(0)), mean_));
  }
  double score(const Tensor& X, const Tensor& y) const override { return r2_score(y, predict(X)); }

 private:
  double mean_ = 0;
  bool fitted_ = false;
};

// Training rows around 0, test rows around 1000: any leak of test rows into a fitted mean shows.
struct TrainTest {
  Tensor X_train, y_train, X_test, y_test;
};
TrainTest make_split() {
  std::vector<double> tr, te;
  std::vector<int64_t> ytr, yte;
  for (int i = 0; i < 40; ++i) {
    int64_t label = i % 4 == 0 ? 1 : 0;  // imbalanced 10 : 30
    tr.push_back(i * 0.1 + label * 2.0);
    tr.push_back(std::sin(i) + label);
    ytr.push_back(label);
  }
  for (int i = 0; i < 10; ++i) {
    te.push_back(1000.0 + i);
    te.push_back(-500.0 + i);
    yte.push_back(i % 2);
  }
  return {from_vector(tr, Shape{40, 2}), from_vector(ytr), from_vector(te, Shape{10, 2}), from_vector(yte)};
}

std::vector<double> column_means(const Tensor& X) {
  std::vector<double> x = X.to_vector<double>(), m(static_cast<size_t>(X.size(1)));
  for (int64_t r = 0; r < X.size(0); ++r)
    for (int64_t c = 0; c < X.size(1); ++c) m[c] += x[r * X.size(1) + c] / static_cast<double>(X.size(0));
  return m;
}

}  // namespace

TEST(ClassicPipeline, ScalerSeesOnlyTrainingRows) {
  TrainTest s = make_split();
  Pipeline pipe;
  pipe.add("scale", StandardScaler()).add("clf", RecordingClassifier());
  pipe.fit(s.X_train, s.y_train);
  std::vector<double> fitted = pipe.get<StandardScaler>("scale").mean_().to_vector<double>();
  std::vector<double> want = column_means(s.X_train);
  ASSERT_EQ(fitted.size(), 2u);
  EXPECT_NEAR(fitted[0], want[0], 1e-12);
  EXPECT_NEAR(fitted[1], want[1], 1e-12);
  auto& clf = pipe.get<RecordingClassifier>("clf");
  EXPECT_EQ(clf.fit_X.size(0), 40);
  for (double m : column_means(clf.fit_X)) EXPECT_NEAR(m, 0.0, 1e-12);  // standardized training rows
  // Predicting transforms the test rows with the training statistics.
  pipe.predict(s.X_test);
  std::vector<double> seen = clf.predict_X.to_vector<double>();
  StandardScaler alone;
  alone.fit(s.X_train);
  EXPECT_EQ(seen, alone.transform(s.X_test).to_vector<double>());
  EXPECT_EQ(pipe.predict_proba(s.X_test).shape(), (Shape{10, 2}));
  EXPECT_EQ(pipe.classes().to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  EXPECT_DOUBLE_EQ(pipe.score(s.X_test, s.y_test), accuracy_score(s.y_test, pipe.predict(s.X_test)));
}

TEST(ClassicPipeline, ResamplersRunOnTrainingRowsOnly) {
  TrainTest s = make_split();
  Pipeline pipe;
  pipe.add("scale", StandardScaler())
      .add("under", RandomUnderSampler({.random_state = 3}))
      .add("clf", RecordingClassifier());
  pipe.fit(s.X_train, s.y_train);
  auto& clf = pipe.get<RecordingClassifier>("clf");
  std::vector<int64_t> y = clf.fit_y.to_vector<int64_t>();
  EXPECT_EQ(y.size(), 20u);  // 10 of each class
  EXPECT_EQ(std::count(y.begin(), y.end(), 1), 10);
  // The scaler was fitted before resampling, on all 40 training rows.
  EXPECT_NEAR(pipe.get<StandardScaler>("scale").mean_().to_vector<double>()[0], column_means(s.X_train)[0],
              1e-12);
  pipe.predict(s.X_test);
  EXPECT_EQ(clf.predict_X.size(0), 10);  // nothing resampled at predict time

  Pipeline smote;
  smote.add("smote", SMOTE({.k_neighbors = 3, .random_state = 1})).add("clf", RecordingClassifier());
  smote.fit(s.X_train, s.y_train);
  std::vector<int64_t> ys = smote.get<RecordingClassifier>("clf").fit_y.to_vector<int64_t>();
  EXPECT_EQ(ys.size(), 60u);  // minority over-sampled to 30
  EXPECT_EQ(std::count(ys.begin(), ys.end(), 1), 30);
  smote.predict(s.X_test);
  EXPECT_EQ(smote.get<RecordingClassifier>("clf").predict_X.size(0), 10);
}

TEST(ClassicPipeline, ParamsByStepName) {
  Pipeline pipe;
  pipe.add("poly", PolynomialFeatures()).add("smote", SMOTE()).add("clf", RecordingClassifier());
  ParamMap p = pipe.get_params();
  EXPECT_EQ(std::get<int64_t>(p.at("poly__degree")), 2);
  EXPECT_EQ(std::get<int64_t>(p.at("smote__k_neighbors")), 5);
  EXPECT_EQ(std::get<double>(p.at("clf__shrink")), 0.0);
  pipe.set_params({{"poly__degree", int64_t{3}}, {"smote__k_neighbors", int64_t{2}}, {"clf__shrink", 0.5}});
  EXPECT_EQ(pipe.get<PolynomialFeatures>("poly").params().degree, 3);
  EXPECT_EQ(pipe.get<SMOTE>("smote").params().k_neighbors, 2);
  EXPECT_EQ(std::get<double>(pipe.get_params().at("clf__shrink")), 0.5);
  EXPECT_CONTAINS(error_of([&] {
                    pipe.set_params({{"scale__with_mean", true}});
                  }),
                  "Pipeline: no step named 'scale'; steps are poly, smote, clf");
  EXPECT_CONTAINS(error_of([&] {
                    pipe.set_params({{"degree", int64_t{2}}});
                  }),
                  "Pipeline.set_params: unknown parameter 'degree'; parameters are named '<step>__<param>'");
  EXPECT_CONTAINS(error_of([&] {
                    pipe.set_params({{"poly__power", int64_t{2}}});
                  }),
                  "PolynomialFeatures.set_params: unknown parameter 'power'");
}

TEST(ClassicPipeline, CloneIsUnfittedAndIndependent) {
  TrainTest s = make_split();
  Pipeline pipe;
  pipe.add("scale", StandardScaler({.with_std = false})).add("clf", RecordingClassifier());
  pipe.fit(s.X_train, s.y_train);
  std::unique_ptr<Estimator> copy = pipe.clone();
  auto& cp = dynamic_cast<Pipeline&>(*copy);
  EXPECT_FALSE(cp.is_fitted());
  EXPECT_FALSE(cp.named_step("scale").is_fitted());
  EXPECT_EQ(std::get<bool>(cp.get_params().at("scale__with_std")), false);
  cp.set_params({{"scale__with_std", true}});
  EXPECT_EQ(std::get<bool>(pipe.get_params().at("scale__with_std")), false);
  EXPECT_TRUE(pipe.is_fitted());
  // A manual grid search over a pipeline: clone, set a step's parameter, fit, score.
  double best = -1;
  for (int64_t degree : {1, 2}) {
    Pipeline candidate;
    candidate.add("poly", PolynomialFeatures()).add("clf", RecordingClassifier());
    auto trial = candidate.clone();
    auto& t = dynamic_cast<Pipeline&>(*trial);
    t.set_params({{"poly__degree", degree}});
    t.fit(s.X_train, s.y_train);
    best = std::max(best, t.score(s.X_train, s.y_train));
  }
  EXPECT_GT(best, 0.5);
}

TEST(ClassicPipeline, TransformOnlyAndRegressorPipelines) {
  Tensor X = from_vector(std::vector<double>{1, NAN, 3, 4, NAN, 8, 2, 2}, Shape{4, 2});
  Pipeline prep;
  prep.add("impute", SimpleImputer({.strategy = "median"})).add("scale", MinMaxScaler());
  Tensor out = prep.fit_transform(X);
  SimpleImputer imp({.strategy = "median"});
  MinMaxScaler mm;
  EXPECT_EQ(out.to_vector<double>(), mm.fit_transform(imp.fit_transform(X)).to_vector<double>());
  EXPECT_CONTAINS(error_of([&] { prep.predict(X); }),
                  "Pipeline.predict: the final step 'scale' (MinMaxScaler) is not a Predictor");

  Pipeline reg;
  reg.add("impute", SimpleImputer()).add("mean", MeanRegressor());
  Tensor y = from_vector(std::vector<double>{1, 2, 3, 6});
  reg.fit(X, y);
  EXPECT_EQ(reg.predict(X).to_vector<double>(), (std::vector<double>{3, 3, 3, 3}));
  EXPECT_DOUBLE_EQ(reg.score(X, y), 0.0);
  EXPECT_TRUE(is_regressor(reg));
  EXPECT_FALSE(is_classifier(reg));
  EXPECT_FALSE(is_classifier(prep));
  EXPECT_FALSE(is_regressor(prep));
  Pipeline clf;
  clf.add("impute", SimpleImputer()).add("clf", RecordingClassifier());
  EXPECT_TRUE(is_classifier(clf));
  EXPECT_FALSE(is_regressor(clf));
  EXPECT_TRUE(is_classifier(RecordingClassifier()));
  EXPECT_TRUE(is_regressor(MeanRegressor()));
  EXPECT_FALSE(is_classifier(StandardScaler()));
  EXPECT_CONTAINS(error_of([&] { reg.predict_proba(X); }),
                  "the final step 'mean' (MeanRegressor) is not a Classifier");
  EXPECT_CONTAINS(error_of([&] { reg.transform(X); }), "is not a Transformer");
}

TEST(ClassicPipeline, SampleWeightReachesTheFinalStep) {
  TrainTest s = make_split();
  Pipeline pipe;
  pipe.add("scale", StandardScaler()).add("clf", RecordingClassifier());
  Tensor w = compute_sample_weight("balanced", s.y_train);
  pipe.fit(s.X_train, s.y_train, w);
  EXPECT_EQ(pipe.get<RecordingClassifier>("clf").fit_sw.to_vector<double>(), w.to_vector<double>());
  Pipeline with_resampler;
  with_resampler.add("under", RandomUnderSampler()).add("clf", RecordingClassifier());
  EXPECT_CONTAINS(error_of([&] { with_resampler.fit(s.X_train, s.y_train, w); }),
                  "sample_weight cannot be combined with the resampler step 'under'");
}

TEST(ClassicPipeline, Errors) {
  TrainTest s = make_split();
  EXPECT_CONTAINS(error_of([&] { Pipeline().fit(s.X_train, s.y_train); }),
                  "Pipeline.fit: the pipeline has no steps");
  Pipeline p;
  p.add("scale", StandardScaler());
  EXPECT_CONTAINS(error_of([&] { p.add("scale", MinMaxScaler()); }), "duplicate step name 'scale'");
  EXPECT_CONTAINS(error_of([&] { p.add("a__b", MinMaxScaler()); }), "contains '__'");
  EXPECT_CONTAINS(error_of([&] { p.add("", MinMaxScaler()); }), "a step name is empty");
  EXPECT_CONTAINS(error_of([&] { p.add("null", std::unique_ptr<Estimator>()); }), "step 'null' is null");
  EXPECT_CONTAINS(error_of([&] { p.transform(s.X_train); }),
                  "Pipeline.transform: this estimator is not fitted yet");
  Pipeline bad;
  bad.add("clf", RecordingClassifier()).add("scale", StandardScaler());
  EXPECT_CONTAINS(error_of([&] { bad.fit(s.X_train, s.y_train); }),
                  "step 'clf' (RecordingClassifier) is neither a Transformer nor a Resampler");
  Pipeline last_resampler;
  last_resampler.add("smote", SMOTE());
  EXPECT_CONTAINS(error_of([&] { last_resampler.fit(s.X_train, s.y_train); }),
                  "the final step 'smote' (SMOTE) must be a Predictor or a Transformer");
  Pipeline no_y;
  no_y.add("clf", RecordingClassifier());
  EXPECT_CONTAINS(error_of([&] { no_y.fit(s.X_train); }), "is a Predictor and needs y");
  EXPECT_CONTAINS(error_of([&] { p.get<MinMaxScaler>("scale"); }), "step 'scale' is a StandardScaler");
  // A failing step leaves the pipeline unfitted.
  Pipeline fails;
  fails.add("scale", StandardScaler()).add("clf", RecordingClassifier());
  EXPECT_THROW(fails.fit(from_vector(std::vector<double>{1, 2}), s.y_train), kiln::Error);
  EXPECT_FALSE(fails.is_fitted());
}

TEST(ClassicColumnTransformer, LayoutAndRemainder) {
  // Columns: 0 numeric, 1 categorical code, 2 numeric, 3 untouched.
  Tensor X = from_vector(std::vector<double>{1, 5, 10, 100, 2, 6, 20, 200, 3, 5, 30, 300}, Shape{3, 4});
  ColumnTransformer ct({.remainder = "passthrough"});
  ct.add("cat", OneHotEncoder(), {1}).add("num", MinMaxScaler(), {2, 0});
  Tensor out = ct.fit_transform(X);
  ASSERT_EQ(out.shape(), (Shape{3, 5}));
  std::vector<double> want{1, 0, 0, 0, 100, 0, 1, 0.5, 0.5, 200, 1, 0, 1, 1, 300},
      got = out.to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15) << i;
  auto idx = ct.output_indices_();
  ASSERT_EQ(idx.size(), 3u);
  EXPECT_EQ(idx[0].first, "cat");
  EXPECT_EQ(idx[0].second, (std::pair<int64_t, int64_t>{0, 2}));
  EXPECT_EQ(idx[1].second, (std::pair<int64_t, int64_t>{2, 4}));
  EXPECT_EQ(idx[2].first, "remainder");
  ct.set_params({{"remainder", std::string("drop")}, {"num__feature_max", 2.0}});
  EXPECT_EQ(ct.fit_transform(X).shape(), (Shape{3, 4}));
  EXPECT_EQ(std::get<double>(ct.get_params().at("num__feature_max")), 2.0);
  auto copy = ct.clone();
  EXPECT_FALSE(copy->is_fitted());
  EXPECT_EQ(std::get<std::string>(copy->get_params().at("remainder")), "drop");
}

TEST(ClassicColumnTransformer, InsidePipelineFitsOnTrainingRowsOnly) {
  TrainTest s = make_split();
  ColumnTransformer ct;
  ct.add("scale", StandardScaler(), {1});
  Pipeline pipe;
  pipe.add("columns", std::move(ct)).add("clf", RecordingClassifier());
  pipe.set_params({{"columns__scale__with_std", false}});
  pipe.fit(s.X_train, s.y_train);
  auto& fitted =
      dynamic_cast<StandardScaler&>(pipe.get<ColumnTransformer>("columns").named_transformer("scale"));
  EXPECT_NEAR(fitted.mean_().to_vector<double>()[0], column_means(s.X_train)[1], 1e-12);
  EXPECT_FALSE(fitted.params().with_std);
  pipe.predict(s.X_test);
  EXPECT_EQ(pipe.get<RecordingClassifier>("clf").predict_X.shape(), (Shape{10, 1}));
}

TEST(ClassicColumnTransformer, Errors) {
  Tensor X = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{3, 2});
  ColumnTransformer ct;
  EXPECT_CONTAINS(error_of([&] { ct.fit(X); }), "ColumnTransformer.fit: no transformers were added");
  ct.add("a", StandardScaler(), {0, 5});
  EXPECT_CONTAINS(error_of([&] { ct.fit(X); }),
                  "ColumnTransformer.fit: transformer 'a' names column 5 but X has 2 columns");
  EXPECT_CONTAINS(error_of([&] { ct.add("a", StandardScaler(), {0}); }), "duplicate name 'a'");
  EXPECT_CONTAINS(error_of([&] { ct.add("b", StandardScaler(), {}); }), "transformer 'b' has no columns");
  EXPECT_CONTAINS(error_of([&] { ct.add("c", StandardScaler(), {-1}); }), "transformer 'c' has column -1");
  EXPECT_CONTAINS(error_of([&] { ct.add("remainder", StandardScaler(), {0}); }), "invalid transformer name");
  EXPECT_CONTAINS(error_of([&] { ct.transform(X); }),
                  "ColumnTransformer.transform: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] {
                    ct.set_params({{"zz__with_mean", true}});
                  }),
                  "ColumnTransformer: no transformer named 'zz'; transformers are a");
  ColumnTransformer ok({.remainder = "keep"});
  ok.add("a", StandardScaler(), {0});
  EXPECT_CONTAINS(error_of([&] { ok.fit(X); }), "remainder must be 'drop' or 'passthrough', got 'keep'");
  ok.set_params({{"remainder", std::string("passthrough")}});
  ok.fit(X);
  EXPECT_CONTAINS(error_of([&] {
                    ok.transform(from_vector(std::vector<double>{1, 2, 3}, Shape{1, 3}));
                  }),
                  "ColumnTransformer.transform: X has 3 columns, but the transformer was fitted on 2");
}
