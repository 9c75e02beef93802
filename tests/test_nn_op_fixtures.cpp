// tests/test_nn_op_fixtures.cpp: compares kiln's neural-network ops (outputs, input/weight/bias gradients,
// batch_norm's updated running statistics) with frozen PyTorch 1.13 float64 values from
// tests/fixtures/torch_nn_ops.txt (written by tests/gen_nn_op_fixtures.py; format in
// tests/support/fixture.h).
//
// Each case name maps to a lambda below running the same computation on the fixture's inputs in<k>; the
// harness marks in<k> as requiring grad exactly when the fixture holds grad<k>, computes
// d(sum(out * grad_out))/d(in<k>) and compares out, every out_<name> and every grad<k>. A case without a
// lambda, or a lambda without a case, fails.
//
// Tolerance, in f64: |got - expected| <= 1e-10 * (1 + |expected|) per element; i64 exactly.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/fixture.h"

namespace {

using kiln::Tensor;
using kiln::test::FixtureCase;
using kiln::test::FixtureTensor;

constexpr double kTol = 1e-10;

const std::string kFixturePath = std::string(KILN_FIXTURES_DIR) + "/torch_nn_ops.txt";

struct Outputs {
  Outputs(Tensor out_, std::map<std::string, Tensor> extra_ = {})
      : out(std::move(out_)), extra(std::move(extra_)) {}
  Tensor out;
  std::map<std::string, Tensor> extra;
};
using In = std::vector<Tensor>;
using CaseFn = std::function<Outputs(const In& in)>;

// The initial running statistics of gen_nn_op_fixtures.py's running_stats(c).
std::pair<Tensor, Tensor> running_stats(int64_t c) {
  std::vector<double> m{0.5, -0.5, 0.25, 0.0}, v{2.0, 0.5, 1.5, 1.0};
  m.resize(c), v.resize(c);
  return {kiln::from_vector(m), kiln::from_vector(v)};
}

CaseFn bn_train(double momentum) {
  return [momentum](const In& in) {
    auto [rm, rv] = running_stats(in[0].size(1));
    Tensor w = in.size() > 1 ? in[1] : Tensor(), b = in.size() > 2 ? in[2] : Tensor();
    Tensor out = kiln::batch_norm(in[0], rm, rv, w, b, true, momentum, 1e-5);
    return Outputs{out, {{"out_running_mean", rm}, {"out_running_var", rv}}};
  };
}

const std::map<std::string, CaseFn>& case_table() {
  using kiln::Int2;
  static const std::map<std::string, CaseFn> table = {
      // ---- convolutions ----
      {"conv2d_pad1_bias",
       [](const In& in) {
         return Outputs{kiln::conv2d(in[0], in[1], in[2], {1, 1}, {1, 1})};
       }},
      {"conv2d_s2_p1",
       [](const In& in) {
         return Outputs{kiln::conv2d(in[0], in[1], in[2], {2, 2}, {1, 1})};
       }},
      {"conv2d_s1x2_p0x1_d2x1_g2",
       [](const In& in) {
         return Outputs{kiln::conv2d(in[0], in[1], in[2], {1, 2}, {0, 1}, {2, 1}, 2)};
       }},
      {"conv2d_depthwise_p1_g4_nobias",
       [](const In& in) {
         return Outputs{kiln::conv2d(in[0], in[1], {}, {1, 1}, {1, 1}, {1, 1}, 4)};
       }},
      {"conv2d_1x1_nobias", [](const In& in) { return Outputs{kiln::conv2d(in[0], in[1])}; }},
      {"conv2d_s3_p2_d2",
       [](const In& in) {
         return Outputs{kiln::conv2d(in[0], in[1], in[2], {3, 3}, {2, 2}, {2, 2})};
       }},
      {"conv1d_s2_p1", [](const In& in) { return Outputs{kiln::conv1d(in[0], in[1], in[2], 2, 1)}; }},
      {"conv1d_d3_g2", [](const In& in) { return Outputs{kiln::conv1d(in[0], in[1], in[2], 1, 0, 3, 2)}; }},
      {"conv_transpose2d_s2_p1_op1",
       [](const In& in) {
         return Outputs{kiln::conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 1}, {1, 1})};
       }},
      {"conv_transpose2d_s1x2_p0x1_op0x1_g2_d2x1",
       [](const In& in) {
         return Outputs{kiln::conv_transpose2d(in[0], in[1], {}, {1, 2}, {0, 1}, {0, 1}, 2, {2, 1})};
       }},
      {"conv_transpose2d_s3_nobias",
       [](const In& in) {
         return Outputs{kiln::conv_transpose2d(in[0], in[1], {}, {3, 3})};
       }},
      // ---- pooling ----
      {"max_pool2d_k2",
       [](const In& in) {
         return Outputs{kiln::max_pool2d(in[0], {2, 2})};
       }},
      {"max_pool2d_k3_s2_p1_ceil",
       [](const In& in) {
         return Outputs{kiln::max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true)};
       }},
      {"max_pool2d_k2x3_s1x2_p1_d2x1",
       [](const In& in) {
         return Outputs{kiln::max_pool2d(in[0], {2, 3}, {1, 2}, {1, 1}, {2, 1})};
       }},
      {"max_pool2d_k2_s1_overlap",
       [](const In& in) {
         return Outputs{kiln::max_pool2d(in[0], {2, 2}, {1, 1})};
       }},
      {"avg_pool2d_k2",
       [](const In& in) {
         return Outputs{kiln::avg_pool2d(in[0], {2, 2})};
       }},
      {"avg_pool2d_k3_s2_p1_ceil_exclude_pad",
       [](const In& in) {
         return Outputs{kiln::avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, true, false)};
       }},
      {"avg_pool2d_k3x2_s2_p1_ceil_include_pad",
       [](const In& in) {
         return Outputs{kiln::avg_pool2d(in[0], {3, 2}, {2, 2}, {1, 1}, true, true)};
       }},
      {"avg_pool2d_k3_s1_p1_include_pad",
       [](const In& in) {
         return Outputs{kiln::avg_pool2d(in[0], {3, 3}, {1, 1}, {1, 1})};
       }},
      {"adaptive_avg_pool2d_7x5_to_3x2",
       [](const In& in) {
         return Outputs{kiln::adaptive_avg_pool2d(in[0], {3, 2})};
       }},
      {"adaptive_avg_pool2d_5x6_to_4x4",
       [](const In& in) {
         return Outputs{kiln::adaptive_avg_pool2d(in[0], {4, 4})};
       }},
      // ---- normalization ----
      {"batch_norm_train_4d_affine", bn_train(0.1)},
      {"batch_norm_train_3d_momentum0.3_affine", bn_train(0.3)},
      {"batch_norm_train_2d_plain", bn_train(0.1)},
      {"batch_norm_eval_4d_affine",
       [](const In& in) {
         auto [rm, rv] = running_stats(in[0].size(1));
         return Outputs{kiln::batch_norm(in[0], rm, rv, in[1], in[2], false)};
       }},
      {"layer_norm_2x3x4_last2_affine",
       [](const In& in) {
         return Outputs{kiln::layer_norm(in[0], {3, 4}, in[1], in[2])};
       }},
      {"layer_norm_3x5_last1_plain", [](const In& in) { return Outputs{kiln::layer_norm(in[0], {5})}; }},
      {"group_norm_2x6x3_g3_affine",
       [](const In& in) { return Outputs{kiln::group_norm(in[0], 3, in[1], in[2])}; }},
      {"group_norm_2x4x2x2_g2_plain", [](const In& in) { return Outputs{kiln::group_norm(in[0], 2)}; }},
      // ---- embedding and pad ----
      {"embedding_5x3_padding_idx1", [](const In& in) { return Outputs{kiln::embedding(in[0], in[1], 1)}; }},
      {"embedding_4x2_no_padding", [](const In& in) { return Outputs{kiln::embedding(in[0], in[1])}; }},
      {"pad_2x3x4_1_2_0_1_value0.5",
       [](const In& in) {
         return Outputs{kiln::pad(in[0], {1, 2, 0, 1}, 0.5)};
       }},
      {"pad_1x2x2x3_0_1_2_0_1_1",
       [](const In& in) {
         return Outputs{kiln::pad(in[0], {0, 1, 2, 0, 1, 1})};
       }},
  };
  return table;
}

