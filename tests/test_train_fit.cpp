// fit / evaluate / predict: learning, equality with the hand-written loop, resume, reproducibility, the
// options (schedules, clipping, accumulation, class weights, steps_per_epoch, loss scaling) and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "support/helpers.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
namespace F = kiln::nn::functional;
using kiln::testing::bitwise_equal;
using kiln::testing::blobs;
using kiln::testing::error_of;
using kiln::testing::mlp;
using kiln::testing::quiet;

TEST(TrainFit, LearnsSeparableBlobsAndRecordsHistory) {
  manual_seed(1);
  auto train = blobs(600, 8, 3), val = blobs(150, 8, 3, 0.5, 8);
  auto model = mlp(8, 32, 3);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true});
  T::History h = T::fit(*model, opt, loader, val, quiet({.epochs = 5, .metrics = {"accuracy"}}));
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h.keys(), (std::vector<std::string>{"accuracy", "loss", "lr", "val_accuracy", "val_loss"}));
  EXPECT_GT(h["val_accuracy"].back(), 0.95);
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_DOUBLE_EQ(h["lr"][0], 1e-2);
  // The validation numbers are what evaluate reports for the final model.
  T::Logs ev = T::evaluate(*model, val, {.metrics = {"accuracy"}});
  EXPECT_NEAR(ev.at("loss"), h["val_loss"].back(), 1e-6);
  EXPECT_DOUBLE_EQ(ev.at("accuracy"), h["val_accuracy"].back());
  // The classification report of the last validation pass.
  ASSERT_TRUE(h.has_validation_predictions());
  EXPECT_EQ(h.validation_true().numel(), 150);
  EXPECT_CONTAINS(h.classification_report(), "weighted avg");
}

// With the same seed, fit takes exactly the steps of the plain loop: same batches, same dropout masks,
// same updates, bit for bit.
TEST(TrainFit, EqualsTheHandWrittenLoopBitwise) {
  auto train = blobs(300, 6, 3);
  auto run = [&](bool use_fit) {
    manual_seed(3);
    auto model = mlp(6, 16, 3, 0.25);
    optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
    optim::StepLR sched(opt, {.step_size = 1, .gamma = 0.5});
    data::DataLoader loader(train, {.batch_size = 50, .shuffle = true});
    if (use_fit) {
      T::fit(*model, opt, loader, {}, quiet({.epochs = 3, .scheduler = &sched, .clip_grad_norm = 0.5}));
    } else {
      for (int e = 0; e < 3; ++e) {
        model->train();
        for (auto& b : loader) {
          Tensor loss = F::cross_entropy((*model)(b.x), b.y);
          loss.backward();
          optim::clip_grad_norm_(model->parameters(), 0.5);
          opt.step();
          opt.zero_grad();
        }
        sched.step();
      }
    }
    return model->state_dict();
  };
  EXPECT_TRUE(bitwise_equal(run(true), run(false)));
}

TEST(TrainFit, ReproducibleForOneAndTwoThreadsAndAcrossRuns) {
  kiln::testing::ThreadCountRestorer restore;
  auto images = kiln::testing::fashion_subset(3000);
  auto val = kiln::testing::fashion_subset(500, 3000);
  auto run = [&](int threads) {
    set_num_threads(threads);
    manual_seed(42);
    auto model = std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(),
                                                  nn::Dropout(0.2), nn::Linear(512, 256), nn::ReLU(),
                                                  nn::Dropout(0.2), nn::Linear(256, 10));
    optim::AdamW opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-2});
    optim::CosineAnnealingLR sched(opt, {.t_max = 3});
    data::DataLoader loader(images, {.batch_size = 128, .shuffle = true, .num_workers = 1});
    T::History h =
        T::fit(*model, opt, loader, val, quiet({.epochs = 3, .metrics = {"accuracy"}, .scheduler = &sched}));
    return std::make_pair(model->state_dict(), h.to_map());
  };
  auto a = run(1), b = run(2), c = run(2);
  EXPECT_TRUE(bitwise_equal(a.first, b.first));
  EXPECT_TRUE(bitwise_equal(b.first, c.first));
  EXPECT_EQ(a.second, b.second);  // std::map of vectors: exact double equality
  EXPECT_EQ(b.second, c.second);
}

