// tests/test_nn_layers.cpp: every nn layer against PyTorch (tests/fixtures/torch_nn_layers.txt, written by
// tests/gen_nn_layer_fixtures.py). Each case rebuilds the layer from its name, loads PyTorch's parameters
// and buffers through load_state_dict (strict, so the state-dict names must be PyTorch's), and compares the
// output, the input and parameter gradients, and the buffers after the forward pass (BatchNorm's running
// statistics). All in float64; tolerance 1e-10 relative to each tensor's largest magnitude plus 1e-12
// absolute (float64 reorderings of sums differ in the last bits; a conv bias before BatchNorm has a true
// gradient of 0 that PyTorch reports as 1e-16 noise).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "support/fixture.h"
#include "support/helpers.h"

namespace kiln {
namespace {

using testing::values;
using Factory = std::function<nn::ModulePtr()>;

template <class M, class... A>
Factory make(A... args) {
  return [=] { return std::make_shared<M>(args...); };
}

const std::map<std::string, Factory>& factories() {
  using namespace nn;
  static const std::map<std::string, Factory> f = {
      {"linear", make<Linear>(5, 3)},
      {"linear_nobias_3d", make<Linear>(5, 3, false)},
      {"conv1d_s2_p1", make<Conv1d>(4, 6, 3, Conv1dOptions{.stride = 2, .padding = 1})},
      {"conv2d_p1", make<Conv2d>(3, 4, Size2(3), Conv2dOptions{.padding = 1})},
      {"conv2d_s21_p10_d12_g2",
       make<Conv2d>(4, 6, Size2(3, 2),
                    Conv2dOptions{.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2})},
      {"conv2d_same_k4", make<Conv2d>(3, 2, Size2(4), Conv2dOptions{.padding = "same"})},
      {"conv2d_nobias", make<Conv2d>(2, 3, Size2(2), Conv2dOptions{.bias = false})},
      {"conv_transpose2d_s2_p1_op1",
       make<ConvTranspose2d>(4, 3, Size2(3), ConvTranspose2dOptions{.stride = 2, .padding = 1, .output_padding = 1})},
      {"maxpool2d_k2", make<MaxPool2d>(Size2(2))},
      {"maxpool2d_k3_s2_p1_ceil",
       make<MaxPool2d>(Size2(3), MaxPool2dOptions{.stride = 2, .padding = 1, .ceil_mode = true})},
      {"avgpool2d_k3_s2_p1_nopad",
       make<AvgPool2d>(Size2(3), AvgPool2dOptions{.stride = 2, .padding = 1, .count_include_pad = false})},
      {"avgpool2d_k2", make<AvgPool2d>(Size2(2))},
      {"adaptive_avgpool2d_3x2", make<AdaptiveAvgPool2d>(Size2(3, 2))},
      {"batchnorm1d", make<BatchNorm1d>(4)},
      {"batchnorm1d_3d", make<BatchNorm1d>(3, BatchNormOptions{.momentum = 0.3})},
      {"batchnorm2d", make<BatchNorm2d>(3)},
      {"batchnorm2d_eval", make<BatchNorm2d>(3)},
      {"batchnorm2d_noaffine", make<BatchNorm2d>(3, BatchNormOptions{.eps = 1e-3, .affine = false})},
      {"layernorm_4x5", make<LayerNorm>(Shape{4, 5})},
      {"layernorm_noaffine", make<LayerNorm>(Shape{6}, LayerNormOptions{.eps = 1e-6, .elementwise_affine = false})},
      {"groupnorm_2_6", make<GroupNorm>(2, 6)},
      {"embedding_pad0", make<Embedding>(10, 4, EmbeddingOptions{.padding_idx = 0})},
      {"relu", make<ReLU>()},
      {"leaky_relu_0.2", make<LeakyReLU>(0.2)},
      {"gelu", make<GELU>()},
      {"silu", make<SiLU>()},
      {"sigmoid", make<Sigmoid>()},
      {"tanh", make<Tanh>()},
      {"softmax_dim1", make<Softmax>(1)},
      {"log_softmax_last", make<LogSoftmax>(-1)},
      {"flatten", make<Flatten>()},
      {"unflatten_1_2x3", make<Unflatten>(1, Shape{2, 3})},
      {"dropout_eval", make<Dropout>(0.5)},
      {"sequential_mlp", [] { return std::make_shared<Sequential>(Linear(6, 5), ReLU(), Linear(5, 2)); }},
      {"sequential_cnn",
       [] {
         return std::make_shared<Sequential>(Conv2d(1, 3, 3, {.padding = 1}), BatchNorm2d(3), ReLU(),
                                             MaxPool2d(2), Flatten(), Linear(12, 2));
       }},
  };
  return f;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = 1e-300;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], 1e-10 * scale + 1e-12) << what << " element " << i;
}

const std::vector<test::FixtureCase>& cases() {
  static const auto c = test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/torch_nn_layers.txt");
  return c;
}

class NnLayerFixture : public ::testing::TestWithParam<size_t> {};

