// Tests of classic/metrics.h against scikit-learn 1.2.1 (tests/fixtures/sklearn_metrics.txt, written by
// tests/gen_sklearn_metrics.py): every metric to 1e-9 on fixed predictions from real data sets and on edge
// cases, classification_report's text exactly; plus the error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/fixture.h"
#include "support/helpers.h"

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;

namespace {

const std::vector<kiln::test::FixtureCase>& cases() {
  static const auto c = kiln::test::read_fixture_file(KILN_FIXTURES_DIR "/sklearn_metrics.txt");
  return c;
}

std::vector<const kiln::test::FixtureCase*> cases_with_prefix(const std::string& prefix) {
  std::vector<const kiln::test::FixtureCase*> out;
  for (const auto& c : cases())
    if (c.name.rfind(prefix, 0) == 0) out.push_back(&c);
  return out;
}

bool close(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(got - want) <= tol * std::max(1.0, std::abs(want));
}

void expect_scalar(double got, const kiln::test::FixtureCase& c, const std::string& label,
                   double tol = 1e-9) {
  double want = c.get(label).values.at(0);
  EXPECT_TRUE(close(got, want, tol)) << c.name << " " << label << ": got " << got << ", want " << want;
}

void expect_tensor(const Tensor& got, const kiln::test::FixtureCase& c, const std::string& label,
                   double tol = 1e-9) {
  const auto& want = c.get(label);
  ASSERT_EQ(got.shape(), want.shape) << c.name << " " << label;
  std::vector<double> g = got.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    EXPECT_TRUE(close(g[i], want.values[i], tol))
        << c.name << " " << label << "[" << i << "]: got " << g[i] << ", want " << want.values[i];
}

std::string text(const kiln::test::FixtureCase& c, const std::string& label) {
  std::string s;
  for (double v : c.get(label).values) s += static_cast<char>(v);
  return s;
}

std::vector<int64_t> ints(const kiln::test::FixtureCase& c, const std::string& label) {
  std::vector<int64_t> v;
  for (double x : c.get(label).values) v.push_back(static_cast<int64_t>(x));
  return v;
}

Tensor sw_of(const kiln::test::FixtureCase& c) { return c.has("sw") ? c.tensor("sw") : Tensor(); }

const std::map<std::string, std::vector<std::string>> kTargetNames = {
    {"clf_breast_cancer", {"malignant", "benign"}},
    {"clf_iris", {"setosa", "versicolor", "virginica"}},
    {"clf_odd_labels", {"neg", "five", "ten"}}};

}  // namespace

TEST(ClassicMetrics, FixtureHasEveryKind) {
  EXPECT_GE(cases_with_prefix("clf_").size(), 8u);
  EXPECT_GE(cases_with_prefix("bin_").size(), 8u);
  EXPECT_GE(cases_with_prefix("multi_").size(), 5u);
  EXPECT_GE(cases_with_prefix("reg_").size(), 5u);
}

