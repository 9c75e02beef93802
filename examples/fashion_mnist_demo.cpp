// examples/fashion_mnist_demo.cpp: kiln's showcase training run (`make demo`). Trains two models on
// Fashion-MNIST with nn/, optim/ and data/, exactly as a user program would:
//   - an MLP 784-512-256-10 (ReLU, Dropout) with AdamW and a cosine learning-rate schedule;
//   - a small CNN (two conv + BatchNorm + max-pool blocks, then two linear layers), same optimizer and
//     schedule.
// Each epoch prints the training loss and accuracy, the validation accuracy (5,000 images held out of the
// training set) and the learning rate; the test set is evaluated once, at the end. Exits 1 if a model
// misses its target test accuracy (MLP 0.89, CNN 0.91). Depends on kiln::kiln and the
// dataset-fashion-mnist package.
//
// Usage: fashion_mnist_demo [mlp|cnn|all] [DATA_DIR]   (data: $KILN_FASHION_MNIST_DIR, then the package)
// KILN_NUM_THREADS sets the CPU thread count; KILN_DEMO_EPOCHS overrides the epoch counts (quick runs).
#include <kiln/kiln.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

using namespace kiln;
namespace F = kiln::nn::functional;

namespace {

constexpr uint64_t kSeed = 42;
constexpr int64_t kBatch = 128;

struct Recipe {
  std::string name;
  std::function<nn::ModulePtr()> build;
  int epochs;
  double lr, weight_decay;
  double target;  // test accuracy this run must reach
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

// Accuracy of `model` over a whole dataset, in eval mode and without recording a graph.
double accuracy(nn::Module& model, const data::DatasetPtr& ds) {
  model.eval();
  autograd::NoGradGuard no_grad;
  data::DataLoader loader(ds, {.batch_size = 1000});
  int64_t correct = 0;
  for (auto& batch : loader) correct += (model(batch.x).argmax(1) == batch.y).sum().item<int64_t>();
  return static_cast<double>(correct) / static_cast<double>(ds->size());
}

bool run(const Recipe& r, const data::DatasetPtr& train, const data::DatasetPtr& val,
         const data::DatasetPtr& test) {
  manual_seed(kSeed);
  nn::ModulePtr model = r.build();
  std::printf("\n== %s: %d epochs, batch %lld, AdamW lr %g wd %g, cosine schedule\n", r.name.c_str(),
              r.epochs, static_cast<long long>(kBatch), r.lr, r.weight_decay);
  std::printf("%s\n",
              [&] {
                std::ostringstream os;
                os << *model;
                return os.str();
              }()
                  .c_str());
  optim::AdamW opt(model->parameters(), {.lr = r.lr, .weight_decay = r.weight_decay});
  optim::CosineAnnealingLR sched(opt, {.t_max = r.epochs});
  data::DataLoader loader(train, {.batch_size = kBatch, .shuffle = true, .seed = kSeed, .num_workers = 1});

  auto start = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= r.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    model->train();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    const double lr = opt.lr();
    for (auto& batch : loader) {
      opt.zero_grad();
      Tensor logits = (*model)(batch.x);
      Tensor loss = F::cross_entropy(logits, batch.y);
      loss.backward();
      opt.step();
      const int64_t n = batch.y.size(0);
      loss_sum += loss.item<double>() * static_cast<double>(n);
      correct += (logits.argmax(1) == batch.y).sum().item<int64_t>();
      seen += n;
    }
    sched.step();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("epoch %2d  loss %.4f  train acc %.4f  val acc %.4f  lr %.2e  %.1f s\n", epoch,
                loss_sum / seen, static_cast<double>(correct) / seen, accuracy(*model, val), lr, secs);
    std::fflush(stdout);
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double acc = accuracy(*model, test);
  bool ok = acc >= r.target;
  std::printf("%s: test accuracy %.4f (target %.2f: %s), %.0f s training\n", r.name.c_str(), acc, r.target,
              ok ? "reached" : "MISSED", total);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string which = argc > 1 ? argv[1] : "all";
    if (which != "mlp" && which != "cnn" && which != "all") {
      std::fprintf(stderr, "usage: %s [mlp|cnn|all] [DATA_DIR]\n", argv[0]);
      return 2;
    }
    if (const char* t = std::getenv("KILN_NUM_THREADS")) set_num_threads(std::atoi(t));
    auto [train_images, test_images] =
        argc > 2 ? data::FashionMNIST::load(argv[2]) : data::FashionMNIST::load();
    // Images as f32 (N, 1, 28, 28) in [0, 1]; 5,000 training images held out for validation.
    auto full =
        std::make_shared<data::TensorDataset>(data::to_tensor(train_images.images), train_images.labels);
    auto test =
        std::make_shared<data::TensorDataset>(data::to_tensor(test_images.images), test_images.labels);
    auto [train, val] = data::random_split(full, {55.0 / 60.0, 5.0 / 60.0}, kSeed);
    auto train_ptr = std::make_shared<data::Subset>(train), val_ptr = std::make_shared<data::Subset>(val);
    std::printf("Fashion-MNIST: %lld training, %lld validation, %lld test images; %d threads\n",
                static_cast<long long>(train.size()), static_cast<long long>(val.size()),
                static_cast<long long>(test->size()), get_num_threads());

    int override_epochs = std::getenv("KILN_DEMO_EPOCHS") ? std::atoi(std::getenv("KILN_DEMO_EPOCHS")) : 0;
    std::vector<Recipe> recipes = {
        {"MLP 784-512-256-10", mlp, 15, 1e-3, 1e-2, 0.89},
        {"CNN conv32-conv64-fc128", cnn, 8, 2e-3, 1e-2, 0.91},
    };
    bool ok = true;
    for (auto& r : recipes) {
      if (override_epochs > 0) r.epochs = override_epochs;
      if (which == "all" || (which == "mlp") == (r.name[0] == 'M'))
        ok = run(r, train_ptr, val_ptr, test) && ok;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_demo: %s\n", e.what());
    return 1;
  }
}