// A run stopped after 2 epochs and resumed from its saved state (model, optimizer, scheduler, History,
// generator) ends bit for bit where the uninterrupted run ends.
TEST(TrainFit, ResumeIsBitExact) {
  auto train = blobs(256, 6, 3);
  auto val = blobs(64, 6, 3, 0.5, 9);
  auto make = [](std::shared_ptr<nn::Sequential>& model, std::unique_ptr<optim::Adam>& opt,
                 std::unique_ptr<optim::ExponentialLR>& sched) {
    model = mlp(6, 16, 3, 0.3);
    opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
    sched = std::make_unique<optim::ExponentialLR>(*opt, optim::ExponentialLROptions{.gamma = 0.9});
  };
  std::shared_ptr<nn::Sequential> m1;
  std::unique_ptr<optim::Adam> o1;
  std::unique_ptr<optim::ExponentialLR> s1;
  manual_seed(5);
  make(m1, o1, s1);
  data::DataLoader l1(train, {.batch_size = 32, .shuffle = true});
  T::History full =
      T::fit(*m1, *o1, l1, val, quiet({.epochs = 4, .metrics = {"accuracy"}, .scheduler = s1.get()}));

  std::shared_ptr<nn::Sequential> m2;
  std::unique_ptr<optim::Adam> o2;
  std::unique_ptr<optim::ExponentialLR> s2;
  manual_seed(5);
  make(m2, o2, s2);
  data::DataLoader l2(train, {.batch_size = 32, .shuffle = true});
  T::History first =
      T::fit(*m2, *o2, l2, val, quiet({.epochs = 2, .metrics = {"accuracy"}, .scheduler = s2.get()}));
  // The checkpoint fit.h lists.
  StateDict model_state, opt_state = o2->state_dict(), sched_state = s2->state_dict();
  for (const auto& [k, t] : m2->state_dict()) model_state.insert(k, t.clone());
  StateDict loader_state = l2.state_dict();
  auto history_map = first.to_map();
  const uint64_t seed = default_generator().seed(), offset = default_generator().offset();

  manual_seed(999);  // a fresh process: other state everywhere
  std::shared_ptr<nn::Sequential> m3;
  std::unique_ptr<optim::Adam> o3;
  std::unique_ptr<optim::ExponentialLR> s3;
  make(m3, o3, s3);
  data::DataLoader l3(train, {.batch_size = 32, .shuffle = true});
  m3->load_state_dict(model_state);
  o3->load_state_dict(opt_state);
  s3->load_state_dict(sched_state);
  l3.load_state_dict(loader_state);
  default_generator().manual_seed(seed);
  default_generator().set_offset(offset);
  T::History resumed = T::fit(*m3, *o3, l3, val,
                              quiet({.epochs = 4,
                                     .initial_epoch = 2,
                                     .metrics = {"accuracy"},
                                     .scheduler = s3.get(),
                                     .history = T::History::from_map(history_map)}));
  EXPECT_TRUE(bitwise_equal(m1->state_dict(), m3->state_dict()));
  EXPECT_EQ(full.to_map(), resumed.to_map());
}

