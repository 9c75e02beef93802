// fit's diagnostics: each finding provoked by the run that should produce it, and a healthy run that
// produces none.
#include <gtest/gtest.h>

#include <sstream>

#include "support/helpers.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
using kiln::testing::blobs;
using kiln::testing::fashion_subset;
using kiln::testing::mlp;

namespace {

T::FitOptions diagnosing(T::FitOptions o = {}) {
  o.verbose = 0;
  o.diagnostics = true;
  if (o.metrics.empty()) o.metrics = {"accuracy"};
  return o;
}

const T::Finding* find(const std::vector<T::Finding>& fs, const std::string& kind) {
  for (const auto& f : fs)
    if (f.kind == kind) return &f;
  return nullptr;
}

std::string kinds(const std::vector<T::Finding>& fs) {
  std::string out;
  for (const auto& f : fs) out += f.kind + ": " + f.evidence + " | fix: " + f.fix + "\n";
  return out.empty() ? "(none)" : out;
}

std::shared_ptr<nn::Sequential> fashion_mlp(std::vector<int64_t> widths) {
  auto m = std::make_shared<nn::Sequential>(nn::Flatten());
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    m->push_back(nn::Linear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) m->push_back(nn::ReLU());
  }
  return m;
}

}  // namespace

TEST(TrainDiagnostics, HealthyRunHasNoFindings) {
  manual_seed(1);
  auto train = blobs(600, 8, 3), val = blobs(150, 8, 3, 0.5, 9);
  auto model = mlp(8, 32, 3);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true});
  std::ostringstream report;
  T::FitOptions o = diagnosing({.epochs = 5});
  o.verbose = 2;
  o.out = &report;
  T::History h = T::fit(*model, opt, loader, val, o);
  EXPECT_TRUE(h.diagnostics().empty()) << kinds(h.diagnostics());
  EXPECT_CONTAINS(report.str(), "Diagnostics: no problems found");
}

TEST(TrainDiagnostics, LearningRateTenGivesTheNonFiniteFindingNamingTheLayer) {
  manual_seed(2);
  auto train = fashion_subset(2000);
  auto model = fashion_mlp({784, 256, 128, 10});
  optim::SGD opt(model->parameters(), {.lr = 10.0});
  data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, {}, diagnosing({.epochs = 1}));
  const T::Finding* f = find(h.diagnostics(), "non_finite_loss");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->evidence, "first non-finite module output: ");
  EXPECT_CONTAINS(f->evidence, "(Linear)");
  EXPECT_CONTAINS(f->fix, "lower the learning rate");
}

TEST(TrainDiagnostics, A784To4To10ModelUnderfits) {
  manual_seed(3);
  auto train = fashion_subset(3000), val = fashion_subset(1000, 3000);
  auto model = fashion_mlp({784, 4, 10});
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, val, diagnosing({.epochs = 3}));
  const T::Finding* f = find(h.diagnostics(), "underfitting");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->evidence, "has 4 units, fewer than the 10 outputs");
  EXPECT_CONTAINS(f->fix, "widen layer '1'");
}

TEST(TrainDiagnostics, ALargeModelOn500SamplesOverfits) {
  manual_seed(4);
  auto train = fashion_subset(500), val = fashion_subset(1000, 500);
  auto model = fashion_mlp({784, 512, 512, 10});
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  data::DataLoader loader(train, {.batch_size = 50, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, val, diagnosing({.epochs = 25}));
  const T::Finding* f = find(h.diagnostics(), "overfitting");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->evidence, "val_loss rose for ");
  EXPECT_CONTAINS(f->fix, "EarlyStopping(patience=3, restore_best_weights) would have stopped at epoch ");
  EXPECT_CONTAINS(f->fix, "add Dropout or weight decay");
}

TEST(TrainDiagnostics, DuplicatedRowsBetweenTrainingAndValidationAreCaught) {
  manual_seed(5);
  auto train = blobs(300, 6, 3);
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < 40; ++i) idx.push_back(i * 7);  // 40 training rows...
  auto fresh = blobs(60, 6, 3, 0.5, 11);
  auto val = std::make_shared<data::ConcatDataset>(
      std::vector<data::DatasetPtr>{std::make_shared<data::Subset>(train, idx), fresh});  // ...among 100
  auto model = mlp(6, 32, 3);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, std::static_pointer_cast<const data::Dataset>(val),
                        diagnosing({.epochs = 2}));
  const T::Finding* f = find(h.diagnostics(), "train_val_overlap");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->evidence, "40 of 100 validation examples (40%)");
}

