// The epoch metrics equal scikit-learn's definitions as classic:: computes them, whatever the batching,
// and their states combine across ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "support/helpers.h"

using namespace kiln;
namespace T = kiln::nn::train;
using kiln::testing::error_of;

namespace {

// Feeds (output, target) to the metric in uneven batches of 17 and returns its value.
double batched(T::Metric& m, const Tensor& output, const Tensor& target) {
  m.reset();
  const int64_t n = output.size(0);
  for (int64_t s = 0; s < n; s += 17) {
    const int64_t len = std::min<int64_t>(17, n - s);
    m.update(output.narrow(0, s, len), target.narrow(0, s, len));
  }
  return m.compute();
}

struct Classification {
  Tensor logits, labels, pred;
};
Classification multiclass(int64_t n, int64_t k, uint64_t seed) {
  manual_seed(seed);
  Classification c;
  c.labels = randint(0, k, {n});
  // Informative scores: the right class gets a boost most of the time.
  c.logits = randn({n, k}) + one_hot(c.labels, k).to(DType::f32) * 1.5;
  c.pred = c.logits.argmax(1);
  return c;
}

}  // namespace

TEST(TrainMetrics, AccuracyAndPrfEqualClassic) {
  auto c = multiclass(203, 5, 1);
  T::Accuracy acc;
  EXPECT_DOUBLE_EQ(batched(acc, c.logits, c.labels), classic::accuracy_score(c.labels, c.pred));
  for (const char* avg : {"macro", "weighted", "micro"}) {
    classic::PrfOptions po{.average = avg};
    T::PrecisionRecallF1 p(T::PrfKind::precision, {.average = avg}), r(T::PrfKind::recall, {.average = avg}),
        f(T::PrfKind::f1, {.average = avg});
    EXPECT_DOUBLE_EQ(batched(p, c.logits, c.labels), classic::precision_score(c.labels, c.pred, po)) << avg;
    EXPECT_DOUBLE_EQ(batched(r, c.logits, c.labels), classic::recall_score(c.labels, c.pred, po)) << avg;
    EXPECT_DOUBLE_EQ(batched(f, c.logits, c.labels), classic::f1_score(c.labels, c.pred, po)) << avg;
  }
  // By name, as FitOptions::metrics takes them.
  EXPECT_EQ(T::make_metric("f1_macro")->name(), "f1_macro");
  EXPECT_DOUBLE_EQ(batched(*T::make_metric("recall_weighted"), c.logits, c.labels),
                   classic::recall_score(c.labels, c.pred, {.average = "weighted"}));
}

TEST(TrainMetrics, AClassAbsentFromLabelsAndPredictionsIsLeftOutAsInScikitLearn) {
  // Class 3 of 4 never occurs: macro averages over the 3 present classes, as classic does.
  Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 0});
  Tensor logits = one_hot(from_vector(std::vector<int64_t>{0, 1, 1, 0, 2, 2, 0, 1}), 4).to(DType::f32);
  Tensor pred = logits.argmax(1);
  T::PrecisionRecallF1 f(T::PrfKind::f1, {.average = "macro"});
  EXPECT_DOUBLE_EQ(batched(f, logits, labels), classic::f1_score(labels, pred, {.average = "macro"}));
}

TEST(TrainMetrics, BinaryScoresThresholdLogitsOrProbabilities) {
  manual_seed(2);
  Tensor y = randint(0, 2, {150});
  Tensor logit = randn({150}) + y.to(DType::f32) * 1.2 - 0.6;
  Tensor pred = (logit > 0.0).to(DType::i64);
  T::Accuracy acc;
  EXPECT_DOUBLE_EQ(batched(acc, logit, y), classic::accuracy_score(y, pred));
  T::Accuracy prob_acc(/*from_logits=*/false);
  EXPECT_DOUBLE_EQ(batched(prob_acc, logit.sigmoid(), y), classic::accuracy_score(y, pred));
  for (auto [name, fn] :
       {std::pair<const char*, double (*)(const Tensor&, const Tensor&, const classic::PrfOptions&)>{
            "precision", classic::precision_score},
        {"recall", classic::recall_score},
        {"f1", classic::f1_score}}) {
    EXPECT_DOUBLE_EQ(batched(*T::make_metric(name), logit.unsqueeze(1), y), fn(y, pred, {})) << name;
  }
  T::RocAuc auc;
  EXPECT_DOUBLE_EQ(batched(auc, logit, y), classic::roc_auc_score(y, logit.to(DType::f64)));
  // (N, 2) class scores: the softmax probability of class 1 ranks like the logit difference.
  Tensor two = stack({zeros({150}), logit}, 1);
  EXPECT_NEAR(batched(auc, two, y), classic::roc_auc_score(y, logit.to(DType::f64)), 1e-12);
}

