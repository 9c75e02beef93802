// tests/test_torch_fixtures.cpp: compares kiln's op outputs and gradients with frozen PyTorch values from
// tests/fixtures/torch_ops.txt (written by tests/gen_fixtures.py; format in tests/support/fixture.h).
//
// Each case name maps to a lambda below that runs the same computation in kiln on the fixture's inputs
// in<k>. The harness marks in<k> as requiring grad exactly when the fixture holds grad<k>, computes
// d(sum(out * grad_out))/d(in<k>) with kiln::autograd::grad, and compares out, every out_<name> and every
// grad<k>. A case in the file without a lambda, or a lambda without a case, fails (so neither side can
// drift silently).
//
// Tolerance, in f64: |got - expected| <= 1e-10 + 1e-8 * |expected| per element; i64 and bool exactly.
// Shapes and dtypes must match exactly.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/autograd/engine.h>
#include <kiln/autograd/ops.h>
#include <kiln/tensor/tensor.h>

#include "support/fixture.h"

namespace {

using kiln::Tensor;
using kiln::test::FixtureCase;
using kiln::test::FixtureTensor;

constexpr double kAbsTol = 1e-10;
constexpr double kRelTol = 1e-8;

const std::string kFixturePath = std::string(KILN_FIXTURES_DIR) + "/torch_ops.txt";

// The outputs of one case: `out` (gradients flow from it) and extra outputs keyed by their full fixture
// label (e.g. "out_indices"), compared but not differentiated.
struct Outputs {
  Outputs(Tensor out_, std::map<std::string, Tensor> extra_ = {})
      : out(std::move(out_)), extra(std::move(extra_)) {}
  Tensor out;
  std::map<std::string, Tensor> extra;
};
using CaseFn = std::function<Outputs(const std::vector<Tensor>& in)>;

Outputs with_indices(const kiln::ValuesIndices& r) { return {r.values, {{"out_indices", r.indices}}}; }

// Scalar arguments (dims, slopes, bounds) are encoded in the case names and must match gen_fixtures.py.
const std::map<std::string, CaseFn>& case_table() {
  static const std::map<std::string, CaseFn> table = {
      // ---- broadcast gradients of binary ops ----
      {"add_3x1x4_2x4", [](auto& in) { return Outputs{kiln::add(in[0], in[1])}; }},
      {"sub_2x3x1_1x3x5", [](auto& in) { return Outputs{kiln::sub(in[0], in[1])}; }},
      {"mul_4x1_1x5", [](auto& in) { return Outputs{kiln::mul(in[0], in[1])}; }},
      {"div_2x3_3", [](auto& in) { return Outputs{kiln::div(in[0], in[1])}; }},
      {"pow_2x3_3_positive_base", [](auto& in) { return Outputs{kiln::pow(in[0], in[1])}; }},
      {"maximum_3x4_4_ties", [](auto& in) { return Outputs{kiln::maximum(in[0], in[1])}; }},
      {"minimum_3x4_4_ties", [](auto& in) { return Outputs{kiln::minimum(in[0], in[1])}; }},
      {"where_3x1_1x4_3x4", [](auto& in) { return Outputs{kiln::where(in[0], in[1], in[2])}; }},
      {"clamp_3x4_min-0.5_max0.5", [](auto& in) { return Outputs{kiln::clamp(in[0], -0.5, 0.5)}; }},
      // ---- reductions ----
      {"sum_2x3x4_dims02_keepdim",
       [](auto& in) {
         return Outputs{kiln::sum(in[0], {0, 2}, true)};
       }},
      {"sum_2x3x4_all", [](auto& in) { return Outputs{kiln::sum(in[0])}; }},
      {"mean_3x4x2_dim1_keepdim", [](auto& in) { return Outputs{kiln::mean(in[0], {1}, true)}; }},
      {"var_3x5_dim1_correction1_keepdim", [](auto& in) { return Outputs{kiln::var(in[0], {1}, 1, true)}; }},
      {"var_3x5_dim1_correction1", [](auto& in) { return Outputs{kiln::var(in[0], {1}, 1, false)}; }},
      {"std_3x4x2_dims01",
       [](auto& in) {
         return Outputs{kiln::std(in[0], {0, 1})};
       }},
      {"amax_3x4_dim1_ties", [](auto& in) { return Outputs{kiln::amax(in[0], {1})}; }},
      {"max_4x5_dim1", [](auto& in) { return with_indices(kiln::max(in[0], 1)); }},
      {"min_4x3_dim0", [](auto& in) { return with_indices(kiln::min(in[0], 0)); }},
      {"logsumexp_3x4_dim1_large", [](auto& in) { return Outputs{kiln::logsumexp(in[0], {1})}; }},
      {"norm_p2_3x4_dim1_zero_row", [](auto& in) { return Outputs{kiln::norm(in[0], 2.0, {1})}; }},
      {"norm_p2_3x4_all", [](auto& in) { return Outputs{kiln::norm(in[0], 2.0)}; }},
      // ---- softmax and log_softmax ----
      {"softmax_3x4_dim1_large", [](auto& in) { return Outputs{kiln::softmax(in[0], 1)}; }},
      {"softmax_3x4_dim0_large", [](auto& in) { return Outputs{kiln::softmax(in[0], 0)}; }},
      {"log_softmax_3x4_dim1_large", [](auto& in) { return Outputs{kiln::log_softmax(in[0], 1)}; }},
      {"log_softmax_3x4_dim0_large", [](auto& in) { return Outputs{kiln::log_softmax(in[0], 0)}; }},
      {"softmax_2x3x4_dim-1", [](auto& in) { return Outputs{kiln::softmax(in[0], -1)}; }},
      {"log_softmax_2x3x4_dim-1", [](auto& in) { return Outputs{kiln::log_softmax(in[0], -1)}; }},
      // ---- matmul and linear ----
      {"matmul_3x4_4x5", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"matmul_4_4x5", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"matmul_3x4_4", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"matmul_4_4_dot", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"matmul_2x1x3x4_5x4x2_batch_broadcast", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"matmul_2x3x4_4x5", [](auto& in) { return Outputs{kiln::matmul(in[0], in[1])}; }},
      {"linear_3x4_w5x4_b5", [](auto& in) { return Outputs{kiln::linear(in[0], in[1], in[2])}; }},
      {"linear_2x3x4_w5x4_b5", [](auto& in) { return Outputs{kiln::linear(in[0], in[1], in[2])}; }},
      // ---- elementwise unary ----
      {"gelu_erf", [](auto& in) { return Outputs{kiln::gelu(in[0])}; }},
      {"silu", [](auto& in) { return Outputs{kiln::silu(in[0])}; }},
      {"softplus_incl_pm30", [](auto& in) { return Outputs{kiln::softplus(in[0])}; }},
      {"leaky_relu_slope0.2", [](auto& in) { return Outputs{kiln::leaky_relu(in[0], 0.2)}; }},
      {"sigmoid_incl_pm40", [](auto& in) { return Outputs{kiln::sigmoid(in[0])}; }},
      {"tanh", [](auto& in) { return Outputs{kiln::tanh(in[0])}; }},
      {"log1p", [](auto& in) { return Outputs{kiln::log1p(in[0])}; }},
      {"rsqrt", [](auto& in) { return Outputs{kiln::rsqrt(in[0])}; }},
      {"erf", [](auto& in) { return Outputs{kiln::erf(in[0])}; }},
      // ---- movement ----
      {"cat_2x3_1x3_dim0",
       [](auto& in) {
         return Outputs{kiln::cat({in[0], in[1]}, 0)};
       }},
      {"cat_2x1_2x3_dim1",
       [](auto& in) {
         return Outputs{kiln::cat({in[0], in[1]}, 1)};
       }},
      {"stack_3_of_2x3_dim1",
       [](auto& in) {
         return Outputs{kiln::stack({in[0], in[1], in[2]}, 1)};
       }},
      {"gather_3x4_dim1", [](auto& in) { return Outputs{kiln::gather(in[0], 1, in[1])}; }},
      {"index_select_4x3_dim0_repeated",
       [](auto& in) { return Outputs{kiln::index_select(in[0], 0, in[1])}; }},
      {"scatter_add_3x4_dim0", [](auto& in) { return Outputs{kiln::scatter_add(in[0], 0, in[1], in[2])}; }},
      {"split_6x3_sizes1_2_3_dim0",
       [](auto& in) {
         // One output, cat(piece_i * (i + 1)), so each piece's gradient is scaled differently.
         std::vector<Tensor> pieces = kiln::split(in[0], kiln::Shape{1, 2, 3}, 0);
         std::vector<Tensor> scaled;
         for (size_t i = 0; i < pieces.size(); ++i) scaled.push_back(pieces[i] * static_cast<double>(i + 1));
         return Outputs{kiln::cat(scaled, 0)};
       }},
      {"permute201_reshape4x6_narrow1_1_4",
       [](auto& in) {
         return Outputs{kiln::narrow(kiln::reshape(kiln::permute(in[0], {2, 0, 1}), {4, 6}), 1, 1, 4)};
       }},
  };
  return table;
}

// Read once per process: every test below uses the same file.
const std::vector<FixtureCase>& fixture_cases() {
  static const std::vector<FixtureCase> cases = kiln::test::read_fixture_file(kFixturePath);
  return cases;
}

kiln::DType kiln_dtype(const FixtureTensor& t) {
  if (t.dtype == "f64") return kiln::DType::f64;
  if (t.dtype == "i64") return kiln::DType::i64;
  return kiln::DType::boolean;
}

// Compares one kiln result with its fixture tensor; reports at most a few bad elements per tensor.
void expect_matches(const std::string& case_name, const FixtureTensor& expected, const Tensor& got) {
  SCOPED_TRACE("case " + case_name + ", tensor " + expected.label);
  ASSERT_TRUE(got.defined()) << "kiln returned an undefined tensor";
  ASSERT_EQ(got.dtype(), kiln_dtype(expected)) << "dtype mismatch";
  ASSERT_EQ(got.shape(), expected.shape)
      << "shape: expected " << kiln::shape_str(expected.shape) << ", got " << kiln::shape_str(got.shape());
  std::vector<double> values = got.to_vector<double>();
  ASSERT_EQ(values.size(), expected.values.size());
  const bool exact = expected.dtype != "f64";
  int reported = 0, bad = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    double want = expected.values[i], have = values[i];
    // NaN compares false, so a NaN result counts as a mismatch.
    bool ok = exact ? have == want : std::abs(have - want) <= kAbsTol + kRelTol * std::abs(want);
    if (ok) continue;
    ++bad;
    if (reported++ < 5) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "element %zu: expected %.17g, got %.17g (diff %.3g)", i, want, have,
                    have - want);
      ADD_FAILURE() << "case " << case_name << ", " << expected.label << " " << msg;
    }
  }
  EXPECT_EQ(bad, 0) << "case " << case_name << ", " << expected.label << ": " << bad << " of "
                    << values.size() << " elements do not match";
}