// The same resume through ModelCheckpoint's default file (an HDF5 checkpoint), with dropout, shuffling
// and a scheduler stepped per batch: 4 epochs in one fit equal 2 epochs, the file, and 2 more.
TEST(TrainFit, ResumeFromModelCheckpointFileIsBitExact) {
  auto train = blobs(256, 6, 3);
  auto val = blobs(64, 6, 3, 0.5, 9);
  const std::string dir = ::testing::TempDir() + "kiln-fit-resume-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  struct Run {
    std::shared_ptr<nn::Sequential> model = mlp(6, 16, 3, 0.3);
    optim::Adam opt{model->parameters(), {.lr = 1e-2}};
    optim::OneCycleLR sched{opt, {.max_lr = 5e-2, .total_steps = 4 * 8}};
    data::DataLoader loader;
    explicit Run(const data::DatasetPtr& d) : loader(d, {.batch_size = 32, .shuffle = true}) {}
  };
  manual_seed(5);
  Run full(train);
  T::History h_full = T::fit(*full.model, full.opt, full.loader, val,
                             quiet({.epochs = 4, .metrics = {"accuracy"}, .scheduler = &full.sched}));

  manual_seed(5);
  Run first(train);
  T::fit(*first.model, first.opt, first.loader, val,
         quiet({.epochs = 2,
                .metrics = {"accuracy"},
                .scheduler = &first.sched,
                .callbacks = {std::make_shared<T::ModelCheckpoint>(dir + "/last.h5")}}));

  manual_seed(999);  // as a new process would: every generator elsewhere
  Run second(train);
  T::ResumePoint r =
      T::load_training_checkpoint(dir + "/last.h5", *second.model, second.opt, &second.sched, second.loader);
  EXPECT_EQ(r.initial_epoch, 2);
  T::History h_resumed = T::fit(*second.model, second.opt, second.loader, val,
                                quiet({.epochs = 4,
                                       .initial_epoch = r.initial_epoch,
                                       .metrics = {"accuracy"},
                                       .scheduler = &second.sched,
                                       .history = r.history}));
  EXPECT_TRUE(bitwise_equal(full.model->state_dict(), second.model->state_dict()));
  EXPECT_EQ(h_full.to_map(), h_resumed.to_map());
  std::filesystem::remove_all(dir);
}

TEST(TrainFit, OneCycleStepsPerBatchOthersPerEpoch) {
  manual_seed(2);
  auto train = blobs(200, 4, 2);
  auto model = mlp(4, 8, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  data::DataLoader loader(train, {.batch_size = 20});
  optim::OneCycleLR one(opt, {.max_lr = 0.1, .epochs = 3, .steps_per_epoch = 10});
  T::fit(*model, opt, loader, {}, quiet({.epochs = 3, .scheduler = &one}));
  EXPECT_EQ(one.last_epoch(), 30);

  auto model2 = mlp(4, 8, 2);
  optim::SGD opt2(model2->parameters(), {.lr = 0.1});
  optim::StepLR step(opt2, {.step_size = 1, .gamma = 0.5});
  T::History h = T::fit(*model2, opt2, loader, {}, quiet({.epochs = 3, .scheduler = &step}));
  EXPECT_EQ(step.last_epoch(), 3);
  EXPECT_EQ(h["lr"], (std::vector<double>{0.1, 0.05, 0.025}));
}

TEST(TrainFit, StepsPerEpochContinuesTheLoaderAcrossEpochs) {
  manual_seed(2);
  auto train = blobs(100, 4, 2);
  auto model = mlp(4, 8, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 10});  // 10 batches per loader epoch
  int64_t batches = 0;
  auto count = std::make_shared<T::LambdaCallback>(
      T::LambdaCallbackFns{.on_batch_end = [&](T::TrainContext&) { ++batches; }});
  T::fit(*model, opt, loader, {}, quiet({.epochs = 3, .steps_per_epoch = 4, .callbacks = {count}}));
  EXPECT_EQ(batches, 12);
  // 12 batches = one whole loader epoch (10) and 2 of the next.
  EXPECT_EQ(loader.state_dict().at("epoch").item<int64_t>(), 1);
  EXPECT_EQ(loader.state_dict().at("position").item<int64_t>(), 2);
}

// Accumulating two half batches equals one step on the whole batch (up to float rounding).
TEST(TrainFit, GradientAccumulationMatchesTheLargerBatch) {
  auto train = blobs(128, 5, 2);
  auto run = [&](int64_t batch, int64_t accumulate) {
    manual_seed(4);
    auto model = mlp(5, 8, 2);
    optim::SGD opt(model->parameters(), {.lr = 0.1});
    data::DataLoader loader(train, {.batch_size = batch});
    T::fit(*model, opt, loader, {}, quiet({.epochs = 2, .gradient_accumulation_steps = accumulate}));
    return model->state_dict();
  };
  StateDict whole = run(64, 1), halves = run(32, 2);
  for (const auto& [name, t] : whole) {
    auto a = t.to_vector<double>(), b = halves.at(name).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << name << "[" << i << "]";
  }
}

