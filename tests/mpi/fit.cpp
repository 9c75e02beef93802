// nn::train::fit under DDP (distributed::fit_hooks()): each rank trains on its DistributedSampler shard,
// the logged loss and accuracy are those of the whole validation set on every rank (equal to one
// process evaluating the final model), and only rank 0 prints and writes checkpoints.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include <kiln/kiln.h>

namespace dist = kiln::distributed;
namespace train = kiln::nn::train;
using namespace kiln;

TEST(FitUnderDDP, MetricsCoverEveryShardAndOnlyRankZeroPrintsAndSaves) {
  const int rank = dist::get_rank(), world = dist::get_world_size();
  auto [train_images, test_images] = data::FashionMNIST::load();
  auto images = div(train_images.images.slice(0, 0, 720).to(DType::f32), full({}, 255.0)).contiguous();
  auto labels = train_images.labels.slice(0, 0, 720).contiguous();
  auto tr = std::make_shared<data::TensorDataset>(images.slice(0, 0, 600), labels.slice(0, 0, 600));
  // 120 validation images: every world size of the test divides it, so the shards hold each once.
  auto val = std::make_shared<data::TensorDataset>(images.slice(0, 600, 720), labels.slice(0, 600, 720));

  manual_seed(5);
  auto model =
      std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 64), nn::ReLU(), nn::Linear(64, 10));
  auto ddp = std::make_shared<dist::DistributedDataParallel>(model);
  optim::SGD opt(ddp->parameters(), {.lr = 0.1, .momentum = 0.9});
  data::DataLoader loader(
      tr, {.batch_size = 30, .seed = 1, .sampler = std::make_shared<data::DistributedSampler>(world, rank)});
  data::DataLoader val_loader(
      val, {.batch_size = 16,
            .sampler = std::make_shared<data::DistributedSampler>(world, rank, /*shuffle=*/false)});

  const auto dir = std::filesystem::temp_directory_path() /
                   ("kiln_fit_ddp_" + std::to_string(rank) + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ostringstream out;
  auto ckpt = std::make_shared<train::ModelCheckpoint>((dir / "model.ckpt").string());
  // fit's progress bar draws on a FILE*: give it one to read back (the end-of-fit lines go to `out`).
  std::FILE* bar_file = std::tmpfile();
  ASSERT_NE(bar_file, nullptr);
  auto bar =
      std::make_shared<train::ProgressBar>(train::ProgressBarOptions{.stream = bar_file, .verbose = 2});
  train::History h = train::fit(*ddp, opt, loader, val_loader,
                                {.epochs = 2,
                                 .metrics = {"accuracy"},
                                 .verbose = 2,
                                 .out = &out,
                                 .callbacks = {bar, ckpt},
                                 .diagnostics = false,
                                 .distributed = dist::fit_hooks()});
  std::rewind(bar_file);
  std::string printed;
  for (int c; (c = std::fgetc(bar_file)) != EOF;) printed += static_cast<char>(c);
  std::fclose(bar_file);
  printed += out.str();
  // Printing and checkpoints: rank 0 only.
  if (rank == 0) {
    EXPECT_NE(printed.find("val_accuracy"), std::string::npos) << printed;
    EXPECT_TRUE(std::filesystem::exists(dir / "model.ckpt"));
  } else {
    EXPECT_EQ(printed, "");
    EXPECT_FALSE(std::filesystem::exists(dir / "model.ckpt"));
  }
  std::filesystem::remove_all(dir);

  // The validation metrics are the whole set's: one process evaluating the final model agrees.
  const train::Logs whole = train::evaluate(*model, val, {.metrics = {"accuracy"}, .batch_size = 120});
  EXPECT_EQ(h["val_accuracy"].back(), whole.at("accuracy"));
  EXPECT_NEAR(h["val_loss"].back(), whole.at("loss"), 1e-5);
  // And every rank logged the same numbers.
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
    Tensor mine = full({1}, h[key].back(), {.dtype = DType::f64});
    Tensor lo = mine.clone(), hi = mine.clone();
    dist::all_reduce(lo, dist::ReduceOp::min);
    dist::all_reduce(hi, dist::ReduceOp::max);
    EXPECT_EQ(lo.item<double>(), hi.item<double>()) << key;
  }
}
