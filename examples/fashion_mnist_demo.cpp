// examples/fashion_mnist_demo.cpp: kiln's showcase training run (`make demo`). Trains two models on
// Fashion-MNIST through nn::train::fit, as a user program would: AdamW with a cosine schedule, EarlyStopping
// that restores the best epoch, a CSV log, the progress bar and fit's diagnostics report. Writes each
// model's history.svg (and the MLP's lr_find.svg) into the output folder it prints, scores the test set
// once, and exits 1 if a model misses its target test accuracy (MLP 0.89, CNN 0.91).
//
// Usage: fashion_mnist_demo [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--out DIR]
//   data: $KILN_FASHION_MNIST_DIR, then the dataset-fashion-mnist package. Output: --out, else
//   fashion_mnist_demo_out beside the program. KILN_NUM_THREADS sets the CPU threads; KILN_DEMO_EPOCHS
//   overrides the epoch counts (quick runs).
#include <kiln/kiln.h>

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

  auto early = std::make_shared<T::EarlyStopping>(
      T::EarlyStoppingOptions{.monitor = "val_accuracy", .patience = 3, .restore_best_weights = true});
  T::History history = T::fit(*model, opt, loader, val,
                              {.epochs = r.epochs,
                               .metrics = {"accuracy"},
                               .scheduler = &sched,
                               .callbacks = {early, std::make_shared<T::CSVLogger>(prefix + "history.csv")}});
  history.plot(prefix + "history.svg", {.title = r.name, .monitor = "val_accuracy"});
  std::cout << "validation report, last epoch (" << history.epochs().back() + 1 << "):\n"
            << history.classification_report({.target_names = kClasses, .digits = 4});

  const double acc = T::evaluate(*model, test, {.metrics = {"accuracy"}, .batch_size = 1000}).at("accuracy");
  const bool ok = acc >= r.target;
  std::cout << r.name << ": test accuracy " << acc << " (target " << r.target << ": "
            << (ok ? "reached" : "MISSED") << ")\n";
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const char* usage =
        "usage: fashion_mnist_demo [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--out DIR]\n";
    std::string device_name = std::getenv("KILN_DEVICE") ? std::getenv("KILN_DEVICE") : "cpu";
    std::string out = (std::filesystem::path(argv[0]).parent_path() / "fashion_mnist_demo_out").string();
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--device" && i + 1 < argc)
        device_name = argv[++i];
      else if (a == "--out" && i + 1 < argc)
        out = argv[++i];
      else if (a.rfind("--", 0) == 0)
        return std::cerr << usage, 2;
      else
        positional.push_back(a);
    }
    const std::string which = positional.empty() ? "all" : positional[0];
    if ((which != "mlp" && which != "cnn" && which != "all") || positional.size() > 2 ||
        (device_name != "cpu" && device_name != "cuda"))
      return std::cerr << usage, 2;
    if (device_name == "cuda" && !cuda::is_available())
      return std::cerr << "fashion_mnist_demo: --device cuda, but no CUDA device is available\n", 2;
    const Device device = device_name == "cuda" ? Device::cuda() : Device::cpu();
    if (const char* t = std::getenv("KILN_NUM_THREADS")) set_num_threads(std::atoi(t));
    std::filesystem::create_directories(out);

    auto [train_images, test_images] =
        positional.size() > 1 ? data::FashionMNIST::load(positional[1]) : data::FashionMNIST::load();
    // Images as f32 (N, 1, 28, 28) in [0, 1]; 5,000 training images held out for validation.
    auto full =
        std::make_shared<data::TensorDataset>(data::to_tensor(train_images.images), train_images.labels);
    auto test =
        std::make_shared<data::TensorDataset>(data::to_tensor(test_images.images), test_images.labels);
    auto [train, val] = data::random_split(full, {55.0 / 60.0, 5.0 / 60.0}, kSeed);
    std::cout << "Fashion-MNIST: " << train.size() << " training, " << val.size() << " validation, "
              << test->size() << " test images; " << get_num_threads() << " threads; output in " << out
              << "\n";

    const int epochs = std::getenv("KILN_DEMO_EPOCHS") ? std::atoi(std::getenv("KILN_DEMO_EPOCHS")) : 0;
    std::vector<Recipe> recipes = {{"mlp", "MLP 784-512-256-10", mlp, 15, 1e-3, 0.89, true},
                                   {"cnn", "CNN conv32-conv64-fc128", cnn, 8, 2e-3, 0.91, false}};
    bool ok = true;
    for (Recipe& r : recipes) {
      if (epochs > 0) r.epochs = epochs;
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
