// tests/test_grad_scaler.cpp: optim::GradScaler on CPU parameters (PyTorch's torch.cuda.amp.GradScaler
// protocol): skipping a step with an inf/NaN gradient and backing off, growth after growth_interval clean
// steps, unscale_ then clip_grad_norm_, exactness of scaled training with power-of-two scales, several
// optimizers, the disabled pass-through, the state dict and every error message; and the tensor-returning
// clip_grad_norm_tensor_.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace {

using kiln::DType;
using kiln::Tensor;
using kiln::testing::error_of;
namespace optim = kiln::optim;

Tensor param(std::vector<float> values) { return kiln::from_vector(values).requires_grad_(); }

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

// loss = sum(p * p) / 2: the gradient is p itself (times the scale).
Tensor half_square(const Tensor& p) { return (p * p).sum() * 0.5; }

TEST(GradScaler, DefaultsArePyTorchs) {
  optim::GradScaler s;
  EXPECT_EQ(s.get_scale(), 65536.0);
  EXPECT_EQ(s.growth_factor(), 2.0);
  EXPECT_EQ(s.backoff_factor(), 0.5);
  EXPECT_EQ(s.growth_interval(), 2000);
  EXPECT_EQ(s.growth_tracker(), 0);
  EXPECT_TRUE(s.is_enabled());
}

TEST(GradScaler, ScaleMultipliesTheLossAndItsGradients) {
  Tensor p = param({1, -2, 3});
  optim::GradScaler scaler({.init_scale = 1024});
  Tensor loss = half_square(p);
  Tensor scaled = scaler.scale(loss);
  EXPECT_EQ(scaled.item<double>(), loss.item<double>() * 1024);
  scaled.backward();
  EXPECT_EQ(vals(p.grad()), (std::vector<double>{1024, -2048, 3072}));
  Tensor l64 = kiln::scalar_tensor(0.5, {.dtype = DType::f64});
  EXPECT_EQ(scaler.scale(l64).dtype(), DType::f64);
}

TEST(GradScaler, InfGradientSkipsTheStepAndHalvesTheScale) {
  for (float bad : {INFINITY, -INFINITY, NAN}) {
    Tensor p = param({1, 2, 3});
    optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
    optim::GradScaler scaler;
    scaler.scale(half_square(p)).backward();
    p.grad().data<float>()[1] = bad;  // an overflow in the backward pass
    EXPECT_FALSE(scaler.step(opt));
    EXPECT_EQ(vals(p), (std::vector<double>{1, 2, 3}));
    EXPECT_FALSE(opt.state_dict().contains("state.0.momentum_buffer"));  // the optimizer never ran
    scaler.update();
    EXPECT_EQ(scaler.get_scale(), 32768.0);
    EXPECT_EQ(scaler.growth_tracker(), 0);
    // The next clean step runs with the halved scale, on true-size gradients.
    opt.zero_grad();
    scaler.scale(half_square(p)).backward();
    EXPECT_EQ(vals(p.grad()), (std::vector<double>{32768, 65536, 98304}));
    EXPECT_TRUE(scaler.step(opt));
    scaler.update();
    auto after = vals(p);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(after[i], 0.9 * (i + 1), 1e-6);
    EXPECT_EQ(scaler.get_scale(), 32768.0);
    EXPECT_EQ(scaler.growth_tracker(), 1);
  }
}