TEST(TrainFit, BalancedClassWeightsEqualTheWeightedLoss) {
  // 3:1 imbalance: the balanced weights are n / (K * count) = {2/3, 2}.
  Tensor x = randn({80, 3});
  std::vector<int64_t> yv(80);
  for (int i = 0; i < 80; ++i) yv[static_cast<size_t>(i)] = i % 4 == 0 ? 1 : 0;
  auto ds = std::make_shared<data::TensorDataset>(x, from_vector(yv));
  auto run = [&](bool use_fit) {
    manual_seed(6);
    auto model = mlp(3, 8, 2);
    optim::SGD opt(model->parameters(), {.lr = 0.1});
    data::DataLoader loader(ds, {.batch_size = 16});
    if (use_fit) {
      T::fit(*model, opt, loader, {}, quiet({.epochs = 2, .class_weight = std::string("balanced")}));
    } else {
      Tensor w = from_vector(std::vector<float>{80.0f / (2 * 60), 80.0f / (2 * 20)});
      for (int e = 0; e < 2; ++e)
        for (auto& b : loader) {
          F::cross_entropy((*model)(b.x), b.y, {.weight = w}).backward();
          opt.step();
          opt.zero_grad();
        }
    }
    return model->state_dict();
  };
  EXPECT_TRUE(bitwise_equal(run(true), run(false)));
}

TEST(TrainFit, GradScalerPathMatchesTheHandLoop) {
  auto train = blobs(96, 4, 3);
  auto run = [&](bool use_fit) {
    manual_seed(8);
    auto model = mlp(4, 8, 3);
    optim::Adam opt(model->parameters(), {.lr = 1e-2});
    optim::GradScaler scaler({.init_scale = 1024.0});
    data::DataLoader loader(train, {.batch_size = 32});
    if (use_fit) {
      T::fit(*model, opt, loader, {}, quiet({.epochs = 2, .clip_grad_value = 0.5, .grad_scaler = &scaler}));
    } else {
      for (int e = 0; e < 2; ++e)
        for (auto& b : loader) {
          scaler.scale(F::cross_entropy((*model)(b.x), b.y)).backward();
          scaler.unscale_(opt);
          optim::clip_grad_value_(model->parameters(), 0.5);
          scaler.step(opt);
          scaler.update();
          opt.zero_grad();
        }
    }
    return model->state_dict();
  };
  EXPECT_TRUE(bitwise_equal(run(true), run(false)));
}

TEST(TrainFit, ValidationSplitHoldsOutAFractionOfTheDataset) {
  manual_seed(10);
  auto ds = blobs(200, 4, 2);
  auto model = mlp(4, 8, 2);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  int64_t train_examples = 0;
  auto probe = std::make_shared<T::LambdaCallback>(T::LambdaCallbackFns{
      .on_train_begin = [&](T::TrainContext& c) { train_examples = c.train_loader->dataset()->size(); }});
  T::History h = T::fit(*model, opt, ds, {.batch_size = 16}, T::Validation::split(0.25),
                        quiet({.epochs = 2, .callbacks = {probe}}));
  EXPECT_EQ(train_examples, 150);
  EXPECT_TRUE(h.has("val_loss"));
}

TEST(TrainFit, PredictAndEvaluateUseEvalModeWithoutAGraph) {
  manual_seed(11);
  auto ds = blobs(70, 4, 3);
  auto model = mlp(4, 8, 3, 0.5);
  model->train();
  Tensor a = T::predict(*model, ds, {.batch_size = 16});
  Tensor b = T::predict(*model, ds->x());
  EXPECT_EQ(a.shape(), (Shape{70, 3}));
  EXPECT_FALSE(a.requires_grad());
  EXPECT_TRUE(model->is_training());  // the mode is restored
  // Eval mode: dropout off, so the batched passes equal one eval-mode forward (to GEMM rounding: the
  // batch size changes the blocking).
  model->eval();
  Tensor direct = (*model)(ds->x());
  auto av = a.to_vector<float>(), bv = b.to_vector<float>(), dv = direct.to_vector<float>();
  for (size_t i = 0; i < av.size(); ++i) {
    EXPECT_NEAR(av[i], dv[i], 1e-5) << i;
    EXPECT_NEAR(bv[i], dv[i], 1e-5) << i;
  }
  T::Logs l = T::evaluate(*model, ds, {.metrics = {"accuracy"}, .batch_size = 32});
  EXPECT_NEAR(l.at("loss"), F::cross_entropy(direct, ds->y()).item<double>(), 1e-6);
}

