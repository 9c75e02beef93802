// bench/bench_train.cpp: end-to-end training throughput of the demo's two models (examples/
// fashion_mnist_demo.cpp): the MLP 784-512-256-10 and the CNN conv32-conv64-fc128, batch 128 by default,
// AdamW, cross-entropy — forward, backward and optimizer step, as in the demo's inner loop. Data are
// Fashion-MNIST-shaped random tensors already in memory (on the device, for --device cuda), so the figure
// is the training step alone and can be compared with another library running the same script
// (bench/train_torch.py does it for PyTorch). Prints samples/s (median of REPS timed blocks after warm-up),
// what was timed, and the process's peak RSS.
//
// Usage: kiln_bench_train mlp|cnn [--steps N] [--reps R] [--threads T] [--batch B] [--device cpu|cuda]
//                                 [--graph]
// On CUDA each timed block ends with cuda::synchronize(); the peak device memory (max_memory_allocated)
// is printed with the part of it one training step adds to the resident model and data. Where the
// optimizer rejects CUDA parameters (before optimizers run on CUDA) the timing covers forward + backward
// only and the line says so. --graph captures the step once with cuda::TrainStepGraph and replays it (the
// optimizer step inside the graph when the optimizer says it is capturable, eagerly otherwise); if the
// capture is refused the reason is printed and the eager step is timed ("graph: not captured").
// Exit code 1 with a "FAILED:" line if the step itself fails (an op missing on CUDA, for instance).
#include <kiln/kiln.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "demo_models.h"

using namespace kiln;

namespace {

// Whether the optimizer's step may be captured into a CUDA Graph: an optimizer that keeps its step count
// and scalars on the device says so through capturable() (the CUDA optimizer work adds it); without that
// member, no.
template <class O>
bool capturable(const O& opt) {
  if constexpr (requires {
                  { opt.capturable() } -> std::convertible_to<bool>;
                })
    return opt.capturable();
  else
    return false;
}

struct Config {
  std::string model;
  int steps = 0, reps = 5, threads = 2;
  int64_t batch = 128;
  Device device = Device::cpu();
  bool graph = false;
};

int run(const Config& c) {
  set_num_threads(c.threads);
  manual_seed(1);
  nn::ModulePtr model = kiln::bench::build_demo_model(c.model);
  model->train();
  model->to(c.device);
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
    xs.push_back(rand({c.batch, 1, 28, 28}).to(c.device));
    ys.push_back(randint(0, 10, {c.batch}).to(c.device));
  }
  const int64_t resident = c.device.is_cuda() ? cuda::memory_allocated() : 0;
  auto eager_step = [&](int i) {
    if (opt) {
      opt->zero_grad();
    } else {
      for (const Tensor& p : model->parameters()) p.set_grad(Tensor());
    }
    Tensor loss = nn::functional::cross_entropy((*model)(xs[i % 8]), ys[i % 8]);
    loss.backward();
    if (opt) opt->step();
  };
  // --graph: static inputs the captured step reads; each step copies its batch into them.
  std::unique_ptr<cuda::TrainStepGraph> graphed;
  std::string graph_state = c.graph ? "graph: captured" : "graph: off";
  const bool capture_opt = opt && capturable(*opt);
  if (c.graph) {
    Tensor x = empty(xs[0].shape(), {.device = c.device}),
           y = empty(ys[0].shape(), {.dtype = DType::i64, .device = c.device});
    graphed = std::make_unique<cuda::TrainStepGraph>(
        std::vector<Tensor>{x, y}, model->parameters(),
        [&model, x, y] {
          Tensor loss = nn::functional::cross_entropy((*model)(x), y);
          loss.backward();
          return loss;
        },
        opt ? std::function<void()>([&] { opt->step(); }) : nullptr,
        cuda::TrainStepGraphOptions{.warmup_steps = 2, .capture_optimizer_step = capture_opt});
  }
  auto step = [&](int i) {
    if (!graphed) return eager_step(i);
    try {
      graphed->run({xs[i % 8], ys[i % 8]});
    } catch (const Error& e) {
      if (graphed->captured() || graphed->steps() <= 2) throw;  // not a refused capture
      std::string why = e.what();
      std::printf("note: CUDA Graph capture refused: %s\nnote: timing the eager step\n", why.c_str());
      graph_state = "graph: not captured";
      graphed.reset();
      eager_step(i);
    }
  };
  auto sync = [&] {
    if (c.device.is_cuda()) cuda::synchronize(c.device.index);
  };
  for (int i = 0; i < std::max(3, c.steps / 5); ++i) step(i);  // warm-up: caches, first touch, capture
  sync();
  std::vector<double> rates;
  for (int r = 0; r < c.reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < c.steps; ++i) step(i);
    sync();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(c.steps * c.batch) / s);
  }
  std::sort(rates.begin(), rates.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::string timed =
      opt ? std::string("forward+backward+AdamW") + (graphed && capture_opt ? " (captured)" : "")
          : "forward+backward only";
  std::printf(
      "kiln %s %s batch %lld threads %d: %.0f samples/s (median of %d x %d steps; min %.0f, max %.0f), "
      "timed %s, %s, peak RSS %.1f MiB",
      c.model.c_str(), c.device.str().c_str(), static_cast<long long>(c.batch), c.threads,
      rates[rates.size() / 2], c.reps, c.steps, rates.front(), rates.back(), timed.c_str(),
      graph_state.c_str(), ru.ru_maxrss / 1024.0);
  if (c.device.is_cuda()) {
    const int64_t peak = cuda::max_memory_allocated();
    std::printf(", peak device memory %.1f MiB (step %.1f MiB)", peak / 1048576.0,
                (peak - resident) / 1048576.0);
  }
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: %s mlp|cnn [--steps N] [--reps R] [--threads T] [--batch B] [--device cpu|cuda] [--graph]\n";
  if (argc < 2 || (std::strcmp(argv[1], "mlp") != 0 && std::strcmp(argv[1], "cnn") != 0)) {
    std::fprintf(stderr, usage, argv[0]);
    return 2;
  }
  Config c;
  c.model = argv[1];
  c.steps = c.model == "mlp" ? 50 : 10;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--graph") {
      c.graph = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return 2;
    }
    const char* value = argv[++i];
    int v = std::atoi(value);
    if (flag == "--device") {
      if (std::strcmp(value, "cuda") == 0) {
        if (!cuda::is_available()) {
          std::fprintf(stderr, "--device cuda: no CUDA device\n");
          return 2;
        }
        c.device = Device::cuda();
      } else if (std::strcmp(value, "cpu") != 0) {
        std::fprintf(stderr, "unknown device %s (cpu or cuda)\n", value);
        return 2;
      }
    } else if (flag == "--steps")
      c.steps = v;
    else if (flag == "--reps")
      c.reps = v;
    else if (flag == "--threads")
      c.threads = v;
    else if (flag == "--batch")
      c.batch = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (c.graph && !c.device.is_cuda()) {
    std::fprintf(stderr, "--graph needs --device cuda\n");
    return 2;
  }
  if (c.steps < 1 || c.reps < 1 || c.batch < 1) {
    std::fprintf(stderr, "--steps, --reps and --batch must be >= 1\n");
    return 2;
  }
  try {
    return run(c);
  } catch (const std::exception& e) {
    std::printf("kiln %s %s batch %lld: FAILED: %s\n", c.model.c_str(), c.device.str().c_str(),
                static_cast<long long>(c.batch), e.what());
    return 1;
  }
}
