// tests/test_losses.cpp: the losses of nn/loss.h against frozen PyTorch 1.13 values and gradients
// (tests/fixtures/torch_losses.txt, written by tests/gen_loss_fixtures.py), gradcheck and gradgradcheck of
// each loss, the class forms, the cheap cross-entropy path, and every error path with its message.
//
// Fixture tolerance, per element: |got - expected| <= rtol |expected| + floor * max|expected over the
// tensor|, with rtol 1e-10 and floor 1e-13 in f64, and rtol 1e-5 and floor 1e-6 in f32 (inputs cast to f32,
// the f64 reference kept). NaN must be NaN. The floor covers elements that are (near) zero by cancellation
// (e.g. 1 - cos, softmax - target), where a relative tolerance means nothing: it is about 10 ulps of the
// tensor's scale.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/fixture.h"
#include "support/graph.h"
#include "support/helpers.h"

namespace {

using kiln::DType;
using kiln::Tensor;
using kiln::nn::Reduction;
using kiln::test::FixtureCase;
using kiln::testing::error_of;
using kiln::testing::graph_ops;
namespace F = kiln::nn::functional;
namespace nn = kiln::nn;

const std::string kFixturePath = std::string(KILN_FIXTURES_DIR) + "/torch_losses.txt";

const std::vector<FixtureCase>& fixture_cases() {
  static const std::vector<FixtureCase> cases = kiln::test::read_fixture_file(kFixturePath);
  return cases;
}

// One case's arguments in kiln tensors (of the dtype under test) and its scalar options.
struct Args {
  const FixtureCase* c;
  std::map<std::string, Tensor> t;  // input, target, input2, weight, pos_weight, when present

