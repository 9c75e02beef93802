// Forward values that the op table checks only against kiln itself (f32 against f64), here against an
// independent reference: C++'s own comparison operators on IEEE special values, and argmax / argmin
// against a plain scan with PyTorch's rules (the first index of the extreme value; NaN counts as the
// extreme, as in torch.argmax / torch.argmin).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include <kiln/kiln.h>

using namespace kiln;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<double> kValues = {-kInf, -1.5, -0.0, 0.0, 4.9e-324, 1.0, 2.0, kInf, kNaN};

struct Cmp {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<bool(double, double)> ref;
};

}  // namespace

TEST(IndependentReferences, ComparisonsMatchCppOperatorsOnSpecialValues) {
  const std::vector<Cmp> cmps = {
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); },
       [](double a, double b) { return a == b; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); },
       [](double a, double b) { return a != b; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); },
       [](double a, double b) { return a < b; }},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); },
       [](double a, double b) { return a <= b; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); },
       [](double a, double b) { return a > b; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); },
       [](double a, double b) { return a >= b; }},
  };
  // Every pair, laid out as two long vectors so full vector blocks and the tail are both exercised.
  std::vector<double> as, bs;
  for (double a : kValues)
    for (double b : kValues) as.push_back(a), bs.push_back(b);
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor A = from_vector(as).to(dtype), B = from_vector(bs).to(dtype);
    for (const Cmp& c : cmps) {
      std::vector<uint8_t> got = c.op(A, B).to_vector<uint8_t>();
      for (size_t i = 0; i < as.size(); ++i) {
        // The f32 run compares the values rounded to f32 (the denormal becomes 0).
        const double a = dtype == DType::f32 ? static_cast<float>(as[i]) : as[i];
        const double b = dtype == DType::f32 ? static_cast<float>(bs[i]) : bs[i];
        EXPECT_EQ(got[i] != 0, c.ref(a, b)) << c.name << "(" << a << ", " << b << ") in " << dtype;
      }
    }
  }
}

TEST(IndependentReferences, ArgmaxArgminFollowPyTorch) {
  auto scan = [](const std::vector<double>& v, bool max) {
    int64_t best = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::isnan(v[i])) return static_cast<int64_t>(i);  // the first NaN wins
      if (max ? v[i] > v[best] : v[i] < v[best]) best = static_cast<int64_t>(i);
    }
    return best;
  };
  const std::vector<std::vector<double>> rows = {
      {3, 1, 3, 2},                 // ties: the first index
      {-kInf, -kInf, -5},           // infinities are ordinary values
      {1, kNaN, 7, kNaN},           // NaN is the extreme
      {0.0, -0.0, 0.0},             // -0 == 0: the first
      std::vector<double>(40, 2.5)  // a long row of ties
  };
  for (const auto& row : rows) {
    Tensor t = from_vector(row);
    EXPECT_EQ(t.argmax(0).item<int64_t>(), scan(row, true)) << "argmax of " << t;
    EXPECT_EQ(t.argmin(0).item<int64_t>(), scan(row, false)) << "argmin of " << t;
  }
  // Along a dimension of a 2-D tensor: every row on its own.
  Tensor m = from_vector(std::vector<double>{1, 5, 5, 0, 9, -1, 2, 2}, Shape{2, 4});
  EXPECT_EQ(m.argmax(1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(m.argmin(1).to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(m.argmax(0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 1}));
}