void run_case(const FixtureCase& c, const CaseFn& fn) {
  // Inputs in<0>, in<1>, ... in order; they must be numbered without gaps.
  std::vector<Tensor> inputs, diff_inputs;
  std::vector<std::string> grad_labels;
  for (int k = 0; c.has("in" + std::to_string(k)); ++k) {
    Tensor x = c.tensor("in" + std::to_string(k));
    std::string grad_label = "grad" + std::to_string(k);
    if (c.has(grad_label)) {
      x.requires_grad_();
      diff_inputs.push_back(x);
      grad_labels.push_back(grad_label);
    }
    inputs.push_back(x);
  }
  ASSERT_FALSE(inputs.empty()) << "case " << c.name << " has no in0";

  Outputs res = fn(inputs);
  ASSERT_TRUE(c.has("out")) << "case " << c.name << " has no out";
  expect_matches(c.name, c.get("out"), res.out);
  for (const auto& [label, t] : res.extra) {
    ASSERT_TRUE(c.has(label)) << "case " << c.name << ": kiln produced " << label << ", the fixture has none";
    expect_matches(c.name, c.get(label), t);
  }

  if (!diff_inputs.empty()) {
    std::vector<Tensor> grads = kiln::autograd::grad({res.out}, diff_inputs, {c.tensor("grad_out")});
    ASSERT_EQ(grads.size(), diff_inputs.size());
    for (size_t i = 0; i < grads.size(); ++i) expect_matches(c.name, c.get(grad_labels[i]), grads[i]);
  }

  // Every fixture tensor must have been used: a reference nobody compares is a silent gap.
  for (const FixtureTensor& t : c.tensors) {
    const std::string& l = t.label;
    bool used = l == "grad_out" || l == "out" || res.extra.count(l) ||
                std::find(grad_labels.begin(), grad_labels.end(), l) != grad_labels.end();
    for (size_t k = 0; k < inputs.size(); ++k) used = used || l == "in" + std::to_string(k);
    EXPECT_TRUE(used) << "case " << c.name << ": fixture tensor " << l << " is not compared by the test";
  }
}

