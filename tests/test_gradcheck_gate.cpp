// gradcheck as a gate: it must fail where gradients are wrong in a single output element, and where both
// sides are NaN or infinite (those are never "equal").
#include <gtest/gtest.h>

#include <kiln/kiln.h>

using namespace kiln;

namespace {
Tensor f64_leaf(std::vector<double> v) {
  Tensor t = from_vector(v);
  t.requires_grad_();
  return t;
}
}  // namespace

TEST(GradcheckGate, NaNOnBothSidesFails) {
  // sqrt at -1: the analytical and the numerical gradients are both NaN.
  auto r =
      autograd::gradcheck([](const std::vector<Tensor>& x) { return sqrt(x[0]); }, {f64_leaf({-1.0, 4.0})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("element 0"), std::string::npos) << r.message;
}

TEST(GradcheckGate, InfiniteGradientFails) {
  auto r =
      autograd::gradcheck([](const std::vector<Tensor>& x) { return sqrt(x[0]); }, {f64_leaf({0.0, 4.0})});
  EXPECT_FALSE(r.ok);
}

TEST(GradcheckGate, ErrorInOneOutputElementIsFound) {
  // Output element 2 has gradient x instead of 2x (a detached factor); elements 0, 1 and 3 are right.
  auto f = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor good = x * x;
    Tensor bad = x * x.detach();
    return cat({good.narrow(0, 0, 2), bad.narrow(0, 2, 1), good.narrow(0, 3, 1)}, 0);
  };
  auto r = autograd::gradcheck(f, {f64_leaf({0.5, -1.0, 1.5, 2.0})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("element 2"), std::string::npos) << r.message;
  // Large outputs use several random projections; the same error is found there too.
  auto g = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    return cat({x * x, (x * x.detach()).narrow(0, 0, 1)}, 0);
  };
  std::vector<double> many(40, 0.75);
  EXPECT_FALSE(autograd::gradcheck(g, {f64_leaf(many)}).ok);
}

TEST(GradcheckGate, CorrectGradientsPass) {
  auto r = autograd::gradcheck([](const std::vector<Tensor>& x) { return exp(x[0]) * x[1]; },
                               {f64_leaf({0.1, -0.2, 0.3}), f64_leaf({1.0, 2.0, 3.0})});
  EXPECT_TRUE(r.ok) << r.message;
  std::vector<double> big(30);
  for (size_t i = 0; i < big.size(); ++i) big[i] = 0.1 * static_cast<double>(i) - 1;
  EXPECT_TRUE(
      autograd::gradcheck([](const std::vector<Tensor>& x) { return tanh(x[0]); }, {f64_leaf(big)}).ok);
  EXPECT_TRUE(autograd::gradgradcheck([](const std::vector<Tensor>& x) { return pow(x[0], 3.0); },
                                      {f64_leaf({0.0, 0.5, -2.0})})
                  .ok);
}