const std::vector<FixtureCase>& fixture_cases() {
  static const std::vector<FixtureCase> cases = kiln::test::read_fixture_file(kFixturePath);
  return cases;
}

void expect_matches(const std::string& case_name, const FixtureTensor& expected, const Tensor& got) {
  SCOPED_TRACE("case " + case_name + ", tensor " + expected.label);
  ASSERT_TRUE(got.defined()) << "kiln returned an undefined tensor";
  ASSERT_EQ(got.dtype(), expected.dtype == "f64" ? kiln::DType::f64 : kiln::DType::i64);
  ASSERT_EQ(got.shape(), expected.shape)
      << "shape: expected " << kiln::shape_str(expected.shape) << ", got " << kiln::shape_str(got.shape());
  std::vector<double> values = got.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double want = expected.values[i], have = values[i];
    if (std::abs(have - want) <= kTol * (1.0 + std::abs(want))) continue;
    if (bad++ < 5) ADD_FAILURE() << "element " << i << ": expected " << want << ", got " << have;
  }
  EXPECT_EQ(bad, 0) << bad << " of " << values.size() << " elements differ";
}

void run_case(const FixtureCase& c, const CaseFn& fn) {
  std::vector<Tensor> inputs, diff_inputs;
  std::vector<std::string> grad_labels;
  for (int k = 0; c.has("in" + std::to_string(k)); ++k) {
    Tensor x = c.tensor("in" + std::to_string(k));
    if (c.has("grad" + std::to_string(k))) {
      x.requires_grad_();
      diff_inputs.push_back(x);
      grad_labels.push_back("grad" + std::to_string(k));
    }
    inputs.push_back(x);
  }
  ASSERT_FALSE(inputs.empty()) << "case " << c.name << " has no in0";
  Outputs res = fn(inputs);
  expect_matches(c.name, c.get("out"), res.out);
  for (const auto& [label, t] : res.extra) {
    ASSERT_TRUE(c.has(label)) << "case " << c.name << ": kiln produced " << label << ", the fixture has none";
    expect_matches(c.name, c.get(label), t);
  }
  if (!diff_inputs.empty()) {
    auto grads = kiln::autograd::grad({res.out}, diff_inputs, {c.tensor("grad_out")});
    for (size_t i = 0; i < grads.size(); ++i) expect_matches(c.name, c.get(grad_labels[i]), grads[i]);
  }
  for (const FixtureTensor& t : c.tensors) {
    const std::string& l = t.label;
    bool used = l == "grad_out" || l == "out" || res.extra.count(l) ||
                std::find(grad_labels.begin(), grad_labels.end(), l) != grad_labels.end() ||
                (l.rfind("in", 0) == 0 && std::stoul(l.substr(2)) < inputs.size());
    EXPECT_TRUE(used) << "case " << c.name << ": fixture tensor " << l << " is not compared";
  }
}

TEST(TorchNnFixtures, FileCasesAndLambdasMatchOneToOne) {
  const auto& cases = fixture_cases();
  EXPECT_GE(cases.size(), 30u) << kFixturePath << " looks truncated";
  for (const FixtureCase& c : cases)
    EXPECT_TRUE(case_table().count(c.name)) << "case " << c.name << " has no lambda";
  for (const auto& [name, fn] : case_table())
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == name; }))
        << "lambda " << name << " has no case in " << kFixturePath;
}

class TorchNnFixtureCase : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchNnFixtureCase, MatchesPyTorch) {
  const auto& cases = fixture_cases();
  auto it =
      std::find_if(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == GetParam(); });
  ASSERT_NE(it, cases.end()) << "lambda " << GetParam() << " has no case in " << kFixturePath;
  run_case(*it, case_table().at(GetParam()));
}

std::vector<std::string> table_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : case_table()) names.push_back(name);
  return names;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(NnOps, TorchNnFixtureCase, ::testing::ValuesIn(table_names()), param_name);

}  // namespace