std::vector<std::string> table_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : case_table()) names.push_back(name);
  return names;
}

TEST(TorchFixtures, FileCasesAndLambdasMatchOneToOne) {
  const auto& cases = fixture_cases();
  EXPECT_GE(cases.size(), 50u) << kFixturePath << " looks truncated";
  for (const FixtureCase& c : cases)
    EXPECT_TRUE(case_table().count(c.name))
        << "case " << c.name << " in " << kFixturePath << " has no lambda in test_torch_fixtures.cpp";
  for (const auto& [name, fn] : case_table()) {
    bool found =
        std::any_of(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == name; });
    EXPECT_TRUE(found) << "lambda " << name << " has no case in " << kFixturePath;
  }
}

// One test per lambda, so a failing op shows up by name in ctest.
class TorchFixtureCase : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchFixtureCase, MatchesPyTorch) {
  const std::string& name = GetParam();
  const auto& cases = fixture_cases();
  auto it = std::find_if(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == name; });
  ASSERT_NE(it, cases.end()) << "lambda " << name << " has no case in " << kFixturePath;
  run_case(*it, case_table().at(name));
}

// gtest parameter names allow only [A-Za-z0-9_]; case names also use '-' and '.'.
std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ops, TorchFixtureCase, ::testing::ValuesIn(table_names()), param_name);