TEST(TrainDiagnostics, ClassImbalanceAndUnscaledInputs) {
  manual_seed(6);
  Tensor x = randn({400, 5}) * 200.0 + 50.0;  // spreads of 200 around 50
  std::vector<int64_t> y(400);
  for (int i = 0; i < 400; ++i) y[static_cast<size_t>(i)] = i % 10 == 0 ? 1 : 0;  // 9:1
  auto train = std::make_shared<data::TensorDataset>(x, from_vector(y));
  auto model = mlp(5, 16, 2);
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  data::DataLoader loader(train, {.batch_size = 40, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, {}, diagnosing({.epochs = 2}));
  const T::Finding* imb = find(h.diagnostics(), "class_imbalance");
  ASSERT_NE(imb, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(imb->evidence, "class 0 has 360 training examples, class 1 only 40 (9x)");
  EXPECT_CONTAINS(imb->fix, "class_weight = \"balanced\"");
  EXPECT_CONTAINS(imb->fix, "WeightedRandomSampler");
  const T::Finding* sc = find(h.diagnostics(), "unscaled_inputs");
  ASSERT_NE(sc, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(sc->fix, "StandardScaler");
}

TEST(TrainDiagnostics, DeadReluUnitsAreCounted) {
  manual_seed(7);
  auto train = blobs(200, 4, 2);
  auto model = mlp(4, 20, 2);
  {
    autograd::NoGradGuard no_grad;
    model->child("0")->parameter("bias").fill_(-100.0);  // every hidden unit starts (and stays) off
  }
  optim::SGD opt(model->parameters(), {.lr = 0.01});
  data::DataLoader loader(train, {.batch_size = 20});
  T::History h = T::fit(*model, opt, loader, {}, diagnosing({.epochs = 1}));
  const T::Finding* f = find(h.diagnostics(), "dead_relu");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->evidence, "ReLU '1': 20 of 20 units (100%) were never active");
}

TEST(TrainDiagnostics, LearningRateTooLowAndTooHigh) {
  manual_seed(8);
  auto train = blobs(400, 6, 3);
  auto model = mlp(6, 16, 3);
  optim::SGD opt(model->parameters(), {.lr = 1e-5});
  data::DataLoader loader(train, {.batch_size = 20, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, {}, diagnosing({.epochs = 3}));
  const T::Finding* low = find(h.diagnostics(), "lr_too_low");
  ASSERT_NE(low, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(low->fix, "raise the learning rate");

  // A loss curve that climbs: too high.
  T::TrainingRecord r;
  for (int i = 0; i < 100; ++i) r.batch_losses.push_back(1.0 + 0.02 * i);
  T::History hist;
  hist.append(0, {{"loss", 2.0}, {"lr", 0.5}});
  auto high = T::check_learning_rate(hist, r);
  ASSERT_TRUE(high.has_value());
  EXPECT_EQ(high->kind, "lr_too_high");
  EXPECT_CONTAINS(high->evidence, "at lr 0.5");
}

TEST(TrainDiagnostics, ExplodingGradientNorms) {
  T::TrainingRecord r;
  for (int i = 0; i < 20; ++i) r.grad_norms.push_back(i < 10 ? 1.0 : 5e3);
  auto f = T::check_exploding_gradients(r);
  ASSERT_TRUE(f.has_value());
  EXPECT_CONTAINS(f->evidence, "reached 5000");
  EXPECT_CONTAINS(f->fix, "clip_grad_norm");
  T::TrainingRecord calm;
  for (int i = 0; i < 20; ++i) calm.grad_norms.push_back(1.0 + 0.01 * i);
  EXPECT_FALSE(T::check_exploding_gradients(calm).has_value());
}

TEST(TrainDiagnostics, AnUnseededRunIsReported) {
  const Generator saved = default_generator();
  default_generator() = Generator();  // as in a process that never called manual_seed
  auto train = blobs(100, 4, 2);
  auto model = mlp(4, 16, 2);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  data::DataLoader loader(train, {.batch_size = 20});
  T::History h = T::fit(*model, opt, loader, {}, diagnosing({.epochs = 1}));
  default_generator() = saved;
  const T::Finding* f = find(h.diagnostics(), "not_reproducible");
  ASSERT_NE(f, nullptr) << kinds(h.diagnostics());
  EXPECT_CONTAINS(f->fix, "kiln::manual_seed(");
}