TEST(ClassicMetrics, ClassificationMatchesSklearn) {
  for (const auto* cp : cases_with_prefix("clf_")) {
    const auto& c = *cp;
    SCOPED_TRACE(c.name);
    Tensor yt = c.tensor("y_true"), yp = c.tensor("y_pred"), sw = sw_of(c);
    expect_scalar(accuracy_score(yt, yp, true, sw), c, "accuracy");
    expect_scalar(accuracy_score(yt, yp, false, sw), c, "accuracy_count");
    expect_scalar(balanced_accuracy_score(yt, yp, false, sw), c, "balanced_accuracy");
    expect_scalar(balanced_accuracy_score(yt, yp, true, sw), c, "balanced_accuracy_adj");
    std::vector<int64_t> labels = ints(c, "subset_labels");
    for (std::string avg : {"micro", "macro", "weighted", "binary"}) {
      for (int zd : {0, 1}) {
        std::string tag = avg + "_zd" + std::to_string(zd);
        if (!c.has("precision_" + tag)) continue;
        PrfOptions o{.average = avg, .zero_division = static_cast<double>(zd), .sample_weight = sw};
        if (avg == "binary") o.pos_label = *std::max_element(labels.begin(), labels.end() - 1);
        expect_scalar(precision_score(yt, yp, o), c, "precision_" + tag);
        expect_scalar(recall_score(yt, yp, o), c, "recall_" + tag);
        expect_scalar(f1_score(yt, yp, o), c, "f1_" + tag);
        expect_scalar(fbeta_score(yt, yp, 2.0, o), c, "f2_" + tag);
        auto prf = precision_recall_fscore_support(yt, yp, o);
        expect_scalar(prf.precision.item<double>(), c, "precision_" + tag);
        EXPECT_FALSE(prf.support.defined());
      }
    }
    auto none =
        precision_recall_fscore_support(yt, yp, {.average = "none", .zero_division = 1, .sample_weight = sw});
    expect_tensor(none.precision, c, "precision_none_zd1");
    expect_tensor(none.recall, c, "recall_none_zd1");
    expect_tensor(none.fscore, c, "f1_none_zd1");
    expect_tensor(none.support, c, "support_none");
    PrfOptions sub{.average = "macro", .labels = labels, .sample_weight = sw};
    expect_scalar(precision_score(yt, yp, sub), c, "precision_subset_macro");
    expect_scalar(recall_score(yt, yp, sub), c, "recall_subset_macro");
    expect_scalar(f1_score(yt, yp, sub), c, "f1_subset_macro");

    Tensor cm = confusion_matrix(yt, yp, {.sample_weight = sw});
    EXPECT_EQ(cm.dtype(), sw.defined() ? DType::f64 : DType::i64);
    expect_tensor(cm, c, "confusion");
    for (std::string norm : {"true", "pred", "all"})
      expect_tensor(confusion_matrix(yt, yp, {.normalize = norm, .sample_weight = sw}), c,
                    "confusion_" + norm);

    EXPECT_EQ(classification_report(yt, yp, {.sample_weight = sw}), text(c, "report"));
    EXPECT_EQ(classification_report(yt, yp, {.digits = 4, .zero_division = 1, .sample_weight = sw}),
              text(c, "report_d4_zd1"));
    EXPECT_EQ(classification_report(yt, yp, {.labels = labels, .sample_weight = sw}),
              text(c, "report_subset"));
    if (c.has("report_names")) {
      EXPECT_EQ(classification_report(yt, yp, {.target_names = kTargetNames.at(c.name), .sample_weight = sw}),
                text(c, "report_names"));
    }
  }
}

TEST(ClassicMetrics, ReportStructuredForm) {
  Tensor yt = from_vector(std::vector<int64_t>{0, 0, 1, 1, 2, 2, 0, 1});
  Tensor yp = from_vector(std::vector<int64_t>{0, 1, 1, 1, 2, 0, 0, 0});
  ClassificationReport r = classification_report_dict(yt, yp);
  ASSERT_EQ(r.classes.size(), 3u);
  EXPECT_EQ(r.classes[0].name, "0");
  EXPECT_DOUBLE_EQ(r.classes[1].precision, 2.0 / 3.0);  // predicted 1 three times, right twice
  EXPECT_DOUBLE_EQ(r.classes[2].recall, 0.5);
  EXPECT_DOUBLE_EQ(r.classes[0].support, 3);
  ASSERT_TRUE(r.accuracy.has_value());
  EXPECT_DOUBLE_EQ(*r.accuracy, 5.0 / 8.0);
  ASSERT_EQ(r.averages.size(), 2u);
  EXPECT_EQ(r.averages[0].name, "macro avg");
  EXPECT_EQ(r.averages[1].name, "weighted avg");
  EXPECT_DOUBLE_EQ(r.total_support, 8);
  EXPECT_EQ(r.str(2), classification_report(yt, yp));
}

