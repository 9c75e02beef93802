// The standard callbacks (driven by fit and by hand) and History's record, files and conversions.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/helpers.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
namespace fs = std::filesystem;
using kiln::testing::bitwise_equal;
using kiln::testing::blobs;
using kiln::testing::error_of;
using kiln::testing::mlp;
using kiln::testing::quiet;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kiln_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replays a scripted series of logs through a callback, as fit would call it.
struct Script {
  std::shared_ptr<nn::Sequential> model = mlp(2, 2, 2);
  optim::SGD opt{model->parameters(), {.lr = 1.0}};
  T::History history;
  T::TrainContext ctx;
  Script() {
    ctx.model = model.get();
    ctx.optimizer = &opt;
    ctx.history = &history;
    ctx.epochs = 100;
  }
  // Runs epochs with these values of `key`; returns the number of epochs run before a stop.
  int64_t run(T::Callback& cb, const std::string& key, const std::vector<double>& values) {
    cb.on_train_begin(ctx);
    int64_t e = 0;
    for (; e < static_cast<int64_t>(values.size()) && !ctx.stop_training; ++e) {
      ctx.epoch = e;
      cb.on_epoch_begin(ctx);
      // Weights mark the epoch, so restore_best_weights is visible.
      model->parameters()[0].fill_(static_cast<double>(e));
      T::Logs logs{{key, values[static_cast<size_t>(e)]}, {"loss", 1.0}};
      cb.on_epoch_end(ctx, logs);
    }
    cb.on_train_end(ctx, {});
    return e;
  }
};

}  // namespace

TEST(TrainCallbacks, EarlyStoppingPatienceMinDeltaAndRestore) {
  Script s;
  T::EarlyStopping es({.monitor = "val_loss", .patience = 2, .restore_best_weights = true});
  // best at epoch 1 (0.5); epochs 2 and 3 do not improve: stops after epoch 3.
  EXPECT_EQ(s.run(es, "val_loss", {1.0, 0.5, 0.6, 0.55, 0.1, 0.1}), 4);
  EXPECT_EQ(es.stopped_epoch(), 3);
  EXPECT_EQ(es.best_epoch(), 1);
  EXPECT_EQ(s.model->parameters()[0].to_vector<float>()[0], 1.0f);  // epoch 1's weights

  Script s2;
  T::EarlyStopping delta({.monitor = "val_loss", .min_delta = 0.1, .patience = 1});
  // 0.95 and 0.9 are within min_delta of 1.0: no improvement, so it stops after epoch 1... at patience 1.
  EXPECT_EQ(s2.run(delta, "val_loss", {1.0, 0.95, 0.9, 0.1}), 2);

  Script s3;
  T::EarlyStopping up({.monitor = "val_accuracy", .patience = 1});  // mode auto: max for accuracy
  EXPECT_EQ(s3.run(up, "val_accuracy", {0.5, 0.7, 0.6, 0.9}), 3);
  EXPECT_EQ(up.best_epoch(), 1);
}

TEST(TrainCallbacks, EarlyStoppingBaselineAndStartFromEpoch) {
  Script s;
  T::EarlyStopping base({.monitor = "val_loss", .patience = 1, .baseline = 0.3});
  // Never beats the baseline: stops after patience epochs although the loss improves.
  EXPECT_EQ(s.run(base, "val_loss", {0.9, 0.8, 0.7, 0.6}), 2);

  Script s2;
  T::EarlyStopping warm({.monitor = "val_loss", .patience = 0, .start_from_epoch = 3});
  // Epochs 0-2 are not monitored; epoch 3 sets the best, epoch 4 does not improve.
  EXPECT_EQ(s2.run(warm, "val_loss", {0.1, 0.9, 0.9, 0.8, 0.85, 0.1}), 5);
}

