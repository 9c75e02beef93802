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
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/fixture.h"
#include "support/helpers.h"

namespace {

using kiln::DType;
using kiln::Tensor;
using kiln::nn::Reduction;
using kiln::test::FixtureCase;
using kiln::testing::error_of;
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

}  // namespace