TEST(GradScaler, GrowsAfterGrowthIntervalCleanSteps) {
  Tensor p = param({1, 2});
  optim::SGD opt({p}, {.lr = 0.0});
  optim::GradScaler scaler({.init_scale = 8, .growth_interval = 3});
  auto iteration = [&](bool overflow) {
    opt.zero_grad();
    scaler.scale(half_square(p)).backward();
    if (overflow) p.grad().data<float>()[0] = INFINITY;
    scaler.step(opt);
    scaler.update();
  };
  iteration(false);
  iteration(false);
  EXPECT_EQ(scaler.get_scale(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 2);
  iteration(false);
  EXPECT_EQ(scaler.get_scale(), 16.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  iteration(false);
  iteration(false);
  iteration(true);  // an overflow resets the count of clean steps
  EXPECT_EQ(scaler.get_scale(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  for (int i = 0; i < 3; ++i) iteration(false);
  EXPECT_EQ(scaler.get_scale(), 16.0);
}

TEST(GradScaler, GrowthStopsWhereTheScaleWouldOverflow) {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.0});
  const double big = static_cast<double>(std::numeric_limits<float>::max());
  optim::GradScaler scaler({.init_scale = big, .growth_interval = 1});
  opt.zero_grad();
  p.set_grad(kiln::zeros({1}));
  scaler.step(opt);
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), big);  // scale * 2 is inf in f32: kept, as PyTorch does
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, UnscaleThenClipSeesTrueGradients) {
  Tensor p = param({3, 4}), q = param({3, 4});
  optim::SGD opt_p({p}, {.lr = 1.0}), opt_q({q}, {.lr = 1.0});
  optim::GradScaler scaler;
  scaler.scale(half_square(p)).backward();
  scaler.unscale_(opt_p);
  EXPECT_EQ(vals(p.grad()), (std::vector<double>{3, 4}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm_({p}, 1.0), 5.0);
  EXPECT_TRUE(scaler.step(opt_p));  // does not unscale a second time
  scaler.update();
  // The same clipped step without a scaler.
  half_square(q).backward();
  optim::clip_grad_norm_({q}, 1.0);
  opt_q.step();
  EXPECT_EQ(vals(p), vals(q));
  EXPECT_NEAR(vals(p)[0], 3 - 0.6, 1e-6);
}

TEST(GradScaler, ScaledTrainingEqualsUnscaledTrainingExactly) {
  // Power-of-two scales and no overflow: scaling the loss and unscaling the gradients are exact, so N
  // scaled steps give bit-for-bit the parameters of N plain ones (an MLP with Adam, f32).
  kiln::manual_seed(7);
  Tensor x = kiln::randn({10, 5}), y = kiln::randint(0, 3, {10});
  std::vector<Tensor> init = {kiln::randn({6, 5}), kiln::randn({6}), kiln::randn({3, 6}), kiln::randn({3})};
  auto train = [&](bool enabled, double init_scale) {
    std::vector<Tensor> p;
    for (const Tensor& t : init) p.push_back(t.clone().detach().requires_grad_());
    optim::Adam opt(p, {.lr = 1e-2, .weight_decay = 1e-3});
    optim::GradScaler scaler({.init_scale = init_scale, .growth_interval = 4, .enabled = enabled});
    for (int s = 0; s < 12; ++s) {
      opt.zero_grad();
      Tensor logits = kiln::linear(kiln::relu(kiln::linear(x, p[0], p[1])), p[2], p[3]);
      Tensor loss = -kiln::gather(kiln::log_softmax(logits, 1), 1, y.unsqueeze(1)).mean();
      scaler.scale(loss).backward();
      EXPECT_TRUE(scaler.step(opt));
      scaler.update();
    }
    if (enabled) {
      EXPECT_EQ(scaler.get_scale(), init_scale * 8);  // grew at steps 4, 8 and 12
    }
    return p;
  };
  auto plain = train(false, 1.0);
  for (double scale : {1024.0, 65536.0}) {
    auto scaled = train(true, scale);
    for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(vals(scaled[i]), vals(plain[i])) << scale;
  }
}

TEST(GradScaler, AnInfInOneOptimizerBacksOffButTheOtherSteps) {
  Tensor a = param({1}), b = kiln::ones({2}, {.dtype = DType::f64}).requires_grad_();
  optim::SGD opt_a({a}, {.lr = 0.5}), opt_b({b}, {.lr = 0.5});
  optim::GradScaler scaler({.init_scale = 4});
  scaler.scale(half_square(a) + half_square(b).to(DType::f32)).backward();
  b.grad().data<double>()[1] = NAN;  // f64 gradients are checked too
  EXPECT_TRUE(scaler.step(opt_a));
  EXPECT_FALSE(scaler.step(opt_b));
  scaler.update();
  EXPECT_EQ(vals(a), (std::vector<double>{0.5}));
  EXPECT_EQ(vals(b), (std::vector<double>{1, 1}));
  EXPECT_EQ(scaler.get_scale(), 2.0);
}

TEST(GradScaler, UpdateWithANewScale) {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.5});
  optim::GradScaler scaler;
  scaler.update(256.0);  // allowed without inf checks
  EXPECT_EQ(scaler.get_scale(), 256.0);
  scaler.scale(half_square(p)).backward();
  EXPECT_EQ(vals(p.grad()), (std::vector<double>{256}));
  EXPECT_CONTAINS(error_of([&] { scaler.update(0.0); }),
                  "GradScaler.update: new_scale must be a finite value > 0, got 0");
}

