// Places where kiln follows PyTorch after once departing from it, each against PyTorch's documented
// result: pow's gradient at a zero base, type promotion of C++ numbers and of cat, floating functions of
// integer tensors, clamp with min > max.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <kiln/kiln.h>

using namespace kiln;

namespace {
Tensor leaf(std::vector<double> v) {
  Tensor t = from_vector(v);
  t.requires_grad_();
  return t;
}
}  // namespace

TEST(PyTorchSemantics, PowGradientAtZeroBaseIsFinite) {
  // d/dx x^0 = 0 everywhere (PyTorch masks exponent == 0), also at x = 0.
  Tensor x = leaf({0.0, 2.0, -1.5});
  pow(x, 0.0).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
  // Second derivative of x^1 and third of x^2 at 0: 0, as finite differences and PyTorch give.
  Tensor z = leaf({0.0});
  Tensor g1 = autograd::grad({pow(z, 1.0).sum()}, {z}, {}, false, true)[0];
  Tensor g2 = autograd::grad({g1.sum()}, {z}, {}, false, true, true)[0];
  if (g2.defined()) EXPECT_EQ(g2.to_vector<double>(), std::vector<double>{0.0});
  Tensor w = leaf({0.0});
  Tensor d1 = autograd::grad({pow(w, 2.0).sum()}, {w}, {}, false, true)[0];
  Tensor d2 = autograd::grad({d1.sum()}, {w}, {}, false, true)[0];
  EXPECT_EQ(d2.to_vector<double>(), std::vector<double>{2.0});
  Tensor d3 = autograd::grad({d2.sum()}, {w}, {}, false, true, true)[0];
  if (d3.defined()) EXPECT_EQ(d3.to_vector<double>(), std::vector<double>{0.0});
  // Broadcast: one zero base must not poison the summed exponent-side or base-side gradient.
  Tensor base = leaf({0.0, 1.0, 2.0});
  Tensor e = leaf({0.0});
  pow(base, e).sum().backward();
  for (double v : base.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
  for (double v : e.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(PyTorchSemantics, NumbersPromoteIntegerTensors) {
  Tensor i = from_vector(std::vector<int64_t>{7, -3});
  Tensor r = i * 2.5;
  EXPECT_EQ(r.dtype(), DType::f32);
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{17.5f, -7.5f}));
  EXPECT_EQ((i + 0.5).to_vector<float>(), (std::vector<float>{7.5f, -2.5f}));
  EXPECT_EQ((1.5 - i).dtype(), DType::f32);
  // An integral number keeps the integer dtype, as a Python int does.
  EXPECT_EQ((i * 2.0).dtype(), DType::i64);
  EXPECT_EQ((i * 2.0).to_vector<int64_t>(), (std::vector<int64_t>{14, -6}));
}

TEST(PyTorchSemantics, FloatingFunctionsOfIntegersComputeInFloat32) {
  Tensor i = from_vector(std::vector<int64_t>{0, 1, 4});
  Tensor e = exp(i);
  EXPECT_EQ(e.dtype(), DType::f32);
  EXPECT_FLOAT_EQ(e.to_vector<float>()[1], std::exp(1.0f));
  EXPECT_EQ(sqrt(i).to_vector<float>(), (std::vector<float>{0, 1, 2}));
  EXPECT_FLOAT_EQ(log(i).to_vector<float>()[2], std::log(4.0f));
}

TEST(PyTorchSemantics, CatPromotesMixedDtypes) {
  Tensor a = from_vector(std::vector<float>{1, 2}), b = from_vector(std::vector<double>{3});
  Tensor c = cat({a, b}, 0);
  EXPECT_EQ(c.dtype(), DType::f64);
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  Tensor la = from_vector(std::vector<float>{1, 2});
  la.requires_grad_();
  cat({la, b}, 0).sum().backward();
  EXPECT_EQ(la.grad().dtype(), DType::f32);
}

TEST(PyTorchSemantics, ClampWithMinAboveMaxGivesMax) {
  Tensor x = leaf({-1.0, 0.5, 3.0});
  Tensor y = clamp(x, 2.0, 1.0);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 1, 1}));
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(clamp(x, 0.0, 1.0).to_vector<double>(), (std::vector<double>{0, 0.5, 1}));
}
