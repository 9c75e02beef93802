// bench/bench_fit.cpp: the cost of nn::train::fit against the hand-written loop it replaces (the demo's
// former loop: loader, forward, cross-entropy, backward, AdamW step, loss and correct-count accumulated on
// the device, cosine schedule per epoch). Same model, data, seed and batches; the two run alternately,
// one epoch each, ROUNDS times, so machine load affects both alike. Prints samples/s (median over the
// rounds) side by side and their ratio (fit / hand loop; the target is >= 0.97), plus the one-time cost of
// fit's end-of-run diagnostics. Besides wall-clock samples/s it reports samples per CPU-second of the whole
// process (getrusage user + system): on a machine shared with other jobs the wall clock mostly measures
// the neighbours, while the CPU time a step costs stays put.
//
// Usage: kiln_bench_fit [mlp|cnn] [--rounds R] [--samples N] [--threads T]
//   data: the first N Fashion-MNIST training images (dataset-fashion-mnist), batch 128, one prefetch worker.
#include <kiln/kiln.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "demo_models.h"

using namespace kiln;
namespace T = kiln::nn::train;
namespace F = kiln::nn::functional;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Run {
  nn::ModulePtr model;
  std::unique_ptr<optim::AdamW> opt;
  std::unique_ptr<optim::CosineAnnealingLR> sched;
  std::unique_ptr<data::DataLoader> loader;
};

Run make_run(const std::string& which, const data::DatasetPtr& train, int epochs) {
  manual_seed(42);
  Run r;
  r.model = kiln::bench::build_demo_model(which);
  r.opt = std::make_unique<optim::AdamW>(r.model->parameters(),
                                         optim::AdamWOptions{.lr = 1e-3, .weight_decay = 1e-2});
  r.sched =
      std::make_unique<optim::CosineAnnealingLR>(*r.opt, optim::CosineAnnealingLROptions{.t_max = epochs});
  r.loader = std::make_unique<data::DataLoader>(
      train, data::LoaderOptions{.batch_size = 128, .shuffle = true, .seed = 42, .num_workers = 1});
  return r;
}

// One epoch of the demo's former loop; returns the mean loss (read once, as the demo did).
double hand_epoch(Run& r) {
  r.model->train();
  Tensor loss_sum = zeros({}), correct = zeros({}, {.dtype = DType::i64});
  int64_t seen = 0;
  for (auto& batch : *r.loader) {
    r.opt->zero_grad();
    Tensor logits = (*r.model)(batch.x);
    Tensor loss = F::cross_entropy(logits, batch.y);
    loss.backward();
    r.opt->step();
    loss_sum.add_(loss.detach(), static_cast<double>(batch.y.size(0)));
    correct.add_((logits.argmax(1) == batch.y).sum().to(DType::i64));
    seen += batch.y.size(0);
  }
  r.sched->step();
  return loss_sum.item<double>() / static_cast<double>(seen) +
         0 * static_cast<double>(correct.item<int64_t>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string which = "mlp";
  int rounds = 5;
  int64_t samples = 20000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "mlp" || a == "cnn")
      which = a;
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (a == "--samples" && i + 1 < argc)
      samples = std::atoll(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      set_num_threads(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: kiln_bench_fit [mlp|cnn] [--rounds R] [--samples N] [--threads T]\n");
      return 2;
    }
  }
  try {
    auto [train_images, test_images] = data::FashionMNIST::load();
    Tensor x = data::to_tensor(train_images.images).narrow(0, 0, samples).contiguous();
    auto train =
        std::make_shared<data::TensorDataset>(x, train_images.labels.narrow(0, 0, samples).contiguous());

    Run hand = make_run(which, train, rounds), fitted = make_run(which, train, rounds);
    // As the demo runs it, minus the printing: the metric, the schedule and the diagnostics' per-batch record
    // (the end-of-run analysis is timed separately below).
    // The end-of-run diagnosis is timed apart: the epoch's clock stops in on_train_end, which fit calls
    // before diagnosing.
    std::chrono::steady_clock::time_point end_wall;
    double end_cpu = 0;
    auto stamp = std::make_shared<T::LambdaCallback>(
        T::LambdaCallbackFns{.on_train_end = [&](T::TrainContext&, const T::Logs&) {
          end_wall = std::chrono::steady_clock::now();
          end_cpu = cpu_seconds();
        }});
    T::FitOptions options{
        .metrics = {"accuracy"}, .scheduler = fitted.sched.get(), .verbose = 0, .callbacks = {stamp}};
    std::vector<double> diag_seconds;
    T::History history;
    std::vector<double> hand_rate, fit_rate, hand_cpu, fit_cpu;
    const double n = static_cast<double>(samples);
    for (int e = 0; e < rounds; ++e) {
      auto t0 = std::chrono::steady_clock::now();
      double c0 = cpu_seconds();
      hand_epoch(hand);
      hand_rate.push_back(n / seconds_since(t0));
      hand_cpu.push_back(n / (cpu_seconds() - c0));

      options.initial_epoch = e;
      options.epochs = e + 1;
      options.history = history;
      t0 = std::chrono::steady_clock::now();
      c0 = cpu_seconds();
      history = T::fit(*fitted.model, *fitted.opt, *fitted.loader, {}, options);
      diag_seconds.push_back(seconds_since(end_wall));
      fit_rate.push_back(n / std::chrono::duration<double>(end_wall - t0).count());
      fit_cpu.push_back(n / (end_cpu - c0));
      std::printf(
          "round %d: hand loop %.0f samples/s (%.0f per CPU-s), fit %.0f samples/s (%.0f per CPU-s)\n", e + 1,
          hand_rate.back(), hand_cpu.back(), fit_rate.back(), fit_cpu.back());
    }
    const double diag = median(diag_seconds);
    const double h = median(hand_rate), f = median(fit_rate), hc = median(hand_cpu), fc = median(fit_cpu);
    std::printf("per CPU-second: hand loop %.0f samples, fit %.0f samples, fit / hand = %.3f\n", hc, fc,
                fc / hc);
    std::printf(
        "%s, %lld samples, batch 128, %d threads, %d rounds: hand loop %.0f samples/s, fit %.0f samples/s, "
        "fit / hand = %.3f; diagnostics at the end of each fit: %.2f s\n",
        which.c_str(), static_cast<long long>(samples), get_num_threads(), rounds, h, f, f / h, diag);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAILED: %s\n", e.what());
    return 1;
  }
}
