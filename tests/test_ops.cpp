// tests/test_ops.cpp: runs the op table (support/op_cases.h) in every mode (on CUDA also in f16 and bf16),
// and checks that the table covers every op in autograd/op_list.h and that every node an op records is
// listed there.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "support/graph.h"
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

// record() accepts only names listed in op_list.h (OpName is checked at compile time); the same lookup
// at run time over every graph the table records, first and second order, shows no node escapes it.
static_assert(autograd::is_node_name("relu") && autograd::is_node_name("slice_backward"));
static_assert(!autograd::is_node_name("Relu") && !autograd::is_node_name("relu "));
static_assert(autograd::op_info(autograd::Op::bias_act).arity == 2);
static_assert(autograd::op_index("matmul") == static_cast<size_t>(autograd::Op::matmul));

TEST(OpTableCoverage, EveryRecordedNodeIsListed) {
  std::set<std::string> seen;
  for (const auto& c : op_cases()) {
    if (!c.gradcheck || c.large) continue;
    auto inputs = make_inputs(c, DType::f64, true);
    Tensor y = c.fn(inputs);
    for (const auto& name : graph_ops(y)) seen.insert(name);
    std::vector<Tensor> wrt;
    for (const auto& t : inputs)
      if (t.requires_grad()) wrt.push_back(t);
    auto grads = autograd::grad({sum(y)}, wrt, {}, /*retain_graph=*/true, /*create_graph=*/true,
                                /*allow_unused=*/true);
    for (const auto& g : grads)
      if (g.defined())
        for (const auto& name : graph_ops(g)) seen.insert(name);
  }
  for (const auto& name : seen) EXPECT_TRUE(autograd::is_node_name(name)) << "recorded node '" << name << "'";
  EXPECT_GT(seen.size(), 50u);  // the walk reached the table's graphs
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

// Kernels split work by shape, never by thread count: results and gradients are bit-identical for any
// count, odd ones (3, 7: uneven splits, more threads than cores here) included.
TEST_P(OpTable, ResultsDoNotDependOnThreadCount) {
  struct Restore {
    int threads = get_num_threads();
    ~Restore() { set_num_threads(threads); }
  } restore;
  const bool grads = op().gradcheck;
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<Tensor> in = make_inputs(op(), DType::f32, grads);
    Tensor y = op().fn(in);
    std::vector<std::vector<double>> out = {y.to_vector<double>()};
    if (grads && y.requires_grad()) {
      // A non-uniform upstream gradient, so every output element's contribution is distinct.
      Tensor w =
          arange(0, static_cast<double>(y.numel()), 1, {.dtype = y.dtype()}).reshape(y.shape()) * 0.01 + 1;
      (y * w).sum().backward();
      for (const Tensor& t : in)
        if (t.defined() && t.requires_grad() && t.grad().defined())
          out.push_back(t.grad().to_vector<double>());
    }
    return out;
  };
  const auto one = run(1);
  for (int threads : {2, 3, 7}) {
    const auto many = run(threads);
    ASSERT_EQ(one.size(), many.size()) << op().name();
    for (size_t k = 0; k < one.size(); ++k) {
      ASSERT_EQ(one[k].size(), many[k].size());
      for (size_t i = 0; i < one[k].size(); ++i)
        ASSERT_TRUE(one[k][i] == many[k][i] || (std::isnan(one[k][i]) && std::isnan(many[k][i])))
            << op().name() << (k == 0 ? " output" : " gradient of input ")
            << (k == 0 ? "" : std::to_string(k - 1)) << " element " << i << ": " << one[k][i]
            << " with 1 thread, " << many[k][i] << " with " << threads;
    }
  }
}

// The CPU's f16/bf16 path (f32 math, rounded once per kernel) against f64 on the same rounded inputs.
// Composite ops round after every kernel, so the tolerance is a few units of the dtype's precision.
// The tolerance in units of the dtype's epsilon (of |reference| + a quarter of the output's scale): the
// worst case measured over the whole table is 1.62 units (layer_norm_large_affine in bf16; 1.52 in f16),
// so 4 leaves room for summation-order changes and still fails a kernel that loses one more bit.
constexpr double kReducedUnits = 4;
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
      ASSERT_LE(std::abs(g[i] - r[i]), op().f32_atol + kReducedUnits * eps * (std::abs(r[i]) + 0.25 * scale))
          << op().name() << " " << low << " element " << i << ": " << g[i] << " vs f64 " << r[i];
    }
  }
}