TEST(TrainCallbacks, EarlyStoppingInsideFitRestoresTheBestEpoch) {
  manual_seed(1);
  auto train = blobs(200, 4, 2), val = blobs(60, 4, 2, 0.5, 3);
  auto model = mlp(4, 16, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.05});
  data::DataLoader loader(train, {.batch_size = 20, .shuffle = true});
  StateDict at_best;
  auto es = std::make_shared<T::EarlyStopping>(
      T::EarlyStoppingOptions{.monitor = "val_accuracy", .patience = 2, .restore_best_weights = true});
  auto snap = std::make_shared<T::LambdaCallback>(
      T::LambdaCallbackFns{.on_epoch_end = [&](T::TrainContext& c, T::Logs&) {
        if (es->best_epoch() == c.epoch) {
          at_best = StateDict();
          for (const auto& [k, t] : c.model->state_dict()) at_best.insert(k, t.clone());
        }
      }});
  T::History h = T::fit(*model, opt, loader, val,
                        quiet({.epochs = 40, .metrics = {"accuracy"}, .callbacks = {es, snap}}));
  ASSERT_LT(h.size(), 40u) << "validation accuracy should saturate on separable blobs";
  EXPECT_EQ(h.best_epoch("val_accuracy"), es->best_epoch());
  EXPECT_TRUE(bitwise_equal(model->state_dict(), at_best));
}

TEST(TrainCallbacks, ReduceLROnPlateauAndLearningRateScheduler) {
  Script s;
  T::ReduceLROnPlateau plateau({.monitor = "val_loss", .factor = 0.5, .patience = 1});
  s.run(plateau, "val_loss", {1.0, 1.0, 1.0, 1.0, 1.0});
  // Bad epochs 1, 2 (> patience: reduce), cooldown 0, then 3, 4 (reduce again).
  EXPECT_DOUBLE_EQ(s.opt.lr(), 0.25);

  // Its counters travel through a checkpoint: a fresh callback loaded with them continues the count.
  Script resumed;
  resumed.opt.set_lr(0, 0.25);
  T::ReduceLROnPlateau again({.monitor = "val_loss", .factor = 0.5, .patience = 1});
  StateDict saved = plateau.state_dict();
  EXPECT_TRUE(saved.contains("num_bad_epochs"));
  again.load_state_dict(saved);
  resumed.run(again, "val_loss", {1.0, 1.0});  // two more bad epochs: reduced once more
  EXPECT_DOUBLE_EQ(resumed.opt.lr(), 0.125);

  Script s2;
  T::LearningRateScheduler sched([](int64_t epoch, double lr) { return epoch < 2 ? lr : lr * 0.1; });
  s2.run(sched, "val_loss", {1, 1, 1, 1});
  EXPECT_NEAR(s2.opt.lr(), 0.01, 1e-15);

  // Inside fit, the lr column records the rate each epoch trained with.
  manual_seed(2);
  auto train = blobs(40, 3, 2);
  auto model = mlp(3, 4, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.8});
  data::DataLoader loader(train, {.batch_size = 10});
  auto halve = std::make_shared<T::LearningRateScheduler>([](int64_t, double lr) { return lr / 2; });
  T::History h = T::fit(*model, opt, loader, {}, quiet({.epochs = 3, .callbacks = {halve}}));
  EXPECT_EQ(h["lr"], (std::vector<double>{0.4, 0.2, 0.1}));
}

TEST(TrainCallbacks, TerminateOnNaNStopsAtTheFirstBadBatch) {
  manual_seed(3);
  auto train = blobs(100, 3, 2);
  auto model = mlp(3, 4, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 10});
  int64_t batches = 0;
  T::LossFn nan_at_7 = [&](const Tensor& out, const Tensor& y) {
    Tensor l = nn::functional::cross_entropy(out, y);
    return ++batches == 7 ? l * std::nan("") : l;
  };
  auto stop = std::make_shared<T::TerminateOnNaN>();
  T::fit(*model, opt, loader, {}, quiet({.epochs = 5, .loss = nan_at_7, .callbacks = {stop}}));
  EXPECT_EQ(batches, 7);
  EXPECT_EQ(stop->epoch(), 0);
  EXPECT_EQ(stop->batch(), 6);
}

