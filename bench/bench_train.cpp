// bench/bench_train.cpp: end-to-end training throughput of the demo's two models (examples/
// fashion_mnist_demo.cpp): the MLP 784-512-256-10 and the CNN conv32-conv64-fc128, batch 128, AdamW,
// cross-entropy — forward, backward and optimizer step, as in the demo's inner loop. Data are
// Fashion-MNIST-shaped random tensors already in memory, so the figure is the training step alone and can
// be compared with another library running the same script (bench/train_torch.py does it for PyTorch).
// Prints samples/s (median of REPS timed blocks after warm-up) and the process's peak RSS.
//
// Usage: kiln_bench_train mlp|cnn [--steps N] [--reps R] [--threads T] [--batch B] [--device cpu|cuda]
// On CUDA each timed block ends with cuda::synchronize(), and the peak device memory is printed too.
#include <kiln/kiln.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace kiln;

namespace {

nn::ModulePtr build(const std::string& model) {
  if (model == "mlp")
    return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                                            nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2),
                                            nn::Linear(256, 10));
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(1, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "mlp") != 0 && std::strcmp(argv[1], "cnn") != 0)) {
    std::fprintf(stderr,
                 "usage: %s mlp|cnn [--steps N] [--reps R] [--threads T] [--batch B] [--device cpu|cuda]\n",
                 argv[0]);
    return 2;
  }
  std::string model_name = argv[1];
  int steps = model_name == "mlp" ? 50 : 10, reps = 5, threads = 2;
  int64_t batch = 128;
  Device device = Device::cpu();
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (flag == "--device") {
      if (std::strcmp(argv[i + 1], "cuda") == 0) {
        if (!cuda::is_available()) {
          std::fprintf(stderr, "--device cuda: no CUDA device\n");
          return 2;
        }
        device = Device::cuda();
      } else if (std::strcmp(argv[i + 1], "cpu") != 0) {
        std::fprintf(stderr, "unknown device %s (cpu or cuda)\n", argv[i + 1]);
        return 2;
      }
    } else if (flag == "--steps")
      steps = v;
    else if (flag == "--reps")
      reps = v;
    else if (flag == "--threads")
      threads = v;
    else if (flag == "--batch")
      batch = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  manual_seed(1);
  nn::ModulePtr model = build(model_name);
  model->train();
  model->to(device);
  // Optimizers that cannot run on the model's device (CPU-only ones, for now) leave a forward + backward
  // timing, labelled as such, rather than no number at all.
  std::optional<optim::AdamW> opt;
  try {
    opt.emplace(model->parameters(), optim::AdamWOptions{.lr = 1e-3});
  } catch (const Error& e) {
    std::printf("note: %s\nnote: timing forward + backward only (no optimizer step)\n", e.what());
  }
  // A pool of batches, cycled, so the timing does not depend on one batch's values.
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 8; ++i) {
    xs.push_back(rand({batch, 1, 28, 28}).to(device));
    ys.push_back(randint(0, 10, {batch}).to(device));
  }
  auto step = [&](int i) {
    if (opt) {
      opt->zero_grad();
    } else {
      for (const Tensor& p : model->parameters()) p.set_grad(Tensor());
    }
    Tensor loss = nn::functional::cross_entropy((*model)(xs[i % 8]), ys[i % 8]);
    loss.backward();
    if (opt) opt->step();
  };
  auto sync = [&] {
    if (device.is_cuda()) cuda::synchronize(device.index);
  };
  for (int i = 0; i < std::max(2, steps / 5); ++i) step(i);  // warm-up: allocator caches, first-touch
  sync();
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step(i);
    sync();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(steps * batch) / s);
  }
  std::sort(rates.begin(), rates.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "kiln %s %s batch %lld threads %d: %.0f samples/s (median of %d x %d steps; min %.0f, max %.0f), "
      "peak RSS %.1f MiB",
      model_name.c_str(), device.str().c_str(), static_cast<long long>(batch), threads,
      rates[rates.size() / 2], reps, steps, rates.front(), rates.back(), ru.ru_maxrss / 1024.0);
  if (device.is_cuda())
    std::printf(", peak device memory %.1f MiB", cuda::max_memory_allocated() / 1048576.0);
  std::printf("\n");
  return 0;
}