// ---- CUDA against the CPU reference ----

// Ops whose CUDA kernels are not written yet. Each is skipped with this reason (never a silent pass), and
// each is used by an nn layer, so the work that adds its kernel deletes its entry: an op that CUDA does
// not support and that is not listed here FAILS, and so does a listed op that now runs (a stale entry).
const std::map<std::string, std::string>& cuda_pending() {
  static const std::map<std::string, std::string> pending = {
      // empty: conv and pooling landed with kernels/cuda/conv_cudnn.cpp and pool.cu
  };
  return pending;
}

// The same for f16/bf16: ops (by name, as in op_list.h) that CUDA or the CPU reference does not run in a
// reduced-precision dtype yet, with the reason. An unlisted "not supported" fails, and so does a listed op
// that now runs in both dtypes on both devices (a stale entry).
const std::map<std::string, std::string>& cuda_reduced_pending() {
  static const std::map<std::string, std::string> pending = {
      // empty: every op of the table runs in f16 and bf16 on the CPU reference
  };
  return pending;
}

TEST(OpTableCoverage, CudaPendingListNamesListedOps) {
  std::set<std::string> listed;
  for (const auto& info : autograd::kOps) listed.insert(info.name);
  for (const auto& [op, why] : cuda_pending())
    EXPECT_TRUE(listed.count(op)) << "cuda_pending names '" << op << "', which is not in op_list.h";
  for (const auto& [op, why] : cuda_reduced_pending())
    EXPECT_TRUE(listed.count(op)) << "cuda_reduced_pending names '" << op << "', which is not in op_list.h";
}

// An op's output and, where it has gradients, the gradients of sum(out * w) (w a fixed pattern) with
// respect to each floating input, computed on `device` from the case's inputs in `dtype`.
struct OpRun {
  Tensor out;
  std::vector<Tensor> grads;  // per input; undefined where the input has no gradient
};
OpRun run_on(const OpCase& c, DType dtype, Device device) {
  const bool with_grads = c.gradcheck;
  std::vector<Tensor> inputs;
  for (const Tensor& t : make_inputs(c, dtype, with_grads)) {
    Tensor d = t.detach().to(device);
    if (t.requires_grad()) d.requires_grad_();
    inputs.push_back(d);
  }
  OpRun r;
  r.out = c.fn(inputs);
  if (!with_grads || !is_floating(r.out.dtype()) || !r.out.requires_grad()) return r;
  std::vector<double> w(static_cast<size_t>(r.out.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<double>(static_cast<int>(i % 7) - 3) / 4.0;
  Tensor weight = from_vector(w, r.out.shape(), DType::f64).to(r.out.dtype()).to(device);
  sum(mul(r.out, weight)).backward();
  for (const Tensor& t : inputs) r.grads.push_back(t.requires_grad() ? t.grad() : Tensor());
  return r;
}

// got (any device) against want (CPU), elementwise within atol + rtol |want|; NaN matches NaN.
void expect_matches(const std::string& what, const Tensor& got, const Tensor& want, double rtol,
                    double atol) {
  ASSERT_EQ(got.defined(), want.defined()) << what << ": defined on one device only";
  if (!want.defined()) return;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  auto w = want.to_vector<double>(), g = got.to(Device::cpu()).to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i])) {
      ASSERT_TRUE(std::isnan(g[i])) << what << " element " << i << ": " << g[i] << ", CPU NaN";
      continue;
    }
    ASSERT_LE(std::abs(g[i] - w[i]), atol + rtol * std::abs(w[i]))
        << what << " element " << i << ": CUDA " << g[i] << ", CPU " << w[i];
  }
}