TEST(GradScaler, DisabledPassesThrough) {
  Tensor p = param({2});
  optim::SGD opt({p}, {.lr = 0.5});
  optim::GradScaler scaler({.enabled = false});
  Tensor loss = half_square(p);
  EXPECT_EQ(scaler.scale(loss).impl(), loss.impl());
  loss.backward();
  scaler.unscale_(opt);
  EXPECT_EQ(vals(p.grad()), (std::vector<double>{2}));
  EXPECT_TRUE(scaler.step(opt));
  EXPECT_TRUE(scaler.step(opt));  // no protocol when disabled
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1.0);
  EXPECT_TRUE(scaler.state_dict().empty());
  scaler.load_state_dict({});  // ignored
}

TEST(GradScaler, StateDictRoundTrip) {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.0});
  optim::GradScaler a({.init_scale = 32, .growth_factor = 4, .backoff_factor = 0.25, .growth_interval = 5});
  for (int i = 0; i < 3; ++i) {
    p.set_grad(kiln::ones({1}));
    a.step(opt);
    a.update();
  }
  kiln::StateDict d = a.state_dict();
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"scale", "growth_factor", "backoff_factor", "growth_interval",
                                                "growth_tracker"}));
  EXPECT_EQ(d.at("growth_tracker").dtype(), DType::i64);
  optim::GradScaler b;
  b.load_state_dict(d);
  EXPECT_EQ(b.get_scale(), 32.0);
  EXPECT_EQ(b.growth_factor(), 4.0);
  EXPECT_EQ(b.backoff_factor(), 0.25);
  EXPECT_EQ(b.growth_interval(), 5);
  EXPECT_EQ(b.growth_tracker(), 3);
}

