// tests/test_ops.cpp: runs the op table (support/op_cases.h) in every mode (on CUDA also in f16 and bf16),
// and checks that the table covers every op in autograd/op_list.h.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "support/op_cases.h"

namespace kiln::testing {
namespace {

class OpTable : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& op() const { return op_cases()[GetParam()]; }
};

TEST(OpTableCoverage, EveryOpInTheListHasACase) {
  std::set<std::string> covered;
  for (const auto& c : op_cases()) covered.insert(c.op);
  std::set<std::string> listed;
  for (const auto& info : autograd::kOps) {
    listed.insert(info.name);
    EXPECT_TRUE(covered.count(info.name))
        << "op '" << info.name << "' has no case in tests/support/op_cases.cpp";
  }
  for (const auto& name : covered) EXPECT_TRUE(listed.count(name)) << "case for unknown op '" << name << "'";
}

TEST(OpTableCoverage, NondiffOpsAreNotGradchecked) {
  for (const auto& c : op_cases()) {
    for (const auto& info : autograd::kOps) {
      if (c.op == info.name && info.kind == autograd::OpKind::nondiff) {
        EXPECT_FALSE(c.gradcheck) << c.name() << " is listed as nondiff";
      }
    }
  }
}

TEST_P(OpTable, GradientsMatchFiniteDifferences) {
  if (!op().gradcheck) GTEST_SKIP() << op().op << " has no gradient";
  if (op().large) GTEST_SKIP() << "large case: forward checks only";
  auto inputs = make_inputs(op(), DType::f64, true);
  auto r = autograd::gradcheck(op().fn, inputs, {.eps = op().grad_eps});
  EXPECT_TRUE(r.ok) << op().name() << ": " << r.message;
}

TEST_P(OpTable, SecondOrderGradientsMatchFiniteDifferences) {
  if (!op().gradcheck || !op().gradgradcheck) GTEST_SKIP() << op().op << " has no second-order check";
  if (op().large) GTEST_SKIP() << "large case: forward checks only";
  auto inputs = make_inputs(op(), DType::f64, true);
  auto r = autograd::gradgradcheck(op().fn, inputs, {.eps = op().grad_eps});
  EXPECT_TRUE(r.ok) << op().name() << ": " << r.message;
}

// The f32 kernels (vectorized paths) against the same op computed in f64.
TEST_P(OpTable, Float32MatchesFloat64Reference) {
  Tensor ref = op().fn(make_inputs(op(), DType::f64, false));
  Tensor got = op().fn(make_inputs(op(), DType::f32, false));
  ASSERT_EQ(got.shape(), ref.shape()) << op().name();
  auto r = ref.to_vector<double>(), g = got.to_vector<double>();
  for (size_t i = 0; i < r.size(); ++i)
    ASSERT_LE(std::abs(g[i] - r[i]), op().f32_atol + op().f32_rtol * std::abs(r[i]))
        << op().name() << " element " << i << ": f32 " << g[i] << " vs f64 " << r[i];
}

// Kernels split work by shape, never by thread count: results are bit-identical.
TEST_P(OpTable, ResultsDoNotDependOnThreadCount) {
  int before = get_num_threads();
  set_num_threads(1);
  auto one = op().fn(make_inputs(op(), DType::f32, false)).to_vector<double>();
  set_num_threads(2);
  auto two = op().fn(make_inputs(op(), DType::f32, false)).to_vector<double>();
  set_num_threads(before);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i)
    ASSERT_TRUE(one[i] == two[i] || (std::isnan(one[i]) && std::isnan(two[i])))
        << op().name() << " element " << i << ": " << one[i] << " with 1 thread, " << two[i] << " with 2";
}

// The CPU's f16/bf16 path (f32 math, rounded once per kernel) against f64 on the same rounded inputs.
// Composite ops round after every kernel, so the tolerance is a few units of the dtype's precision.
TEST_P(OpTable, ReducedPrecisionMatchesFloat64Reference) {
  for (DType low : {DType::f16, DType::bf16}) {
    const double eps = low == DType::f16 ? 0x1p-10 : 0x1p-7;
    std::vector<Tensor> inputs = make_inputs(op(), low, false), wide;
    for (const Tensor& t : inputs) wide.push_back(is_reduced_float(t.dtype()) ? t.to(DType::f64) : t);
    Tensor ref = op().fn(wide);
    Tensor got = op().fn(inputs);
    ASSERT_EQ(got.shape(), ref.shape()) << op().name() << " " << low;
    // Results come out in the low dtype, or in the dtype a case converts them to (as the f64 run does).
    EXPECT_TRUE(got.dtype() == low || got.dtype() == ref.dtype()) << op().name() << ": " << got.dtype();
    auto r = ref.to_vector<double>(), g = got.to_vector<double>();
    double scale = 1;
    for (double v : r)
      if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < r.size(); ++i) {
      if (!std::isfinite(r[i])) continue;  // overflow of the narrower format is expected to differ
      ASSERT_LE(std::abs(g[i] - r[i]), op().f32_atol + 16 * eps * (std::abs(r[i]) + 0.25 * scale))
          << op().name() << " " << low << " element " << i << ": " << g[i] << " vs f64 " << r[i];
    }
  }
}