TEST_P(NnLayerFixture, MatchesPyTorch) {
  const auto& c = cases()[GetParam()];
  auto it = factories().find(c.name);
  ASSERT_NE(it, factories().end()) << "no kiln layer for fixture case " << c.name;
  nn::ModulePtr layer = it->second();
  layer->to(DType::f64);
  const bool eval = c.name.size() > 5 && c.name.substr(c.name.size() - 5) == "_eval";
  layer->train(!eval);

  StateDict sd;
  for (const auto& t : c.tensors)
    if (t.label.rfind("sd.", 0) == 0) sd.insert(t.label.substr(3), c.tensor(t.label));
  layer->load_state_dict(sd);  // strict: PyTorch's names

  Tensor x = c.tensor("in");
  if (is_floating(x.dtype())) x.requires_grad_();
  Tensor y = (*layer)(x);
  expect_close(y, c.tensor("out"), c.name + " out");
  (y * c.tensor("grad_out")).sum().backward();
  if (c.has("grad_in")) expect_close(x.grad(), c.tensor("grad_in"), c.name + " grad_in");
  for (auto& [name, p] : layer->named_parameters()) {
    ASSERT_TRUE(c.has("grad." + name)) << name;
    Tensor g = p.grad().defined() ? p.grad() : zeros_like(p);
    expect_close(g, c.tensor("grad." + name), c.name + " grad." + name);
  }
  for (auto& [name, b] : layer->named_buffers())
    expect_close(b, c.tensor("after." + name), c.name + " after." + name);
}

INSTANTIATE_TEST_SUITE_P(AllLayers, NnLayerFixture, ::testing::Range<size_t>(0, cases().size()),
                         [](const auto& info) {
                           std::string n = cases()[info.param].name;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(NnLayers, EveryFactoryHasAFixture) {
  for (const auto& [name, f] : factories()) {
    bool found = false;
    for (const auto& c : cases()) found = found || c.name == name;
    EXPECT_TRUE(found) << name;
  }
}

TEST(NnLayers, BatchNormModesAndCounters) {
  manual_seed(5);
  nn::BatchNorm1d bn(3);
  Tensor x = randn({16, 3}) * 2.0 + 1.0;
  bn(x);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  bn.eval();
  Tensor running = bn.running_mean.clone();
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);  // eval changes no statistics
  EXPECT_EQ(values(bn.running_mean), values(running));
  // eval normalizes with the running statistics: (x - mean) / sqrt(var + eps)
  Tensor expect = (x - bn.running_mean) / sqrt(bn.running_var + 1e-5);
  auto a = values(y), b = values(expect);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
  EXPECT_CONTAINS(testing::error_of([&] { bn(randn({4, 5})); }), "has 5 channels");
  nn::BatchNorm2d bn2(3);
  EXPECT_CONTAINS(testing::error_of([&] { bn2(randn({4, 3})); }), "expected a (N, C, H, W) input");
}

TEST(NnLayers, DropoutOnlyInTraining) {
  manual_seed(9);
  nn::Dropout drop(0.25);
  Tensor x = ones({100000});
  auto v = values(drop(x));
  int64_t zeros = 0;
  for (double e : v) {
    if (e == 0.0)
      ++zeros;
    else
      ASSERT_FLOAT_EQ(e, 1.0 / 0.75);
  }
  EXPECT_NEAR(zeros / 100000.0, 0.25, 0.01);
  drop.eval();
  EXPECT_EQ(values(drop(x)), values(x));
  EXPECT_CONTAINS(testing::error_of([] { nn::Dropout(1.5); }), "p must be in [0, 1]");
}

TEST(NnLayers, ConvSettingsAreCheckedAndPrinted) {
  EXPECT_CONTAINS(testing::error_of([] { nn::Conv2d(3, 4, 3, {.stride = 2, .padding = "same"}); }),
                  "padding=\"same\" needs stride 1");
  EXPECT_CONTAINS(testing::error_of([] { nn::Conv2d(3, 4, 3, {.groups = 2}); }), "divisible by groups");
  EXPECT_CONTAINS(testing::error_of([] { nn::Conv2d(3, 4, 3, {.padding = "full"}); }), "unknown mode 'full'");
  nn::Conv2d conv(1, 8, 3, {.padding = 1});
  std::ostringstream os;
  os << conv;
  EXPECT_CONTAINS(os.str(), "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_CONTAINS(os.str(), "Total parameters: 80");
  // PyTorch's default init: weight and bias within 1/sqrt(fan_in) = 1/3.
  for (double v : values(conv.weight)) ASSERT_LE(std::abs(v), 1.0 / 3.0);
  EXPECT_EQ(conv(zeros({2, 1, 5, 5})).shape(), (Shape{2, 8, 5, 5}));
}

TEST(NnLayers, EmbeddingPaddingRowStartsAtZero) {
  nn::Embedding emb(5, 3, {.padding_idx = -1});
  EXPECT_EQ(emb.padding_idx, 4);
  for (double v : values(emb.weight.select(0, 4))) EXPECT_EQ(v, 0.0);
  EXPECT_CONTAINS(testing::error_of([] { nn::Embedding(5, 3, {.padding_idx = 5}); }),
                  "padding_idx 5 out of range");
}

}  // namespace
}  // namespace kiln