TEST(ClassicMetrics, RankingMatchesSklearn) {
  for (const auto* cp : cases_with_prefix("bin_")) {
    const auto& c = *cp;
    SCOPED_TRACE(c.name);
    Tensor yt = c.tensor("y_true"), ys = c.tensor("y_score"), sw = sw_of(c);
    RocCurve roc = roc_curve(yt, ys, {.sample_weight = sw});
    expect_tensor(roc.fpr, c, "roc_fpr");
    expect_tensor(roc.tpr, c, "roc_tpr");
    expect_tensor(roc.thresholds, c, "roc_thr");
    RocCurve full = roc_curve(yt, ys, {.drop_intermediate = false, .sample_weight = sw});
    expect_tensor(full.fpr, c, "roc_full_fpr");
    expect_tensor(full.tpr, c, "roc_full_tpr");
    expect_tensor(full.thresholds, c, "roc_full_thr");
    expect_scalar(roc_auc_score(yt, ys, {.sample_weight = sw}), c, "roc_auc");
    expect_scalar(auc(roc.fpr, roc.tpr), c, "roc_auc");
    PrecisionRecallCurve pr = precision_recall_curve(yt, ys, {.sample_weight = sw});
    expect_tensor(pr.precision, c, "pr_precision");
    expect_tensor(pr.recall, c, "pr_recall");
    expect_tensor(pr.thresholds, c, "pr_thr");
    expect_scalar(average_precision_score(yt, ys, {.sample_weight = sw}), c, "ap");
    if (c.has("log_loss")) {
      expect_scalar(log_loss(yt, ys, {.sample_weight = sw}), c, "log_loss");
      expect_scalar(log_loss(yt, ys, {.normalize = false, .sample_weight = sw}), c, "log_loss_sum");
    }
  }
}

TEST(ClassicMetrics, MulticlassMatchesSklearn) {
  for (const auto* cp : cases_with_prefix("multi_")) {
    const auto& c = *cp;
    SCOPED_TRACE(c.name);
    Tensor yt = c.tensor("y_true"), yp = c.tensor("y_prob"), sw = sw_of(c);
    expect_scalar(roc_auc_score(yt, yp, {.average = "macro", .multi_class = "ovr", .sample_weight = sw}), c,
                  "roc_auc_macro");
    expect_scalar(roc_auc_score(yt, yp, {.average = "weighted", .multi_class = "ovr", .sample_weight = sw}),
                  c, "roc_auc_weighted");
    expect_scalar(log_loss(yt, yp, {.sample_weight = sw}), c, "log_loss");
    expect_scalar(log_loss(yt, yp, {.eps = 1e-3, .sample_weight = sw}), c, "log_loss_eps");
  }
}

TEST(ClassicMetrics, RegressionMatchesSklearn) {
  for (const auto* cp : cases_with_prefix("reg_")) {
    const auto& c = *cp;
    SCOPED_TRACE(c.name);
    Tensor yt = c.tensor("y_true"), yp = c.tensor("y_pred"), sw = sw_of(c);
    expect_scalar(mean_squared_error(yt, yp, sw), c, "mse");
    expect_scalar(mean_squared_error(yt, yp, sw, false), c, "rmse");
    expect_scalar(root_mean_squared_error(yt, yp, sw), c, "rmse");
    expect_scalar(mean_absolute_error(yt, yp, sw), c, "mae");
    expect_scalar(r2_score(yt, yp, sw), c, "r2");
    expect_scalar(explained_variance_score(yt, yp, sw), c, "explained_variance");
  }
}

TEST(ClassicMetrics, F32ProbabilitiesUseF32Epsilon) {
  Tensor yt = from_vector(std::vector<int64_t>{0, 1});
  Tensor p32 = from_vector(std::vector<float>{0.0f, 1.0f});
  Tensor p64 = from_vector(std::vector<double>{0.0, 1.0});
  EXPECT_NEAR(log_loss(yt, p32), -std::log(1.0 - std::numeric_limits<float>::epsilon()), 1e-12);
  EXPECT_NEAR(log_loss(yt, p64), -std::log(1.0 - std::numeric_limits<double>::epsilon()), 1e-15);
}