TEST(TrainMetrics, TopKAccuracyCountsLabelsAmongTheKHighestScores) {
  auto c = multiclass(120, 6, 3);
  auto scores = c.logits.to_vector<float>();
  auto labels = c.labels.to_vector<int64_t>();
  for (int64_t k : {1, 2, 3}) {
    int64_t hits = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      const float own = scores[i * 6 + static_cast<size_t>(labels[i])];
      int higher = 0;
      for (size_t j = 0; j < 6; ++j) higher += scores[i * 6 + j] > own;
      hits += higher < k;
    }
    T::TopKAccuracy m(k);
    EXPECT_DOUBLE_EQ(batched(m, c.logits, c.labels), static_cast<double>(hits) / 120.0) << k;
  }
  T::TopKAccuracy top1(1);
  EXPECT_DOUBLE_EQ(batched(top1, c.logits, c.labels), classic::accuracy_score(c.labels, c.pred));
  // Ties at the k-th score count for the label (both tied classes are "in the top 1").
  T::TopKAccuracy tie(1);
  tie.update(from_vector(std::vector<float>{1, 2, 2, 5, 5, 0}, Shape{2, 3}),
             from_vector(std::vector<int64_t>{1, 1}));
  EXPECT_DOUBLE_EQ(tie.compute(), 1.0);
  EXPECT_EQ(T::make_metric("top_3_accuracy")->name(), "top_3_accuracy");
}

TEST(TrainMetrics, RegressionMetricsEqualClassic) {
  manual_seed(4);
  for (Shape shape : {Shape{90}, Shape{90, 1}, Shape{90, 3}}) {
    Tensor y = randn(shape) * 2.0 + 1.0;
    Tensor p = y + randn(shape) * 0.5;
    Tensor yd = y.to(DType::f64), pd = p.to(DType::f64);
    T::RegressionMetric mae(T::RegressionKind::mae), mse(T::RegressionKind::mse), r2(T::RegressionKind::r2);
    EXPECT_NEAR(batched(mae, p, y), classic::mean_absolute_error(yd, pd), 1e-12);
    EXPECT_NEAR(batched(mse, p, y), classic::mean_squared_error(yd, pd), 1e-12);
    EXPECT_NEAR(batched(r2, p, y), classic::r2_score(yd, pd), 1e-10);
  }
}

TEST(TrainMetrics, MeanWeighsBatchesBySize) {
  T::Mean m("loss");
  m.update(scalar_tensor(1.0), 10);
  m.update(scalar_tensor(4.0), 30);
  EXPECT_DOUBLE_EQ(m.compute(), (10.0 + 120.0) / 40.0);
  m.reset();
  EXPECT_TRUE(std::isnan(m.compute()));
}

// Two "ranks" each see half the batches; summing (and concatenating) their states gives the value of
// one metric over everything.
TEST(TrainMetrics, StatesCombineAcrossRanks) {
  auto c = multiclass(100, 3, 5);
  for (std::string name : {"accuracy", "f1_macro", "mse"}) {
    auto whole = T::make_metric(name), a = T::make_metric(name), b = T::make_metric(name);
    Tensor out = name == "mse" ? c.logits.select(1, 0) : c.logits;
    Tensor tgt = name == "mse" ? c.logits.select(1, 1) : c.labels;
    whole->update(out, tgt);
    a->update(out.narrow(0, 0, 60), tgt.narrow(0, 0, 60));
    b->update(out.narrow(0, 60, 40), tgt.narrow(0, 60, 40));
    auto sa = a->states(), sb = b->states();
    for (size_t i = 0; i < sa.size(); ++i) sa[i].tensor->add_(*sb[i].tensor);
    EXPECT_NEAR(a->compute(), whole->compute(), 1e-12) << name;
  }
  T::RocAuc whole, a, b;
  Tensor s = c.logits.select(1, 1), y = (c.labels == scalar_tensor(1, {.dtype = DType::i64})).to(DType::i64);
  whole.update(s, y);
  a.update(s.narrow(0, 0, 30), y.narrow(0, 0, 30));
  b.update(s.narrow(0, 30, 70), y.narrow(0, 30, 70));
  auto sa = a.states(), sb = b.states();
  for (size_t i = 0; i < sa.size(); ++i) *sa[i].tensor = cat({*sa[i].tensor, *sb[i].tensor}, 0);
  EXPECT_DOUBLE_EQ(a.compute(), whole.compute());
}

TEST(TrainMetrics, BadInputIsAnErrorNamingTheMetric) {
  EXPECT_CONTAINS(error_of([] { T::make_metric("accuracyy"); }), "unknown metric 'accuracyy'");
  EXPECT_CONTAINS(error_of([] { T::make_metric("accuracyy"); }), "f1_macro");
  T::Accuracy acc;
  EXPECT_CONTAINS(error_of([&] {
                    acc.update(randn({4, 3}), randint(0, 3, {5}));
                  }),
                  "accuracy: output [4, 3]");
  T::PrecisionRecallF1 f(T::PrfKind::f1);
  EXPECT_CONTAINS(error_of([&] {
                    f.update(randn({4, 3}), from_vector(std::vector<int64_t>{0, 1, 7, 2}));
                  }),
                  "labels must lie in [0, 3)");
  EXPECT_CONTAINS(error_of([] { T::PrecisionRecallF1 bad(T::PrfKind::recall, {.average = "samples"}); }),
                  "average must be");
  T::RocAuc auc;
  EXPECT_CONTAINS(error_of([&] { auc.update(randn({4, 3}), randint(0, 2, {4})); }), "binary ROC-AUC");
  T::RegressionMetric r2(T::RegressionKind::r2);
  EXPECT_CONTAINS(error_of([&] { r2.update(randn({4, 2}), randn({4, 3})); }), "same shape");
  EXPECT_CONTAINS(error_of([] { T::TopKAccuracy bad(0); }), "k must be >= 1");
}