  bool has(const std::string& label) const { return t.count(label) > 0; }
  Tensor get(const std::string& label) const { return has(label) ? t.at(label) : Tensor(); }
  double num(const std::string& label, double fallback) const {
    return c->has(label) ? c->get(label).values.at(0) : fallback;
  }
  Reduction reduction() const { return static_cast<Reduction>(static_cast<int>(num("opt_reduction", 1))); }
};

// A loss in functional and in class form, over the same Args; both must agree exactly.
struct LossForms {
  std::function<Tensor(const Args&)> functional;
  std::function<Tensor(const Args&)> module;
};

const std::map<std::string, LossForms>& loss_table() {
  static const std::map<std::string, LossForms> table = {
      {"mse_loss",
       {[](const Args& a) { return F::mse_loss(a.get("input"), a.get("target"), a.reduction()); },
        [](const Args& a) { return nn::MSELoss(a.reduction())(a.get("input"), a.get("target")); }}},
      {"l1_loss",
       {[](const Args& a) { return F::l1_loss(a.get("input"), a.get("target"), a.reduction()); },
        [](const Args& a) { return nn::L1Loss(a.reduction())(a.get("input"), a.get("target")); }}},
      {"smooth_l1_loss",
       {[](const Args& a) {
          return F::smooth_l1_loss(a.get("input"), a.get("target"), a.reduction(), a.num("opt_beta", 1.0));
        },
        [](const Args& a) {
          nn::SmoothL1Loss loss({.reduction = a.reduction(), .beta = a.num("opt_beta", 1.0)});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"huber_loss",
       {[](const Args& a) {
          return F::huber_loss(a.get("input"), a.get("target"), a.reduction(), a.num("opt_delta", 1.0));
        },
        [](const Args& a) {
          nn::HuberLoss loss({.reduction = a.reduction(), .delta = a.num("opt_delta", 1.0)});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"binary_cross_entropy",
       {[](const Args& a) {
          return F::binary_cross_entropy(a.get("input"), a.get("target"), a.get("weight"), a.reduction());
        },
        [](const Args& a) {
          nn::BCELoss loss({.weight = a.get("weight"), .reduction = a.reduction()});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"binary_cross_entropy_with_logits",
       {[](const Args& a) {
          return F::binary_cross_entropy_with_logits(
              a.get("input"), a.get("target"),
              {.weight = a.get("weight"), .pos_weight = a.get("pos_weight"), .reduction = a.reduction()});
        },
        [](const Args& a) {
          nn::BCEWithLogitsLoss loss(
              {.weight = a.get("weight"), .pos_weight = a.get("pos_weight"), .reduction = a.reduction()});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"nll_loss",
       {[](const Args& a) {
          return F::nll_loss(a.get("input"), a.get("target"),
                             {.weight = a.get("weight"),
                              .ignore_index = static_cast<int64_t>(a.num("opt_ignore_index", -100)),
                              .reduction = a.reduction()});
        },
        [](const Args& a) {
          nn::NLLLoss loss({.weight = a.get("weight"),
                            .ignore_index = static_cast<int64_t>(a.num("opt_ignore_index", -100)),
                            .reduction = a.reduction()});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"cross_entropy",
       {[](const Args& a) {
          return F::cross_entropy(a.get("input"), a.get("target"),
                                  {.weight = a.get("weight"),
                                   .ignore_index = static_cast<int64_t>(a.num("opt_ignore_index", -100)),
                                   .label_smoothing = a.num("opt_label_smoothing", 0.0),
                                   .reduction = a.reduction()});
        },
        [](const Args& a) {
          nn::CrossEntropyLoss loss({.weight = a.get("weight"),
                                     .ignore_index = static_cast<int64_t>(a.num("opt_ignore_index", -100)),
                                     .label_smoothing = a.num("opt_label_smoothing", 0.0),
                                     .reduction = a.reduction()});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"kl_div",
       {[](const Args& a) {
          return F::kl_div(a.get("input"), a.get("target"), a.reduction(), a.num("opt_log_target", 0) != 0);
        },
        [](const Args& a) {
          nn::KLDivLoss loss({.reduction = a.reduction(), .log_target = a.num("opt_log_target", 0) != 0});
          return loss(a.get("input"), a.get("target"));
        }}},
      {"margin_ranking_loss",
       {[](const Args& a) {
          return F::margin_ranking_loss(a.get("input"), a.get("input2"), a.get("target"),
                                        a.num("opt_margin", 0), a.reduction());
        },
        [](const Args& a) {
          nn::MarginRankingLoss loss({.margin = a.num("opt_margin", 0), .reduction = a.reduction()});
          return loss(a.get("input"), a.get("input2"), a.get("target"));
        }}},
      {"cosine_embedding_loss",
       {[](const Args& a) {
          return F::cosine_embedding_loss(a.get("input"), a.get("input2"), a.get("target"),
                                          a.num("opt_margin", 0), a.reduction());
        },
        [](const Args& a) {
          nn::CosineEmbeddingLoss loss({.margin = a.num("opt_margin", 0), .reduction = a.reduction()});
          return loss(a.get("input"), a.get("input2"), a.get("target"));
        }}},
  };
  return table;
}

std::string loss_of(const std::string& case_name) { return case_name.substr(0, case_name.find('/')); }

// Compares got with the fixture's values (see the tolerance in the file comment); returns "" or a message.
std::string compare(const Tensor& got, const kiln::test::FixtureTensor& want, double rtol, double floor) {
  if (got.shape() != want.shape)
    return "shape " + kiln::shape_str(got.shape()) + " vs expected " + kiln::shape_str(want.shape);
  std::vector<double> g = got.to_vector<double>();
  double scale = 0;
  for (double v : want.values)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    double w = want.values[i];
    if (std::isnan(w) != std::isnan(g[i]))
      return "element " + std::to_string(i) + ": got " + std::to_string(g[i]) + ", expected " +
             std::to_string(w);
    if (std::isnan(w)) continue;
    double tol = rtol * std::abs(w) + floor * scale;
    if (!(std::abs(g[i] - w) <= tol)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "element %zu: got %.17g, expected %.17g (tolerance %.3g)", i, g[i], w,
                    tol);
      return buf;
    }
  }
  return "";
}

// Same shape and bits (NaN equal to NaN).
bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
  return true;
}

const std::vector<std::string> kArgLabels = {"input", "target", "input2", "weight", "pos_weight"};

void run_fixture_case(const FixtureCase& c, DType dtype, double rtol, double floor) {
  SCOPED_TRACE(c.name + (dtype == DType::f32 ? " (f32)" : " (f64)"));
  auto it = loss_table().find(loss_of(c.name));
  ASSERT_NE(it, loss_table().end()) << "no kiln loss for fixture case " << c.name;
  Args a{&c, {}};
  std::vector<std::string> diff_labels;
  std::vector<Tensor> diff;
  for (const auto& label : kArgLabels) {
    if (!c.has(label)) continue;
    Tensor x = c.tensor(label);
    if (kiln::is_floating(x.dtype())) x = x.to(dtype);
    if (c.has("grad_" + label)) {
      x.requires_grad_();
      diff_labels.push_back(label);
      diff.push_back(x);
    }
    a.t[label] = x;
  }
  Tensor out = it->second.functional(a);
  ASSERT_EQ(out.dtype(), dtype);
  std::string err = compare(out, c.get("out"), rtol, floor);
  EXPECT_EQ(err, "") << "out";

  // The class form holds the same options and gives the same bits.
  Tensor out_module = it->second.module(a);
  EXPECT_TRUE(same_values(out_module, out)) << "class form differs from the functional form";

  if (diff.empty()) return;
  Tensor grad_out = c.tensor("grad_out").to(dtype);
  auto grads = kiln::autograd::grad({out}, diff, {grad_out});
  for (size_t k = 0; k < diff.size(); ++k)
    EXPECT_EQ(compare(grads[k], c.get("grad_" + diff_labels[k]), rtol, floor), "")
        << "grad_" << diff_labels[k];
}

TEST(LossFixtures, EveryLossIsCoveredAndEveryCaseHasALoss) {
  std::map<std::string, int> seen;
  for (const auto& c : fixture_cases()) {
    EXPECT_TRUE(loss_table().count(loss_of(c.name))) << "case " << c.name << " names no kiln loss";
    ++seen[loss_of(c.name)];
  }
  for (const auto& [name, forms] : loss_table()) EXPECT_GT(seen[name], 0) << name << " has no fixture case";
  EXPECT_GE(fixture_cases().size(), 150u);
}

TEST(LossFixtures, MatchPyTorchInF64) {
  for (const auto& c : fixture_cases()) run_fixture_case(c, DType::f64, 1e-10, 1e-13);
}

TEST(LossFixtures, MatchPyTorchInF32) {
  for (const auto& c : fixture_cases()) run_fixture_case(c, DType::f32, 1e-5, 1e-6);
}

// ---------------------------------------------------------------------------------------------------
// Gradients against finite differences, first and second order (f64).

Tensor leaf(const kiln::Shape& shape, double scale = 1.0) {
  Tensor t = (kiln::randn(shape, {.dtype = DType::f64}) * scale).detach();
  t.requires_grad_();
  return t;
}
Tensor probs_leaf(const kiln::Shape& shape) {  // in (0.05, 0.95), away from BCE's clamp
  Tensor t = (kiln::rand(shape, {.dtype = DType::f64}) * 0.9 + 0.05).detach();
  t.requires_grad_();
  return t;
}
Tensor simplex_leaf(const kiln::Shape& shape, int64_t dim) {
  Tensor t = kiln::softmax(kiln::randn(shape, {.dtype = DType::f64}), dim).detach();
  t.requires_grad_();
  return t;
}
Tensor labels(const std::vector<int64_t>& v, const kiln::Shape& shape) { return kiln::from_vector(v, shape); }
Tensor f64(const std::vector<double>& v) { return kiln::from_vector(v); }

TEST(LossGradients, GradcheckAndGradgradcheckEveryLoss) {
  using kiln::autograd::gradcheck;
  using kiln::autograd::gradgradcheck;
  using V = std::vector<Tensor>;
  kiln::manual_seed(7);
  Tensor t6 = labels({0, 3, 1, -100, 2, 1}, {6});
  Tensor t2x2x2 = labels({0, 2, 1, -100, 2, 2, 1, 0}, {2, 2, 2});
  Tensor w4 = f64({0.5, 1.5, 2.0, 0.8});
  Tensor w3 = f64({0.3, 1.0, 1.7});
  struct Case {
    std::string name;
    kiln::autograd::Function f;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases = {
      {"mse none",
       [](const V& v) { return F::mse_loss(v[0], v[1], Reduction::none); },
       {leaf({3, 4}), leaf({3, 4})}},
      {"mse mean", [](const V& v) { return F::mse_loss(v[0], v[1]); }, {leaf({3, 4}), leaf({3, 4})}},
      {"l1 sum",
       [](const V& v) { return F::l1_loss(v[0], v[1], Reduction::sum); },
       {leaf({3, 4}), leaf({3, 4})}},
      {"smooth_l1 beta 0.7",
       [](const V& v) { return F::smooth_l1_loss(v[0], v[1], Reduction::none, 0.7); },
       {leaf({3, 4}), leaf({3, 4})}},
      {"huber delta 0.6",
       [](const V& v) { return F::huber_loss(v[0], v[1], Reduction::mean, 0.6); },
       {leaf({3, 4}), leaf({3, 4})}},
      {"bce weight",
       [w4](const V& v) { return F::binary_cross_entropy(v[0], v[1], w4, Reduction::none); },
       {probs_leaf({3, 4}), probs_leaf({3, 4})}},
      {"bce_with_logits weight pos_weight",
       [w4](const V& v) {
         return F::binary_cross_entropy_with_logits(v[0], v[1], {.weight = w4, .pos_weight = w4 * 2.0});
       },
       {leaf({3, 4}, 2.0), probs_leaf({3, 4})}},
      {"cross_entropy fast path",
       [](const V& v) {
         return F::cross_entropy(v[0], labels({0, 3, 1, 2, 2, 1}, {6}));
       },
       {leaf({6, 4}, 2.0)}},
      {"cross_entropy weight ignore smoothing",
       [t6, w4](const V& v) { return F::cross_entropy(v[0], t6, {.weight = w4, .label_smoothing = 0.2}); },
       {leaf({6, 4}, 2.0)}},
      {"cross_entropy (N, K, d1, d2) none",
       [t2x2x2, w3](const V& v) {
         return F::cross_entropy(v[0], t2x2x2,
                                 {.weight = w3, .label_smoothing = 0.1, .reduction = Reduction::none});
       },
       {leaf({2, 3, 2, 2})}},
      {"cross_entropy probabilities",
       [w4](const V& v) { return F::cross_entropy(v[0], v[1], {.weight = w4, .label_smoothing = 0.1}); },
       {leaf({5, 4}), simplex_leaf({5, 4}, 1)}},
      {"nll_loss weight ignore sum",
       [t6, w4](const V& v) { return F::nll_loss(v[0], t6, {.weight = w4, .reduction = Reduction::sum}); },
       {leaf({6, 4})}},
      {"kl_div batchmean",
       [](const V& v) { return F::kl_div(kiln::log_softmax(v[0], 1), v[1], Reduction::batchmean); },
       {leaf({3, 4}), simplex_leaf({3, 4}, 1)}},
      {"kl_div log_target",
       [](const V& v) { return F::kl_div(v[0], v[1], Reduction::none, true); },
       {leaf({3, 4}), leaf({3, 4})}},
      {"margin_ranking",
       [](const V& v) { return F::margin_ranking_loss(v[0], v[1], v[2], 0.3, Reduction::none); },
       {leaf({6}), leaf({6}), f64({1, -1, 1, -1, 1, -1}).requires_grad_()}},
      {"cosine_embedding",
       [](const V& v) {
         return F::cosine_embedding_loss(v[0], v[1], f64({1, -1, -1, 1}), -0.2, Reduction::none);
       },
       {leaf({4, 3}), leaf({4, 3})}},
  };
  for (const Case& c : cases) {
    auto first = gradcheck(c.f, c.inputs);
    EXPECT_TRUE(first.ok) << c.name << ": " << first.message;
    auto second = gradgradcheck(c.f, c.inputs);
    EXPECT_TRUE(second.ok) << c.name << ": " << second.message;
  }
}

// ---------------------------------------------------------------------------------------------------
// Behaviour beyond the fixtures.

TEST(CrossEntropy, EqualsNllOfLogSoftmaxAndTheHandWrittenFastPath) {
  kiln::manual_seed(11);
  Tensor x = kiln::randn({8, 5}, {.dtype = DType::f64});
  Tensor y = kiln::randint(0, 5, {8});
  double ce = F::cross_entropy(x, y).item<double>();
  EXPECT_NEAR(ce, F::nll_loss(kiln::log_softmax(x, 1), y).item<double>(), 1e-14);
  EXPECT_NEAR(ce, -kiln::gather(kiln::log_softmax(x, 1), 1, y.unsqueeze(1)).mean().item<double>(), 1e-14);
  // Class form constructed as in the README.
  nn::CrossEntropyLoss smoothed({.label_smoothing = 0.1});
  EXPECT_GT(smoothed(x, y).item<double>(), 0.0);
  EXPECT_NE(smoothed(x, y).item<double>(), ce);
}

// The hot path (index targets, no weight, nothing ignored, no smoothing) records the fused
// softmax_cross_entropy op and the mean: no log_softmax, mask, one-hot or weight products.
TEST(CrossEntropy, FastPathRecordsOnlyTheFusedOpAndTheMean) {
  Tensor x = kiln::randn({16, 10}).requires_grad_();
  Tensor y = kiln::randint(0, 10, {16});
  auto fast = graph_ops(F::cross_entropy(x, y));
  auto manual = graph_ops(kiln::softmax_cross_entropy(x, y).mean());
  EXPECT_EQ(fast, manual);
  EXPECT_EQ(fast.count("softmax_cross_entropy"), 1u);
  EXPECT_EQ(fast.count("log_softmax") + fast.count("where") + fast.count("index_select"), 0u);
  // The weighted path divides by the summed weights instead (so the comparison above can fail).
  auto weighted = graph_ops(F::cross_entropy(x, y, {.weight = kiln::ones({10})}));
  EXPECT_NE(weighted, fast);
  EXPECT_EQ(weighted.count("softmax_cross_entropy"), 1u);
}

TEST(CrossEntropy, AllTargetsIgnoredGivesNanAndZeroGradients) {
  Tensor x = kiln::randn({3, 4}, {.dtype = DType::f64}).requires_grad_();
  Tensor y = labels({-100, -100, -100}, {3});
  Tensor loss = F::cross_entropy(x, y, {.weight = f64({1, 2, 3, 4}), .label_smoothing = 0.1});
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  loss.backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
  // sum and none stay finite: 0.
  EXPECT_EQ(F::cross_entropy(x, y, {.reduction = Reduction::sum}).item<double>(), 0.0);
}

// An empty batch, as PyTorch: mean is NaN, sum 0, none empty; backward works.
TEST(CrossEntropy, EmptyBatch) {
  Tensor x = kiln::randn({0, 3}).requires_grad_();
  Tensor y = kiln::zeros({0}, {.dtype = DType::i64});
  for (double ls : {0.0, 0.1}) {
    EXPECT_TRUE(std::isnan(F::cross_entropy(x, y, {.label_smoothing = ls}).item<double>())) << ls;
    EXPECT_EQ(F::cross_entropy(x, y, {.label_smoothing = ls, .reduction = Reduction::sum}).item<double>(),
              0.0);
    EXPECT_EQ(F::cross_entropy(x, y, {.label_smoothing = ls, .reduction = Reduction::none}).shape(),
              kiln::Shape{0});
  }
  EXPECT_TRUE(std::isnan(F::nll_loss(x, y, {.weight = kiln::ones({3})}).item<double>()));
  EXPECT_TRUE(std::isnan(F::cross_entropy(x, kiln::zeros({0, 3})).item<double>()));
  EXPECT_TRUE(std::isnan(F::mse_loss(kiln::zeros({0}), kiln::zeros({0})).item<double>()));
  F::cross_entropy(x, y, {.reduction = Reduction::sum}).backward();
  EXPECT_EQ(x.grad().shape(), (kiln::Shape{0, 3}));
}

TEST(CrossEntropy, IgnoreIndexMayBeAValidClass) {
  Tensor x = kiln::randn({4, 3}, {.dtype = DType::f64});
  Tensor y = labels({0, 1, 2, 1}, {4});
  Tensor per = F::cross_entropy(x, y, {.ignore_index = 1, .reduction = Reduction::none});
  std::vector<double> v = per.to_vector<double>();
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(v[3], 0.0);
  EXPECT_GT(v[0], 0.0);
  double mean = F::cross_entropy(x, y, {.ignore_index = 1}).item<double>();
  EXPECT_NEAR(mean, (v[0] + v[2]) / 2.0, 1e-14);
  // A -inf logit at the class an ignored entry is gathered from stays out of the loss (no 0 * -inf).
  Tensor masked = kiln::from_vector<double>({-INFINITY, 1.0, 2.0, -INFINITY, 0.5, 0.1}, kiln::Shape{2, 3});
  masked.requires_grad_();
  Tensor l = F::cross_entropy(masked, labels({-100, 2}, {2}), {.weight = f64({1, 1, 1})});
  EXPECT_TRUE(std::isfinite(l.item<double>()));
  l.backward();
  for (double g : masked.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

TEST(CrossEntropy, F32InF32Out) {
  Tensor x = kiln::randn({4, 3});
  Tensor y = labels({0, 1, 2, 1}, {4});
  EXPECT_EQ(F::cross_entropy(x, y).dtype(), DType::f32);
  EXPECT_EQ(F::cross_entropy(x, kiln::softmax(x, 1)).dtype(), DType::f32);
}

TEST(MarginRanking, IntegerTargetsAreCast) {
  Tensor a = f64({0.3, -1.0, 2.0}), b = f64({0.1, 0.5, 2.5});
  Tensor yi = labels({1, -1, -1}, {3});
  EXPECT_DOUBLE_EQ(F::margin_ranking_loss(a, b, yi, 0.1).item<double>(),
                   F::margin_ranking_loss(a, b, f64({1, -1, -1}), 0.1).item<double>());
}

TEST(BinaryCrossEntropy, ClampedLogGivesFiniteValuesAndGradientsAtZeroAndOne) {
  Tensor x = f64({0.0, 1.0, 0.0, 1.0}).requires_grad_();
  Tensor t = f64({0.0, 1.0, 1.0, 0.0});
  Tensor loss = F::binary_cross_entropy(x, t, {}, Reduction::none);
  std::vector<double> v = loss.to_vector<double>();
  EXPECT_EQ(v[0], 0.0);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(v[2], 100.0);
  EXPECT_EQ(v[3], 100.0);
  loss.sum().backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

// ---------------------------------------------------------------------------------------------------
// Bad input: a kiln::Error naming the loss and the offending shapes or values.

TEST(LossErrors, ClassIndexTargets) {
  Tensor x = kiln::randn({4, 3});
  EXPECT_CONTAINS(
      error_of([&] {
        F::cross_entropy(x, labels({0, 3, 1, 2}, {4}));
      }),
      "cross_entropy: target holds class index 3, out of range for K = 3 classes (input [4, 3], target [4]");
  EXPECT_CONTAINS(error_of([&] {
                    F::nll_loss(x, labels({0, 1, 7, 2}, {4}));
                  }),
                  "nll_loss: target holds class index 7");
  EXPECT_CONTAINS(error_of([&] {
                    F::cross_entropy(x, labels({0, -1, 1, 2}, {4}));
                  }),
                  "cross_entropy: target holds the negative class index -1 (input [4, 3], target [4]; "
                  "ignore_index is -100)");
  // -100 is fine by default, but not once ignore_index is something else.
  EXPECT_NO_THROW(F::cross_entropy(x, labels({0, -100, 1, 2}, {4})));
  EXPECT_CONTAINS(error_of([&] {
                    F::nll_loss(x, labels({0, -100, 1, 2}, {4}), {.ignore_index = 5});
                  }),
                  "negative class index -100");
  EXPECT_CONTAINS(error_of([&] {
                    F::cross_entropy(x, labels({0, 1, 2, 0}, {4, 1}));
                  }),
                  "cross_entropy: input [4, 3] needs a class-index target of shape [4], got [4, 1]");
  EXPECT_CONTAINS(error_of([&] {
                    F::nll_loss(x, labels({0, 1, 2}, {3}));
                  }),
                  "nll_loss: input [4, 3] needs a class-index target of shape [4], got [3]");
  EXPECT_CONTAINS(error_of([&] {
                    F::cross_entropy(x, labels({0, 1, 2, 0}, {4}).to(DType::i32));
                  }),
                  "cross_entropy: class-index target must be i64, got i32 [4]");
  EXPECT_CONTAINS(error_of([&] { F::cross_entropy(x, kiln::randn({4})); }),
                  "cross_entropy: a class-probability target must have the input's shape [4, 3], got [4]");
  EXPECT_CONTAINS(error_of([&] {
                    F::cross_entropy(x, kiln::randn({4, 3}, {.dtype = DType::f64}));
                  }),
                  "cross_entropy: a class-probability target (f64) must have the input's dtype (f32)");
  EXPECT_CONTAINS(error_of([&] { F::cross_entropy(kiln::randn({}), labels({0}, {})); }),
                  "cross_entropy: input must be (N, K), (N, K, d1, ...) or (K) logits, got []");
  EXPECT_CONTAINS(error_of([&] {
                    F::cross_entropy(x.to(DType::i64), labels({0, 1, 2, 0}, {4}));
                  }),
                  "cross_entropy: input must be floating (f32 or f64), got i64 [4, 3]");
  EXPECT_CONTAINS(error_of([&] { F::nll_loss(x, Tensor()); }), "nll_loss: target is undefined");
}

TEST(LossErrors, ClassWeightsAndOptions) {
  Tensor x = kiln::randn({4, 3});
  Tensor y = labels({0, 1, 2, 0}, {4});
  EXPECT_CONTAINS(error_of([&] { F::cross_entropy(x, y, {.weight = kiln::ones({4})}); }),
                  "cross_entropy: weight must be (K) = [3] for input [4, 3], got [4]");
  EXPECT_CONTAINS(error_of([&] {
                    F::nll_loss(x, y, {.weight = kiln::ones({1, 3})});
                  }),
                  "nll_loss: weight must be (K) = [3] for input [4, 3], got [1, 3]");
  EXPECT_CONTAINS(
      error_of([&] { F::cross_entropy(x, y, {.weight = kiln::ones({3}, {.dtype = DType::f64})}); }),
      "cross_entropy: weight (f64) must have the input's dtype (f32)");
  EXPECT_CONTAINS(error_of([&] { F::cross_entropy(x, y, {.label_smoothing = 1.5}); }),
                  "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] { F::cross_entropy(x, y, {.reduction = Reduction::batchmean}); }),
                  "cross_entropy: reduction batchmean is only for kl_div");
  EXPECT_CONTAINS(error_of([&] { F::nll_loss(x, y, {.reduction = Reduction::batchmean}); }),
                  "nll_loss: reduction batchmean is only for kl_div");
}

TEST(LossErrors, ElementwiseLosses) {
  Tensor a = kiln::randn({4, 3}), b = kiln::randn({4, 1});
  EXPECT_CONTAINS(error_of([&] { F::mse_loss(a, b); }),
                  "mse_loss: input [4, 3] and target [4, 1] must have the same shape");
  EXPECT_CONTAINS(error_of([&] { F::l1_loss(a, a.to(DType::f64)); }),
                  "l1_loss: input (f32) and target (f64) must have the same dtype");
  EXPECT_CONTAINS(error_of([&] {
                    F::mse_loss(a, labels({1, 2, 3}, {3}));
                  }),
                  "mse_loss: target must be floating (f32 or f64), got i64 [3]");
  EXPECT_CONTAINS(error_of([&] { F::mse_loss(a, a, Reduction::batchmean); }),
                  "mse_loss: reduction batchmean is only for kl_div");
  EXPECT_CONTAINS(error_of([&] { F::smooth_l1_loss(a, a, Reduction::mean, -0.5); }),
                  "smooth_l1_loss: beta must be >= 0, got -0.5");
  EXPECT_CONTAINS(error_of([&] { F::huber_loss(a, a, Reduction::mean, 0.0); }),
                  "huber_loss: delta must be > 0, got 0");
  EXPECT_CONTAINS(error_of([&] { F::kl_div(a, b, Reduction::batchmean); }),
                  "kl_div: input [4, 3] and target [4, 1] must have the same shape");
  EXPECT_CONTAINS(error_of([&] { F::huber_loss(a, Tensor()); }), "huber_loss: target is undefined");
}

TEST(LossErrors, BinaryCrossEntropy) {
  Tensor p = f64({0.2, 1.5, 0.7, -0.1});
  Tensor t = f64({0, 1, 1, 0});
  EXPECT_CONTAINS(
      error_of([&] { F::binary_cross_entropy(p, t); }),
      "binary_cross_entropy: input must hold probabilities in [0, 1], but 2 of its 4 elements do not "
      "(first: 1.5 at flat index 1, input [4]); for logits use binary_cross_entropy_with_logits");
  EXPECT_CONTAINS(error_of([&] {
                    F::binary_cross_entropy(f64({0.5, std::nan("")}), f64({0, 1}));
                  }),
                  "first: nan at flat index 1");
  Tensor q = f64({0.2, 0.5, 0.7, 0.1});
  EXPECT_CONTAINS(error_of([&] {
                    F::binary_cross_entropy(q, f64({0, 1, 1}));
                  }),
                  "binary_cross_entropy: input [4] and target [3] must have the same shape");
  EXPECT_CONTAINS(error_of([&] {
                    F::binary_cross_entropy(q, t, f64({1, 2}));
                  }),
                  "binary_cross_entropy: weight [2] does not broadcast to the input's shape [4]");
  Tensor x = kiln::randn({2, 3}), y = kiln::rand({2, 3});
  EXPECT_CONTAINS(
      error_of([&] { F::binary_cross_entropy_with_logits(x, y, {.pos_weight = kiln::ones({2})}); }),
      "binary_cross_entropy_with_logits: pos_weight [2] does not broadcast to the input's shape [2, 3]");
  EXPECT_CONTAINS(
      error_of([&] {
        F::binary_cross_entropy_with_logits(x, y, {.weight = kiln::ones({1, 2, 3})});
      }),
      "binary_cross_entropy_with_logits: weight [1, 2, 3] does not broadcast to the input's shape [2, 3]");
  EXPECT_CONTAINS(error_of([&] {
                    F::binary_cross_entropy_with_logits(x, y,
                                                        {.weight = kiln::ones({3}, {.dtype = DType::f64})});
                  }),
                  "binary_cross_entropy_with_logits: weight (f64) must have the input's dtype (f32)");
}

TEST(LossErrors, EmbeddingAndRankingLosses) {
  Tensor a = kiln::randn({4, 3}), b = kiln::randn({4, 3});
  EXPECT_CONTAINS(error_of([&] {
                    F::cosine_embedding_loss(a, b, kiln::ones({4, 1}));
                  }),
                  "cosine_embedding_loss: inputs [4, 3] need a target of shape [4], got [4, 1]");
  EXPECT_CONTAINS(error_of([&] {
                    F::cosine_embedding_loss(a, kiln::randn({4, 2}), kiln::ones({4}));
                  }),
                  "cosine_embedding_loss: input1 [4, 3] and input2 [4, 2] must have the same shape");
  EXPECT_CONTAINS(error_of([&] {
                    F::cosine_embedding_loss(kiln::randn({2, 2, 2}), kiln::randn({2, 2, 2}), kiln::ones({2}));
                  }),
                  "cosine_embedding_loss: inputs must be (N, D) or (D), got [2, 2, 2]");
  EXPECT_CONTAINS(error_of([&] { F::cosine_embedding_loss(a, b, kiln::ones({4}) > 0.0); }),
                  "cosine_embedding_loss: target must hold 1 or -1 (a numeric dtype), got bool");
  Tensor s = kiln::randn({5});
  EXPECT_CONTAINS(error_of([&] { F::margin_ranking_loss(s, s, kiln::ones({4})); }),
                  "margin_ranking_loss: inputs [5] need a target of the same shape, got [4]");
  EXPECT_CONTAINS(error_of([&] {
                    F::margin_ranking_loss(s, kiln::randn({5, 1}), kiln::ones({5}));
                  }),
                  "margin_ranking_loss: input1 [5] and input2 [5, 1] must have the same shape");
}

}  // namespace