// Forward and input gradients on CUDA against the CPU kernels, in f32 and f64.
TEST_P(OpTable, CudaMatchesCpu) {
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device";
  const auto pending = cuda_pending().find(op().op);
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(op().name() + " in " + std::string(dtype_name(dtype)));
    OpRun want = run_on(op(), dtype, Device::cpu());
    OpRun got;
    try {
      got = run_on(op(), dtype, Device::cuda());
    } catch (const Error& e) {
      std::string what = e.what();
      if (pending != cuda_pending().end() && what.find("not supported") != std::string::npos)
        GTEST_SKIP() << "skipped: " << op().op << ": " << pending->second << " (" << what << ")";
      FAIL() << op().name() << " on CUDA (" << dtype_name(dtype) << "): " << what
             << (pending == cuda_pending().end() ? "" : " [listed in cuda_pending, but not as unsupported]");
    }
    ASSERT_EQ(pending, cuda_pending().end())
        << op().op << " runs on CUDA now: delete its entry from cuda_pending() in tests/test_ops.cpp";
    // f32: both sides are within the case's tolerance of the f64 result, so within twice of each other;
    // gradients go through more kernels (4x). f64: only summation order and libm ulps differ.
    const bool f32 = dtype == DType::f32;
    const double rtol = f32 ? 2 * op().f32_rtol : 1e-9, atol = f32 ? 2 * op().f32_atol : 1e-10;
    expect_matches("output", got.out, want.out, rtol, atol);
    ASSERT_EQ(got.grads.size(), want.grads.size());
    for (size_t i = 0; i < want.grads.size(); ++i)
      expect_matches("gradient of input " + std::to_string(i), got.grads[i], want.grads[i], 2 * rtol,
                     2 * atol);
  }
}

// f16/bf16 on CUDA against the CPU's reduced-precision reference (f32 math, rounded once per kernel) on the
// same rounded inputs: outputs and input gradients. A kernel may differ from the CPU by a unit in the last
// place (transcendentals, summation order) and ops chain kernels, so the tolerance is a few units of the
// dtype's precision. A dtype that either side reports as not supported is skipped with the reason.
TEST_P(OpTable, CudaMatchesCpuReducedPrecision) {
  if (!has_backend(DeviceType::cuda)) GTEST_SKIP() << "skipped: no CUDA device";
  const auto pending = cuda_reduced_pending().find(op().op);
  std::string skipped;
  int compared = 0;
  for (DType low : {DType::f16, DType::bf16}) {
    SCOPED_TRACE(op().name() + " in " + std::string(dtype_name(low)));
    const double eps = low == DType::f16 ? 0x1p-10 : 0x1p-7;
    OpRun want, got;
    for (Device device : {Device::cpu(), Device::cuda()}) {
      try {
        (device.is_cpu() ? want : got) = run_on(op(), low, device);
      } catch (const Error& e) {
        std::string what = e.what();
        if (what.find("not supported") == std::string::npos) FAIL() << "on " << device << ": " << what;
        if (pending == cuda_reduced_pending().end())
          FAIL() << op().name() << " is not supported in " << dtype_name(low) << " on " << device << " ("
                 << what << ") and is not listed in cuda_reduced_pending() in tests/test_ops.cpp";
        skipped += std::string(dtype_name(low)) + " (" + device.str() + ": " + what + ") ";
        break;
      }
    }
    if (!want.out.defined() || !got.out.defined()) continue;
    const double rtol = 2 * op().f32_rtol + 8 * eps, atol = 2 * op().f32_atol + 8 * eps;
    expect_matches("output", got.out, want.out, rtol, atol);
    ASSERT_EQ(got.grads.size(), want.grads.size());
    for (size_t i = 0; i < want.grads.size(); ++i)
      expect_matches("gradient of input " + std::to_string(i), got.grads[i], want.grads[i], 2 * rtol,
                     2 * atol);
    ++compared;
  }
  ASSERT_FALSE(pending != cuda_reduced_pending().end() && compared == 2)
      << op().op << " runs in f16 and bf16 on both devices now: delete its entry from cuda_reduced_pending()";
  if (compared < 2) GTEST_SKIP() << "pending (" << pending->second << "): " << skipped;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) { return op_cases()[info.param].name(); }

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::Range<size_t>(0, op_cases().size()), case_name);

}  // namespace
}  // namespace kiln::testing