TEST(TrainCallbacks, CSVLoggerWritesEveryEpochAndAppendsOnResume) {
  fs::path dir = temp_dir("csv");
  const std::string path = (dir / "log.csv").string();
  manual_seed(4);
  auto train = blobs(60, 3, 2);
  auto model = mlp(3, 4, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 20});
  T::History h = T::fit(
      *model, opt, loader, train,
      quiet({.epochs = 2, .metrics = {"accuracy"}, .callbacks = {std::make_shared<T::CSVLogger>(path)}}));
  std::string text = slurp(path);
  EXPECT_EQ(text.substr(0, text.find('\n')), "epoch,accuracy,loss,lr,val_accuracy,val_loss");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  // The values are the History's, to 17 digits.
  std::istringstream rows(text);
  std::string header, row0;
  std::getline(rows, header);
  std::getline(rows, row0);
  EXPECT_EQ(std::stod(row0.substr(row0.find(',') + 1)), h["accuracy"][0]);
  // A resumed run appends.
  T::fit(*model, opt, loader, train,
         quiet({.epochs = 3,
                .initial_epoch = 2,
                .metrics = {"accuracy"},
                .callbacks = {std::make_shared<T::CSVLogger>(path, T::CSVLoggerOptions{.append = true})}}));
  text = slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
  EXPECT_NE(text.find("\n2,"), std::string::npos);
  // No temporary file is left beside it.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(TrainCallbacks, ModelCheckpointFormatsPathsAndSavesTheBest) {
  fs::path dir = temp_dir("ckpt");
  std::vector<std::string> saved;
  T::ModelCheckpoint every((dir / "e{epoch:02d}-{val_loss:.2f}.h5").string(),
                           {.every_n_epochs = 2, .save = [&](T::TrainContext& c, const std::string& p) {
                              saved.push_back(p);
                              T::save_training_checkpoint(c, p);
                            }});
  Script s;
  s.run(every, "val_loss", {0.9, 0.8, 0.85, 0.7});
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(fs::path(saved[0]).filename(), "e02-0.80.h5");
  EXPECT_EQ(fs::path(saved[1]).filename(), "e04-0.70.h5");
  // The default save function's file is an HDF5 checkpoint whose model group loads back into the model.
  StateDict back = nn::io::read_group(saved[1], "model");
  EXPECT_TRUE(bitwise_equal(back, s.model->state_dict()));

  // max_to_keep: only the newest files stay.
  {
    Script s3;
    T::ModelCheckpoint keep((dir / "k{epoch}.h5").string(), {.max_to_keep = 2});
    s3.run(keep, "val_loss", {0.9, 0.8, 0.85, 0.7});
    EXPECT_FALSE(fs::exists(dir / "k1.h5"));
    EXPECT_FALSE(fs::exists(dir / "k2.h5"));
    EXPECT_TRUE(fs::exists(dir / "k3.h5"));
    EXPECT_TRUE(fs::exists(dir / "k4.h5"));
    EXPECT_CONTAINS(error_of([] { T::ModelCheckpoint bad("x", {.max_to_keep = -1}); }), "max_to_keep");
  }

  saved.clear();
  Script s2;
  T::ModelCheckpoint best(
      (dir / "best.kiln").string(),
      {.save_best_only = true, .save = [&](T::TrainContext&, const std::string& p) { saved.push_back(p); }});
  s2.run(best, "val_loss", {0.9, 0.95, 0.8, 0.81, 0.5});
  EXPECT_EQ(saved.size(), 3u);
  EXPECT_DOUBLE_EQ(best.best(), 0.5);
  EXPECT_CONTAINS(error_of([] {
                    T::format_checkpoint_path("m-{val_acc:.2f}", 0, {{"val_loss", 1.0}});
                  }),
                  "{val_acc} in filepath");
  EXPECT_CONTAINS(error_of([] { T::ModelCheckpoint bad("x", {.every_n_epochs = 0}); }), "every_n_epochs");
  fs::remove_all(dir);
}