TEST(GradScaler, Errors) {
  using optim::GradScaler;
  EXPECT_CONTAINS(error_of([] { GradScaler({.init_scale = 0}); }),
                  "GradScaler: the scale must be a finite value > 0, got 0");
  EXPECT_CONTAINS(error_of([] { GradScaler({.growth_factor = 1.0}); }),
                  "GradScaler: growth_factor must be > 1.0, got 1");
  EXPECT_CONTAINS(error_of([] { GradScaler({.backoff_factor = 1.0}); }),
                  "GradScaler: backoff_factor must be in (0, 1), got 1");
  EXPECT_CONTAINS(error_of([] { GradScaler({.growth_interval = 0}); }),
                  "GradScaler: growth_interval must be >= 1, got 0");

  Tensor p = param({1, 2});
  optim::Adam opt({p});
  GradScaler scaler;
  EXPECT_CONTAINS(error_of([&] { scaler.scale(Tensor()); }), "GradScaler.scale: the loss is undefined");
  EXPECT_CONTAINS(error_of([&] { scaler.scale(kiln::zeros({}, {.dtype = DType::i64})); }),
                  "GradScaler.scale: the loss must be floating, got i64");
  EXPECT_CONTAINS(error_of([&] { scaler.update(); }),
                  "GradScaler.update: no inf checks were recorded prior to update()");
  p.set_grad(kiln::ones({2}));
  scaler.unscale_(opt);
  EXPECT_CONTAINS(
      error_of([&] { scaler.unscale_(opt); }),
      "GradScaler.unscale_: unscale_() has already been called on this optimizer (Adam) since the "
      "last update()");
  scaler.step(opt);
  EXPECT_CONTAINS(error_of([&] { scaler.unscale_(opt); }),
                  "GradScaler.unscale_: unscale_() is being called after step() on Adam");
  EXPECT_CONTAINS(error_of([&] { scaler.step(opt); }),
                  "GradScaler.step: step() has already been called on Adam since the last update()");
  scaler.update();
  p.set_grad(kiln::ones({2}));
  EXPECT_TRUE(scaler.step(opt));  // a new iteration after update()

  GradScaler fresh;
  EXPECT_CONTAINS(
      error_of([&] { fresh.load_state_dict({}); }),
      "GradScaler.load_state_dict: the state dict is empty (was it saved from a disabled GradScaler?)");
  kiln::StateDict d = fresh.state_dict();
  kiln::StateDict missing;
  missing.insert("scale", d.at("scale"));
  EXPECT_CONTAINS(error_of([&] { fresh.load_state_dict(missing); }),
                  "GradScaler.load_state_dict: missing entry 'growth_factor'");
  kiln::StateDict bad = d;
  bad.set("growth_tracker", kiln::scalar_tensor(5000, {.dtype = DType::i64}));
  EXPECT_CONTAINS(error_of([&] { fresh.load_state_dict(bad); }),
                  "GradScaler.load_state_dict: growth_tracker 5000 is outside [0, growth_interval = 2000)");
  bad = d;
  bad.set("scale", kiln::zeros({2}));
  EXPECT_CONTAINS(error_of([&] { fresh.load_state_dict(bad); }),
                  "GradScaler.load_state_dict: 'scale' must be a 0-d tensor, got shape [2]");
  bad = d;
  bad.set("backoff_factor", kiln::scalar_tensor(2.0));
  EXPECT_CONTAINS(error_of([&] { fresh.load_state_dict(bad); }),
                  "GradScaler.load_state_dict: backoff_factor must be in (0, 1), got 2");
  bad = d;
  bad.insert("extra", kiln::scalar_tensor(1.0));
  EXPECT_CONTAINS(error_of([&] { fresh.load_state_dict(bad); }),
                  "GradScaler.load_state_dict: unexpected entry 'extra'");
  EXPECT_EQ(fresh.get_scale(), 65536.0);  // unchanged by the failed loads
}

// ---- clip_grad_norm_tensor_ ----

TEST(ClipTensor, ReturnsTheNormAsA0dTensorAndClipsAsTheDoubleVersion) {
  for (double p : std::vector<double>{2.0, 1.0, INFINITY, 0.0}) {
    Tensor a = param({3, 4}), b = param({1, -2, 2}), c = param({3, 4}), d = param({1, -2, 2});
    for (const Tensor* t : {&a, &c}) t->set_grad(kiln::from_vector<float>({3, 4}));
    for (const Tensor* t : {&b, &d}) t->set_grad(kiln::from_vector<float>({1, -2, 2}));
    Tensor total = optim::clip_grad_norm_tensor_({a, b}, 2.0, p);
    EXPECT_EQ(total.dim(), 0);
    EXPECT_EQ(total.dtype(), DType::f64);
    EXPECT_EQ(total.item<double>(), optim::clip_grad_norm_({c, d}, 2.0, p));
    EXPECT_EQ(vals(a.grad()), vals(c.grad()));
    EXPECT_EQ(vals(b.grad()), vals(d.grad()));
  }
  Tensor none = param({1});
  EXPECT_EQ(optim::clip_grad_norm_tensor_({none}, 1.0).item<double>(), 0.0);
  EXPECT_CONTAINS(error_of([&] { optim::clip_grad_norm_tensor_({none}, -1.0); }),
                  "clip_grad_norm_: max_norm must be >= 0, got -1");
}

}  // namespace
