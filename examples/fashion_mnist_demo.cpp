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
// Usage: fashion_mnist_demo [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--graph]
//   data: $KILN_FASHION_MNIST_DIR, then the package. --device (or KILN_DEVICE=cuda) trains on the GPU with
//   the same code: model.to(device), each batch moved per step from pinned host memory. --graph (CUDA)
//   captures the training step once with cuda::TrainStepGraph and replays it per batch (the last, smaller
//   batch of an epoch runs eagerly); if the capture is refused the demo says why and trains eagerly.
// KILN_NUM_THREADS sets the CPU thread count; KILN_DEMO_EPOCHS overrides the epoch counts (quick runs).
#include <kiln/kiln.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace kiln;
namespace F = kiln::nn::functional;

namespace {

constexpr uint64_t kSeed = 42;
constexpr int64_t kBatch = 128;

struct Run {
  Device device = Device::cpu();
  bool graph = false;
};

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
// Counted on the device and read once, so evaluation never waits on the GPU per batch.
double accuracy(nn::Module& model, const data::DatasetPtr& ds, Device device) {
  model.eval();
  autograd::NoGradGuard no_grad;
  data::DataLoader loader(ds, {.batch_size = 1000, .pin_memory = device.is_cuda()});
  Tensor correct = zeros({}, {.dtype = DType::i64, .device = device});
  for (auto& batch : loader) correct.add_((model(batch.x.to(device)).argmax(1) == batch.y.to(device)).sum());
  return static_cast<double>(correct.item<int64_t>()) / static_cast<double>(ds->size());
}

bool run(const Recipe& r, const Run& how, const data::DatasetPtr& train, const data::DatasetPtr& val,
         const data::DatasetPtr& test) {
  manual_seed(kSeed);
  nn::ModulePtr model = r.build();
  model->to(how.device);
  std::printf("\n== %s on %s%s: %d epochs, batch %lld, AdamW lr %g wd %g, cosine schedule\n", r.name.c_str(),
              how.device.str().c_str(), how.graph ? " (CUDA Graph)" : "", r.epochs,
              static_cast<long long>(kBatch), r.lr, r.weight_decay);
  std::printf("%s\n",
              [&] {
                std::ostringstream os;
                os << *model;
                return os.str();
              }()
                  .c_str());
  optim::AdamW opt(model->parameters(), {.lr = r.lr, .weight_decay = r.weight_decay});
  optim::CosineAnnealingLR sched(opt, {.t_max = r.epochs});
  const Device dev = how.device;
  data::DataLoader loader(
      train,
      {.batch_size = kBatch, .shuffle = true, .seed = kSeed, .num_workers = 1, .pin_memory = dev.is_cuda()});

  // One step, eager: the batch is already on `dev`; loss and correct count stay there (read per epoch).
  Tensor correct_in_step;
  auto forward_backward = [&](const Tensor& x, const Tensor& y) {
    Tensor logits = (*model)(x);
    Tensor loss = F::cross_entropy(logits, y);
    loss.backward();
    correct_in_step = (logits.argmax(1) == y).sum().to(DType::i64);
    return loss;
  };
  // --graph: the step on static (B, 1, 28, 28) / (B) inputs, captured after two eager steps. Gradients
  // are then graph-owned and rewritten by each replay: no zero_grad() between graphed steps.
  Tensor static_x, static_y, graph_correct;  // graph_correct: the replays' correct count
  std::unique_ptr<cuda::TrainStepGraph> graphed;
  if (how.graph) {
    static_x = empty({kBatch, 1, 28, 28}, {.device = dev});
    static_y = empty({kBatch}, {.dtype = DType::i64, .device = dev});
    graphed = std::make_unique<cuda::TrainStepGraph>(
        std::vector<Tensor>{static_x, static_y}, model->parameters(),
        [&] {
          Tensor loss = forward_backward(static_x, static_y);
          graph_correct = correct_in_step;
          return loss;
        },
        [&] { opt.step(); }, cuda::TrainStepGraphOptions{.warmup_steps = 2});
  }
  // Returns the step's loss and its count of correct predictions, both on the device.
  auto train_step = [&](const Tensor& x, const Tensor& y) -> std::pair<Tensor, Tensor> {
    if (graphed && x.size(0) == kBatch) {
      try {
        Tensor loss = graphed->run({x, y});
        return {loss, graphed->captured() ? graph_correct : correct_in_step};
      } catch (const Error& e) {
        if (graphed->captured() || graphed->steps() <= 2) throw;
        std::printf("note: CUDA Graph capture refused, training eagerly: %s\n", e.what());
        graphed.reset();
      }
    }
    // Eager: after a capture the grads are the graph's, so zero them in place instead of dropping them.
    opt.zero_grad(/*set_to_none=*/!(graphed && graphed->captured()));
    Tensor loss = forward_backward(x, y);
    opt.step();
    return {loss, correct_in_step};
  };

  auto start = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= r.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    model->train();
    Tensor loss_sum = zeros({}, {.device = dev}), correct = zeros({}, {.dtype = DType::i64, .device = dev});
    int64_t seen = 0;
    const double lr = opt.lr();
    for (auto& batch : loader) {
      Tensor x = batch.x.to(dev), y = batch.y.to(dev);  // asynchronous from pinned memory on CUDA
      auto [loss, step_correct] = train_step(x, y);
      const int64_t n = y.size(0);
      loss_sum.add_(loss.detach(), static_cast<double>(n));
      correct.add_(step_correct);
      seen += n;
    }
    sched.step();
    const double mean_loss = loss_sum.item<double>() / static_cast<double>(seen);
    const double train_acc = static_cast<double>(correct.item<int64_t>()) / static_cast<double>(seen);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("epoch %2d  loss %.4f  train acc %.4f  val acc %.4f  lr %.2e  %.1f s\n", epoch, mean_loss,
                train_acc, accuracy(*model, val, dev), lr, secs);
    std::fflush(stdout);
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double acc = accuracy(*model, test, dev);
  bool ok = acc >= r.target;
  std::printf("%s: test accuracy %.4f (target %.2f: %s), %.0f s training\n", r.name.c_str(), acc, r.target,
              ok ? "reached" : "MISSED", total);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const char* usage = "usage: %s [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--graph]\n";
    Run how;
    std::string device_name = std::getenv("KILN_DEVICE") ? std::getenv("KILN_DEVICE") : "cpu";
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--graph") {
        how.graph = true;
      } else if (a == "--device" && i + 1 < argc) {
        device_name = argv[++i];
      } else if (a.rfind("--", 0) == 0) {
        std::fprintf(stderr, usage, argv[0]);
        return 2;
      } else {
        positional.push_back(a);
      }
    }
    std::string which = positional.size() > 0 ? positional[0] : "all";
    if ((which != "mlp" && which != "cnn" && which != "all") || positional.size() > 2 ||
        (device_name != "cpu" && device_name != "cuda")) {
      std::fprintf(stderr, usage, argv[0]);
      return 2;
    }
    if (device_name == "cuda") {
      if (!cuda::is_available()) {
        std::fprintf(stderr, "fashion_mnist_demo: --device cuda, but no CUDA device is available\n");
        return 2;
      }
      how.device = Device::cuda();
    }
    if (how.graph && !how.device.is_cuda()) {
      std::fprintf(stderr, "fashion_mnist_demo: --graph needs --device cuda\n");
      return 2;
    }
    if (const char* t = std::getenv("KILN_NUM_THREADS")) set_num_threads(std::atoi(t));
    auto [train_images, test_images] =
        positional.size() > 1 ? data::FashionMNIST::load(positional[1]) : data::FashionMNIST::load();
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
        ok = run(r, how, train_ptr, val_ptr, test) && ok;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_demo: %s\n", e.what());
    return 1;
  }
}
