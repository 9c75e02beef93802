// tests/test_nn_module.cpp: nn::Module mechanics (names, state dicts, modes, conversions, freezing, hooks,
// printing), the containers, Linear and the initializers.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "support/helpers.h"

namespace kiln {
namespace {

using testing::error_of;
using testing::values;

nn::Sequential make_mlp() {
  return nn::Sequential{nn::Flatten(), nn::Linear(12, 8), nn::ReLU(), nn::Linear(8, 3)};
}

// A user-defined module with named members, as a LibTorch user would write one.
struct TwoTower : nn::Module {
  std::shared_ptr<nn::Linear> left, right;
  TwoTower() {
    left = register_module("left", std::make_shared<nn::Linear>(4, 2));
    right = register_module("right", std::make_shared<nn::Linear>(4, 2, /*bias=*/false));
    register_buffer("steps", zeros({}, {.dtype = DType::i64}));
  }
  Tensor forward(const Tensor& x) override { return (*left)(x) + (*right)(x); }
  std::string type_name() const override { return "TwoTower"; }
};

TEST(NnModule, NamesFollowPyTorch) {
  auto mlp = make_mlp();
  std::vector<std::string> names;
  for (auto& [n, t] : mlp.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias"}));
  TwoTower tt;
  auto sd = tt.state_dict();
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"steps", "left.weight", "left.bias", "right.weight"}));
  EXPECT_EQ(tt.parameters().size(), 3u);
  EXPECT_EQ(tt.num_parameters(), 8 + 2 + 8);
  EXPECT_EQ(tt.named_modules().size(), 2u);
}

TEST(NnModule, LinearComputesAffineMap) {
  manual_seed(1);
  nn::Linear lin(3, 2);
  Tensor x = randn({5, 3});
  Tensor expect = matmul(x, lin.weight.t()) + lin.bias;
  EXPECT_EQ(values(lin(x)), values(expect));
  EXPECT_CONTAINS(error_of([&] { lin(randn({5, 4})); }), "does not end in 3 features");
}