// Every non-CPU backend against the CPU reference.
TEST_P(OpTable, CudaMatchesCpu) {
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device";
  Tensor ref = op().fn(make_inputs(op(), DType::f32, false));
  std::vector<Tensor> inputs;
  for (const Tensor& t : make_inputs(op(), DType::f32, false)) inputs.push_back(t.to(Device::cuda()));
  Tensor got;
  try {
    got = op().fn(inputs).to(Device::cpu());
  } catch (const Error& e) {
    // A kernel the CUDA backend reports through supports() as missing (conv, pooling for now): a skip
    // that names it, never a silent pass. Any other error fails.
    std::string what = e.what();
    if (what.find("not supported") != std::string::npos && what.find("cuda") != std::string::npos)
      GTEST_SKIP() << "skipped: not on CUDA yet: " << what;
    FAIL() << op().name() << " on CUDA: " << what;
  }
  auto r = ref.to_vector<double>(), g = got.to_vector<double>();
  ASSERT_EQ(r.size(), g.size());
  for (size_t i = 0; i < r.size(); ++i)
    ASSERT_LE(std::abs(g[i] - r[i]), op().f32_atol + op().f32_rtol * std::abs(r[i]))
        << op().name() << " " << i;
}

// f16/bf16 on CUDA against the CPU's reduced-precision reference (f32 math, rounded once per kernel) on the
// same rounded inputs. A kernel may differ from the CPU by a unit in the last place (transcendentals, sum
// order) and composite ops chain kernels, so the tolerance is a few units of the dtype's precision.
TEST_P(OpTable, CudaMatchesCpuReducedPrecision) {
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device";
  std::string skipped;
  int compared = 0;
  for (DType low : {DType::f16, DType::bf16}) {
    const double eps = low == DType::f16 ? 0x1p-10 : 0x1p-7;
    std::vector<Tensor> inputs = make_inputs(op(), low, false);
    Tensor ref, got;
    try {
      ref = op().fn(inputs);
    } catch (const Error& e) {
      std::string what = e.what();
      if (what.find("not supported") == std::string::npos)
        FAIL() << op().name() << " in " << low << " on the CPU: " << what;
      skipped += std::string(dtype_name(low)) + " (CPU: " + what + ") ";
      continue;
    }
    std::vector<Tensor> on_gpu;
    for (const Tensor& t : inputs) on_gpu.push_back(t.to(Device::cuda()));
    try {
      got = op().fn(on_gpu).to(Device::cpu());
    } catch (const Error& e) {
      std::string what = e.what();
      if (what.find("not supported") == std::string::npos || what.find("cuda") == std::string::npos)
        FAIL() << op().name() << " in " << low << " on CUDA: " << what;
      skipped += std::string(dtype_name(low)) + " (CUDA: " + what + ") ";
      continue;
    }
    ASSERT_EQ(got.dtype(), ref.dtype()) << op().name() << " " << low;
    auto r = ref.to_vector<double>(), g = got.to_vector<double>();
    ASSERT_EQ(r.size(), g.size());
    for (size_t i = 0; i < r.size(); ++i) {
      if (std::isnan(r[i]) || std::isinf(r[i])) {
        ASSERT_TRUE(g[i] == r[i] || (std::isnan(r[i]) && std::isnan(g[i])))
            << op().name() << " " << low << " " << i;
        continue;
      }
      ASSERT_LE(std::abs(g[i] - r[i]),
                op().f32_atol + op().f32_rtol * std::abs(r[i]) + 8 * eps * (1 + std::abs(r[i])))
          << op().name() << " " << low << " element " << i << ": CUDA " << g[i] << " vs CPU " << r[i];
    }
    ++compared;
  }
  if (compared == 0) GTEST_SKIP() << "skipped: " << skipped;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) { return op_cases()[info.param].name(); }

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::Range<size_t>(0, op_cases().size()), case_name);

}  // namespace
}  // namespace kiln::testing