// ---- the reader itself: malformed files must fail loudly, naming file and line ----

class FixtureReaderErrors : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() /
             ("kiln_fixture_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt"))
                .string();
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  // Expects read_fixture_file to throw kiln::Error mentioning the file, "line <line>" and `fragment`.
  void expect_error(const std::string& text, int line, const std::string& fragment) {
    std::string path = write(text);
    try {
      kiln::test::read_fixture_file(path);
      ADD_FAILURE() << "no error for:\n" << text;
    } catch (const kiln::Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find("line " + std::to_string(line)), std::string::npos) << what;
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
    }
  }
  std::string path_;
};

TEST_F(FixtureReaderErrors, ParsesAWellFormedFile) {
  std::string path = write(
      "# comment\n\ncase c1\ntensor a f64 2 2 1 0.5 -1e-3\ntensor s f64 0 7\n"
      "tensor i i64 1 3 -2 0 9\ntensor b bool 1 2 1 0\nend\n");
  auto cases = kiln::test::read_fixture_file(path);
  ASSERT_EQ(cases.size(), 1u);
  const FixtureCase& c = cases[0];
  EXPECT_EQ(c.name, "c1");
  EXPECT_EQ(c.get("a").shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(c.get("a").values, (std::vector<double>{0.5, -1e-3}));
  EXPECT_TRUE(c.get("s").shape.empty());
  EXPECT_EQ(c.get("i").values, (std::vector<double>{-2, 0, 9}));
  EXPECT_THROW(c.get("missing"), kiln::Error);

  Tensor a = c.tensor("a"), s = c.tensor("s"), i = c.tensor("i"), b = c.tensor("b");
  EXPECT_EQ(a.dtype(), kiln::DType::f64);
  EXPECT_EQ(a.shape(), (kiln::Shape{2, 1}));
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{0.5, -1e-3}));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 7.0);
  EXPECT_EQ(i.dtype(), kiln::DType::i64);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{-2, 0, 9}));
  EXPECT_EQ(b.dtype(), kiln::DType::boolean);
  EXPECT_EQ(b.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
}

TEST_F(FixtureReaderErrors, MissingFile) {
  EXPECT_THROW(kiln::test::read_fixture_file("/nonexistent/kiln/fixture.txt"), kiln::Error);
}
TEST_F(FixtureReaderErrors, TooFewValues) {
  expect_error("case c\ntensor a f64 2 2 2 1 2 3\nend\n", 2, "needs 4 values, got 3");
}
TEST_F(FixtureReaderErrors, TooManyValues) {
  expect_error("case c\ntensor a f64 1 2 1 2 3\nend\n", 2, "got 3");
}
TEST_F(FixtureReaderErrors, BadNumber) { expect_error("case c\ntensor a f64 1 2 1 x2\nend\n", 2, "x2"); }
TEST_F(FixtureReaderErrors, FractionalInteger) {
  expect_error("case c\ntensor a i64 1 1 1.5\nend\n", 2, "1.5");
}
TEST_F(FixtureReaderErrors, BadBool) { expect_error("case c\ntensor a bool 1 1 2\nend\n", 2, "not 0 or 1"); }
TEST_F(FixtureReaderErrors, UnknownDtype) { expect_error("case c\ntensor a f32 1 1 1\nend\n", 2, "f32"); }
TEST_F(FixtureReaderErrors, NegativeDim) { expect_error("case c\ntensor a f64 1 -1\nend\n", 2, "negative"); }
TEST_F(FixtureReaderErrors, TensorOutsideCase) {
  expect_error("# x\ntensor a f64 0 1\n", 2, "outside a case");
}
TEST_F(FixtureReaderErrors, UnknownKeyword) { expect_error("case c\ntensr a f64 0 1\nend\n", 2, "tensr"); }
TEST_F(FixtureReaderErrors, UnclosedCase) { expect_error("\ncase c\ntensor a f64 0 1\n", 2, "no 'end'"); }
TEST_F(FixtureReaderErrors, NestedCase) { expect_error("case c\ncase d\nend\n", 2, "before the 'end'"); }
TEST_F(FixtureReaderErrors, DuplicateCase) {
  expect_error("case c\nend\ncase c\nend\n", 3, "duplicate case");
}
TEST_F(FixtureReaderErrors, DuplicateLabel) {
  expect_error("case c\ntensor a f64 0 1\ntensor a f64 0 2\nend\n", 3, "duplicate label");
}

}  // namespace