TEST(ClassicMetrics, Errors) {
  Tensor y3 = from_vector(std::vector<int64_t>{0, 1, 2});
  Tensor y2 = from_vector(std::vector<int64_t>{0, 1});
  Tensor f3 = from_vector(std::vector<double>{0.1, 0.2, 0.3});
  EXPECT_CONTAINS(error_of([&] { accuracy_score(y3, y2); }),
                  "accuracy_score: y_true has 3 samples but y_pred has 2");
  EXPECT_CONTAINS(error_of([&] { accuracy_score(f3, y3); }), "y_true must hold integer class labels");
  EXPECT_CONTAINS(error_of([&] {
                    accuracy_score(y3, y3, true, from_vector(std::vector<double>{1, 2}));
                  }),
                  "sample_weight has 2 entries for 3 samples");
  EXPECT_CONTAINS(error_of([&] { precision_score(y3, y3); }),
                  "target is multiclass (3 labels) but average='binary'");
  EXPECT_CONTAINS(error_of([&] { precision_score(y2, y2, {.pos_label = 5}); }),
                  "pos_label=5 is not a valid label");
  EXPECT_CONTAINS(error_of([&] { precision_score(y3, y3, {.average = "samples"}); }), "average must be");
  EXPECT_CONTAINS(error_of([&] { f1_score(y3, y3, {.average = "none"}); }),
                  "use precision_recall_fscore_support");
  EXPECT_CONTAINS(error_of([&] { fbeta_score(y2, y2, -1.0); }), "beta must be >= 0");
  EXPECT_CONTAINS(error_of([&] { confusion_matrix(y3, y3, {.normalize = "rows"}); }), "normalize must be");
  EXPECT_CONTAINS(error_of([&] {
                    confusion_matrix(y3, y3, {.labels = {7, 8}});
                  }),
                  "none of the given labels");
  EXPECT_CONTAINS(error_of([&] {
                    classification_report(y3, y3, {.target_names = {"a", "b"}});
                  }),
                  "3 labels but 2 target_names");
  EXPECT_CONTAINS(error_of([&] { roc_curve(y3, f3); }), "roc_curve: y_true has 3 classes");
  EXPECT_CONTAINS(error_of([&] {
                    roc_curve(from_vector(std::vector<int64_t>{2, 3, 3}), f3);
                  }),
                  "set pos_label explicitly");
  EXPECT_CONTAINS(error_of([&] {
                    roc_auc_score(from_vector(std::vector<int64_t>{1, 1, 1}), f3);
                  }),
                  "only one class present in y_true");
  EXPECT_CONTAINS(error_of([&] { roc_auc_score(y3, f3); }), "multi_class='ovr'");
  Tensor prob = from_vector(std::vector<double>{0.5, 0.5, 0, 0.2, 0.7, 0.1, 0.1, 0.1, 0.1}, Shape{3, 3});
  EXPECT_CONTAINS(error_of([&] { roc_auc_score(y3, prob); }), "set multi_class='ovr'");
  EXPECT_CONTAINS(error_of([&] { roc_auc_score(y3, prob, {.multi_class = "ovr"}); }), "row 2 sums to 0.3");
  EXPECT_CONTAINS(error_of([&] { roc_curve(y2, from_vector(std::vector<double>{0.5, NAN})); }), "non-finite");
  EXPECT_CONTAINS(
      error_of([&] {
        log_loss(from_vector(std::vector<int64_t>{1, 1}), from_vector(std::vector<double>{0.5, 0.5}));
      }),
      "y_true contains only one label");
  EXPECT_CONTAINS(error_of([&] { log_loss(y3, prob.narrow(1, 0, 2)); }),
                  "y_prob has 2 columns but there are 3 classes");
  EXPECT_CONTAINS(error_of([&] { log_loss(y3, y3); }), "y_prob must be floating");
  EXPECT_CONTAINS(error_of([&] {
                    mean_squared_error(f3, from_vector(std::vector<double>{1, 2}));
                  }),
                  "mean_squared_error: y_true has shape [3] but y_pred has shape [2]");
  EXPECT_CONTAINS(
      error_of([&] { r2_score(from_vector(std::vector<double>{1}), from_vector(std::vector<double>{1})); }),
      "fewer than two samples");
  EXPECT_CONTAINS(error_of([&] {
                    auc(from_vector(std::vector<double>{0, 1, 0.5}), f3);
                  }),
                  "neither increasing nor decreasing");
}