TEST(TrainFit, BadInputNamesTheOption) {
  manual_seed(12);
  auto ds = blobs(40, 4, 2);
  auto model = mlp(4, 8, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(ds, {.batch_size = 8});

  auto empty = std::make_shared<data::Subset>(ds, std::vector<int64_t>{});
  data::DataLoader empty_loader(empty, {.batch_size = 8});
  EXPECT_CONTAINS(error_of([&] { T::fit(*model, opt, empty_loader, {}, quiet()); }),
                  "training loader is empty");

  auto other = blobs(20, 5, 2);
  EXPECT_CONTAINS(error_of([&] { T::fit(*model, opt, loader, other, quiet()); }), "feature shape [5]");

  EXPECT_CONTAINS(error_of([&] { T::fit(*model, opt, loader, {}, quiet({.metrics = {"acuracy"}})); }),
                  "unknown metric 'acuracy'");

  auto es = std::make_shared<T::EarlyStopping>(T::EarlyStoppingOptions{.monitor = "val_los"});
  std::string msg = error_of([&] { T::fit(*model, opt, loader, ds, quiet({.callbacks = {es}})); });
  EXPECT_CONTAINS(msg, "monitor 'val_los'");
  EXPECT_CONTAINS(msg, "val_loss");

  EXPECT_CONTAINS(error_of([&] { T::EarlyStopping bad({.patience = -1}); }), "patience must be >= 0");

  T::LossFn per_sample = [](const Tensor& out, const Tensor& y) {
    return F::cross_entropy(out, y, {.reduction = nn::Reduction::none});
  };
  EXPECT_CONTAINS(error_of([&] { T::fit(*model, opt, loader, {}, quiet({.loss = per_sample})); }),
                  "must return a scalar (0-d) tensor, got [8]");

  EXPECT_CONTAINS(
      error_of([&] { T::fit(*model, opt, loader, {}, quiet({.epochs = 2, .initial_epoch = 3})); }),
      "FitOptions::epochs");
  EXPECT_CONTAINS(
      error_of([&] { T::fit(*model, opt, loader, {}, quiet({.gradient_accumulation_steps = 0})); }),
      "gradient_accumulation_steps");
  EXPECT_CONTAINS(error_of([&] { T::fit(*model, opt, loader, T::Validation::split(0.2), quiet()); }),
                  "Validation::split needs the dataset form");
}

// Mixed precision on the CPU (bf16 autocast with loss scaling): the step runs in reduced precision and
// still learns; the metrics and History stay f64.
TEST(TrainFit, AutocastWithGradScalerLearns) {
  manual_seed(13);
  auto train = blobs(400, 8, 3), val = blobs(120, 8, 3, 0.5, 14);
  auto model = mlp(8, 32, 3);
  optim::Adam opt(model->parameters(), {.lr = 1e-2});
  optim::GradScaler scaler;
  data::DataLoader loader(train, {.batch_size = 40, .shuffle = true});
  DType seen = DType::f64;
  T::LossFn loss = [&](const Tensor& out, const Tensor& y) {
    seen = out.dtype();
    return F::cross_entropy(out, y);
  };
  T::History h = T::fit(*model, opt, loader, val,
                        quiet({.epochs = 4,
                               .loss = loss,
                               .metrics = {"accuracy"},
                               .autocast = true,
                               .autocast_dtype = DType::bf16,
                               .grad_scaler = &scaler}));
  EXPECT_EQ(seen, DType::bf16) << "the forward ran under autocast";
  EXPECT_GT(h["val_accuracy"].back(), 0.9);
  EXPECT_EQ(model->parameters()[0].dtype(), DType::f32);  // master weights stay f32
}