TEST(TrainCallbacks, LambdaCallbackSeesEveryHookInOrder) {
  manual_seed(5);
  auto train = blobs(30, 3, 2);
  auto model = mlp(3, 4, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 10});
  std::string trace;
  auto cb = std::make_shared<T::LambdaCallback>(T::LambdaCallbackFns{
      .on_train_begin = [&](T::TrainContext&) { trace += "T"; },
      .on_train_end = [&](T::TrainContext&, const T::Logs&) { trace += "t"; },
      .on_epoch_begin = [&](T::TrainContext&) { trace += "E"; },
      .on_epoch_end =
          [&](T::TrainContext& c, T::Logs& logs) {
            trace += "e";
            logs["custom"] = static_cast<double>(c.global_step);             // added keys reach the History
            EXPECT_EQ(c.history->size(), static_cast<size_t>(c.epoch + 1));  // this epoch already recorded
          },
      .on_batch_begin = [&](T::TrainContext&) { trace += "b"; },
      .on_batch_end = [&](T::TrainContext&) { trace += "."; }});
  T::History h = T::fit(*model, opt, loader, {}, quiet({.epochs = 2, .callbacks = {cb}}));
  EXPECT_EQ(trace, "TEb.b.b.eEb.b.b.et");
  EXPECT_EQ(h["custom"], (std::vector<double>{3, 6}));
}

TEST(TrainHistory, RecordsConvertsAndSaves) {
  T::History h;
  h.append(0, {{"loss", 1.0}, {"accuracy", 0.5}});
  h.append(1, {{"loss", 0.5}, {"accuracy", 0.7}, {"val_loss", 0.6}});
  h.append(2, {{"loss", 0.25}, {"accuracy", 0.9}, {"val_loss", 0.7}});
  EXPECT_TRUE(std::isnan(h["val_loss"][0]));
  EXPECT_EQ(h.best_epoch("val_loss"), 1);
  EXPECT_EQ(h.best_epoch("accuracy"), 2);
  EXPECT_EQ(h.best_epoch("loss", T::Mode::max), 0);
  EXPECT_CONTAINS(error_of([&] { h.best_epoch("val_acc"); }), "accuracy, loss, val_loss");
  EXPECT_CONTAINS(error_of([&] { h.append(2, {}); }), "does not follow");

  auto map = h.to_map();
  EXPECT_EQ(map.at("epoch"), (std::vector<double>{0, 1, 2}));
  T::History back = T::History::from_map(map);
  EXPECT_EQ(back.to_csv(), h.to_csv());
  EXPECT_EQ(T::History::from_json(h.to_json()).to_csv(), h.to_csv());
  EXPECT_EQ(h.to_csv(),
            "epoch,accuracy,loss,val_loss\n0,0.5,1,\n1,0.69999999999999996,0.5,0.59999999999999998\n"
            "2,0.90000000000000002,0.25,0.69999999999999996\n");
  EXPECT_CONTAINS(h.to_json(), "\"val_loss\": [\n    null,");

  fs::path dir = temp_dir("history");
  h.save_json((dir / "h.json").string());
  EXPECT_EQ(T::History::load_json((dir / "h.json").string()).to_csv(), h.to_csv());  // NaN != NaN in a map
  fs::remove_all(dir);
  EXPECT_CONTAINS(error_of([] { T::History::from_map({{"loss", {1.0}}}); }), "no \"epoch\" series");
  EXPECT_CONTAINS(error_of([] {
                    T::History::from_map({{"epoch", {0, 1}}, {"loss", {1.0}}});
                  }),
                  "has 1 values for 2 epochs");
  EXPECT_CONTAINS(error_of([] { T::History::from_json("{\"epoch\": [0], \"loss\": \"x\"}"); }),
                  "not an array");
  EXPECT_CONTAINS(error_of([&] { h.classification_report(); }), "no validation predictions");
}
