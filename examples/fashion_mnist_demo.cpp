// examples/fashion_mnist_demo.cpp: kiln's showcase training run (`make demo`). Trains two models on
// Fashion-MNIST through nn::train::fit, as a user program would: AdamW with a cosine schedule, EarlyStopping
// that restores the best epoch, the best epoch's HDF5 checkpoint, TensorBoard logs (and MLflow with
// MLFLOW_TRACKING_URI set), a CSV log, the progress bar and fit's diagnostics report. Writes each model's
// history.svg (and the MLP's lr_find.svg) into the output folder it prints, scores the test set once,
// reloads the checkpoint into a fresh model (same accuracy, or exit 1), exports TFLite and ONNX files
// (deploy.cpp), and exits 1 if a model misses its target test accuracy (MLP 0.89, CNN 0.91).
// Usage and environment: demo_cli.h.
#include <kiln/kiln.h>

#include "demo_cli.h"
#include "deploy.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

using namespace kiln;
namespace T = kiln::nn::train;

namespace {

constexpr uint64_t kSeed = 42;
const std::vector<std::string> kClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct Recipe {
  std::string tag, name;
  nn::ModulePtr (*build)();
  int epochs;
  double lr, target;  // target: the test accuracy this run must reach
  bool lr_find;
};

nn::ModulePtr mlp() {
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(256, 10));
}

nn::ModulePtr cnn() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(1, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(),
      nn::MaxPool2d(2),  // 32 x 14 x 14
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2),  // 64 x 7 x 7
      nn::Flatten(), nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10));
}

bool run(const Recipe& r, Device device, const data::DatasetPtr& train, const data::DatasetPtr& val,
         const data::DatasetPtr& test, const std::string& out) {
  manual_seed(kSeed);
  nn::ModulePtr model = r.build();
  model->to(device);
  std::cout << "\n== " << r.name << " on " << device.str() << ": AdamW lr " << r.lr << ", cosine schedule\n"
            << *model << "\n";
  optim::AdamW opt(model->parameters(), {.lr = r.lr, .weight_decay = 1e-2});
  optim::CosineAnnealingLR sched(opt, {.t_max = r.epochs});
  data::DataLoader loader(
      train,
      {.batch_size = 128, .shuffle = true, .seed = kSeed, .num_workers = 1, .pin_memory = device.is_cuda()});
  const std::string prefix = out + "/" + r.tag + "_";
  if (r.lr_find) {  // the range test leaves model, optimizer and loader as they were
    T::LRFindResult f = T::lr_find(*model, opt, loader);
    f.plot(prefix + "lr_find.svg");
    std::cout << "lr_find: steepest descent at lr " << f.suggestion_steep << ", minimum / 10 at "
              << f.suggestion_min_div10 << " (training with " << r.lr << ")\n";
  }

  const std::string best = prefix + "best.h5";
  std::vector<std::shared_ptr<T::Callback>> callbacks = {
      std::make_shared<T::EarlyStopping>(
          T::EarlyStoppingOptions{.monitor = "val_accuracy", .patience = 3, .restore_best_weights = true}),
      std::make_shared<T::ModelCheckpoint>(
          best, T::ModelCheckpointOptions{.monitor = "val_accuracy", .save_best_only = true}),
      std::make_shared<T::CSVLogger>(prefix + "history.csv"),
      std::make_shared<T::TensorBoard>(T::TensorBoardOptions{.log_dir = out + "/runs/" + r.tag})};
  if (std::getenv("MLFLOW_TRACKING_URI"))
    callbacks.push_back(std::make_shared<T::MLflowLogger>(
        T::MLflowLoggerOptions{.run = {.experiment_name = "kiln-fashion-mnist", .run_name = r.tag}}));
  T::History history =
      T::fit(*model, opt, loader, val,
             {.epochs = r.epochs, .metrics = {"accuracy"}, .scheduler = &sched, .callbacks = callbacks});
  history.plot(prefix + "history.svg", {.title = r.name, .monitor = "val_accuracy"});
  std::cout << "validation report, last epoch (" << history.epochs().back() + 1 << "):\n"
            << history.classification_report({.target_names = kClasses, .digits = 4});

  const double acc = T::evaluate(*model, test, {.metrics = {"accuracy"}, .batch_size = 1000}).at("accuracy");
  const bool ok = acc >= r.target;
  std::cout << r.name << ": test accuracy " << acc << " (target " << r.target << ": "
            << (ok ? "reached" : "MISSED") << ")\n";

  // The best epoch's checkpoint read into a fresh model: the file alone gives the same test accuracy.
  nn::ModulePtr reloaded = r.build();
  reloaded->to(device);
  nn::io::load_weights(best, *reloaded);
  const double reloaded_acc =
      T::evaluate(*reloaded, test, {.metrics = {"accuracy"}, .batch_size = 1000}).at("accuracy");
  std::printf("checkpoint %s (%.1f MB): reloaded test accuracy %.4f (%s)\n", best.c_str(),
              std::filesystem::file_size(best) / 1e6, reloaded_acc,
              reloaded_acc == acc ? "identical" : "DIFFERS");
  std::cout << "TensorBoard: tensorboard --logdir " << out << "/runs\n";

  data::DataLoader all(test, {.batch_size = test->size()}), calib(train, {.batch_size = 1000});
  data::Batch t = *all.begin();
  export_for_deployment(*reloaded, out + "/" + r.tag, (*calib.begin()).x, t.x, t.y, acc);
  return ok && reloaded_acc == acc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const DemoArgs args = parse_demo_args(argc, argv);  // demo_cli.h: usage, devices, threads
    if (!args.ok) return 2;
    const Device device = args.device;
    const std::string& out = args.out;
    const std::string& which = args.which;
    std::filesystem::create_directories(out);

    auto [train_images, test_images] =
        args.data_dir.empty() ? data::FashionMNIST::load() : data::FashionMNIST::load(args.data_dir);
    // Images as f32 (N, 1, 28, 28) in [0, 1]; 5,000 training images held out for validation.
    auto full =
        std::make_shared<data::TensorDataset>(data::to_tensor(train_images.images), train_images.labels);
    auto test =
        std::make_shared<data::TensorDataset>(data::to_tensor(test_images.images), test_images.labels);
    auto [train, val] = data::random_split(full, {55.0 / 60.0, 5.0 / 60.0}, kSeed);
    std::cout << "Fashion-MNIST: " << train.size() << " training, " << val.size() << " validation, "
              << test->size() << " test images; " << get_num_threads() << " threads; output in " << out
              << "\n";

    std::vector<Recipe> recipes = {{"mlp", "MLP 784-512-256-10", mlp, 15, 1e-3, 0.89, true},
                                   {"cnn", "CNN conv32-conv64-fc128", cnn, 8, 2e-3, 0.91, false}};
    bool ok = true;
    for (Recipe& r : recipes) {
      if (args.epochs > 0) r.epochs = args.epochs;
      if (which == "all" || which == r.tag)
        ok = run(r, device, std::make_shared<data::Subset>(train), std::make_shared<data::Subset>(val), test,
                 out) &&
             ok;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist_demo: " << e.what() << "\n";
    return 1;
  }
}