TEST(NnModule, LinearInitMatchesPyTorchBounds) {
  manual_seed(7);
  nn::Linear lin(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  auto w = values(lin.weight);
  double sq = 0;
  for (double v : w) {
    ASSERT_LE(std::abs(v), bound);
    sq += v * v;
  }
  // U(-b, b) has standard deviation b / sqrt(3).
  EXPECT_NEAR(std::sqrt(sq / w.size()), bound / std::sqrt(3.0), 0.01 * bound);
  for (double v : values(lin.bias)) ASSERT_LE(std::abs(v), bound);
  manual_seed(7);
  nn::Linear again(400, 300);
  EXPECT_EQ(values(again.weight), w);  // seeded
}

TEST(NnModule, StateDictRoundTripAndStrictErrors) {
  manual_seed(1);
  auto a = make_mlp();
  manual_seed(2);
  auto b = make_mlp();
  Tensor x = randn({4, 3, 4});
  EXPECT_NE(values(a(x)), values(b(x)));
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(values(a(x)), values(b(x)));

  StateDict partial;
  partial.insert("1.weight", zeros({8, 12}));
  partial.insert("extra", zeros({1}));
  std::string msg = error_of([&] { b.load_state_dict(partial); });
  EXPECT_CONTAINS(msg, "missing: [1.bias, 3.weight, 3.bias]");
  EXPECT_CONTAINS(msg, "unexpected: [extra]");
  b.load_state_dict(partial, /*strict=*/false);
  for (double v : values(b.state_dict().at("1.weight"))) ASSERT_EQ(v, 0.0);

  StateDict wrong = a.state_dict();
  StateDict bad;
  for (auto& [n, t] : wrong) bad.insert(n, n == "3.bias" ? zeros({4}) : t);
  Tensor before = b.state_dict().at("1.bias").clone();
  EXPECT_CONTAINS(error_of([&] { b.load_state_dict(bad); }),
                  "'3.bias' has shape [4] in the state dict but [3]");
  EXPECT_EQ(values(b.state_dict().at("1.bias")), values(before));  // nothing copied on failure
}

TEST(NnModule, StateDictSharesStorageButNotHistory) {
  nn::Linear lin(2, 2);
  auto sd = lin.state_dict();
  EXPECT_FALSE(sd.at("weight").requires_grad());
  Tensor(sd.at("weight")).fill_(3.0);  // a view of the live parameter, like PyTorch's
  EXPECT_EQ(lin.weight.at<float>({0, 0}), 3.0f);
}

TEST(NnModule, TrainEvalIsRecursive) {
  auto mlp = make_mlp();
  mlp.eval();
  EXPECT_FALSE(mlp.is_training());
  for (auto& c : mlp.children()) EXPECT_FALSE(c->is_training());
  mlp.train();
  for (auto& c : mlp.children()) EXPECT_TRUE(c->is_training());
}

TEST(NnModule, ToDtypeKeepsHandlesValid) {
  auto mlp = make_mlp();
  std::vector<Tensor> params = mlp.parameters();  // what an optimizer holds
  std::vector<double> w0 = values(params[0]);
  mlp.to(DType::f64);
  for (auto& p : params) {
    EXPECT_EQ(p.dtype(), DType::f64);
    EXPECT_TRUE(p.requires_grad());
  }
  EXPECT_EQ(values(params[0]), w0);
  Tensor y = mlp(randn({2, 12}, {.dtype = DType::f64}));
  EXPECT_EQ(y.dtype(), DType::f64);
  y.sum().backward();
  EXPECT_TRUE(params[0].grad().defined());
  TwoTower tt;
  tt.to(DType::f64);
  EXPECT_EQ(tt.buffer("steps").dtype(), DType::i64);  // integer buffers keep their dtype
}

TEST(NnModule, FreezingAndZeroGrad) {
  auto mlp = make_mlp();
  mlp[1]->requires_grad_(false);
  EXPECT_EQ(mlp.num_parameters(/*trainable_only=*/true), 8 * 3 + 3);
  mlp(randn({2, 12})).sum().backward();
  EXPECT_FALSE(mlp[1]->parameter("weight").grad().defined());
  Tensor g = mlp[3]->parameter("weight").grad();
  ASSERT_TRUE(g.defined());
  mlp.zero_grad(/*set_to_none=*/false);
  for (double v : values(mlp[3]->parameter("weight").grad())) ASSERT_EQ(v, 0.0);
  mlp.zero_grad();
  EXPECT_FALSE(mlp[3]->parameter("weight").grad().defined());
}

TEST(NnModule, HooksRunAroundForwardAndCanBeRemoved) {
  nn::Linear lin(2, 2);
  int calls = 0;
  int64_t pre = lin.register_forward_pre_hook([](nn::Module&, const Tensor& x) { return x * 0.0; });
  int64_t post = lin.register_forward_hook([&](nn::Module& m, const Tensor&, const Tensor& y) {
    ++calls;
    EXPECT_EQ(m.type_name(), "Linear");
    return y + 1.0;
  });
  Tensor y = lin(ones({1, 2}));
  EXPECT_EQ(calls, 1);
  for (int j = 0; j < 2; ++j) EXPECT_FLOAT_EQ(y.at<float>({0, j}), lin.bias.at<float>({j}) + 1.0f);
  lin.remove_hook(pre);
  lin.remove_hook(post);
  Tensor z = lin(ones({1, 2}));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(values(z), values(linear(ones({1, 2}), lin.weight, lin.bias)));
  EXPECT_CONTAINS(error_of([&] { lin.remove_hook(pre); }), "no hook with id");
}

TEST(NnModule, PrintsATreeWithParameterCounts) {
  auto mlp = make_mlp();
  std::ostringstream os;
  os << mlp;
  EXPECT_CONTAINS(os.str(), "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n");
  EXPECT_CONTAINS(os.str(), "(1): Linear(in_features=12, out_features=8, bias=true)");
  EXPECT_CONTAINS(os.str(), "Total parameters: 131; trainable: 131");
}

TEST(NnModule, ContainersIndexAndRejectMisuse) {
  auto mlp = make_mlp();
  EXPECT_EQ(mlp.size(), 4u);
  EXPECT_EQ(mlp[-1]->type_name(), "Linear");
  EXPECT_CONTAINS(error_of([&] { mlp[4]; }), "index 4 out of range for 4 modules");
  nn::ModuleList list{nn::Linear(2, 2), nn::ReLU()};
  EXPECT_EQ(list.size(), 2u);
  EXPECT_CONTAINS(error_of([&] { list(ones({1, 2})); }), "ModuleList has no forward()");
  nn::ModuleDict dict;
  dict.insert("enc", nn::Linear(2, 3));
  EXPECT_TRUE(dict.contains("enc"));
  EXPECT_EQ(dict.state_dict().keys(), (std::vector<std::string>{"enc.weight", "enc.bias"}));
  EXPECT_CONTAINS(error_of([&] { dict.insert("enc", nn::ReLU()); }), "'enc' is already registered");
  EXPECT_CONTAINS(error_of([&] { dict["dec"]; }), "no child module named 'dec'");
}

TEST(NnModule, UnflattenAndFlatten) {
  nn::Unflatten un(1, {1, 2, 3});
  EXPECT_EQ(un(zeros({4, 6})).shape(), (Shape{4, 1, 2, 3}));
  EXPECT_EQ(nn::Flatten()(zeros({4, 1, 2, 3})).shape(), (Shape{4, 6}));
  EXPECT_CONTAINS(error_of([&] { un(zeros({4, 5})); }), "do not multiply to 5");
}

TEST(NnInit, FormulasFollowPyTorch) {
  manual_seed(3);
  Tensor w = empty({256, 128, 3, 3});
  auto [fi, fo] = nn::init::calculate_fan_in_and_fan_out(w);
  EXPECT_EQ(fi, 128 * 9);
  EXPECT_EQ(fo, 256 * 9);
  auto std_of = [](const Tensor& t) {
    double s = 0;
    for (double v : values(t)) s += v * v;
    return std::sqrt(s / t.numel());
  };
  nn::init::kaiming_normal_(w, 0.0, nn::init::FanMode::fan_in, "relu");
  EXPECT_NEAR(std_of(w), std::sqrt(2.0 / (128 * 9)), 0.01 * std::sqrt(2.0 / (128 * 9)));
  nn::init::xavier_uniform_(w);
  const double bound = std::sqrt(6.0 / (fi + fo));
  for (double v : values(w)) ASSERT_LE(std::abs(v), bound);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_CONTAINS(error_of([] { nn::init::calculate_gain("swish"); }), "unknown nonlinearity 'swish'");
  Tensor v = zeros({3});
  EXPECT_CONTAINS(error_of([&] { nn::init::xavier_normal_(v); }), "at least 2 dims");
  nn::init::constant_(v, 2.5);
  EXPECT_EQ(values(v), (std::vector<double>{2.5, 2.5, 2.5}));
}

TEST(NnInit, OrthogonalRowsOrColumnsAreOrthonormal) {
  for (Shape s : {Shape{4, 9}, Shape{9, 4}, Shape{6, 2, 3}}) {
    Tensor q = empty(s, {.dtype = DType::f64});
    nn::init::orthogonal_(q, 2.0);
    Tensor m = q.reshape({s[0], -1});
    // The smaller side is orthonormal (times gain^2).
    Tensor g = s[0] <= m.size(1) ? matmul(m, m.t()) : matmul(m.t(), m);
    for (int64_t i = 0; i < g.size(0); ++i)
      for (int64_t j = 0; j < g.size(1); ++j) EXPECT_NEAR(g.at<double>({i, j}), i == j ? 4.0 : 0.0, 1e-12);
  }
}

}  // namespace
}  // namespace kiln
