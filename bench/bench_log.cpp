// bench/bench_log.cpp: what TensorBoard logging costs a training run. The demo's MLP (784-512-256-10,
// ReLU, Dropout 0.2, AdamW, batch 128) is trained with train::fit on Fashion-MNIST-shaped random data in
// memory, alternately without and with the TensorBoard callback (epoch scalars, batch_loss every
// --update-freq steps, weight and gradient histograms and sample images every epoch), and samples/s are
// printed side by side with their ratio (median over --reps pairs).
//
// Usage: kiln_bench_log [--samples N] [--epochs E] [--reps R] [--update-freq U] [--log-dir DIR]
#include <kiln/kiln.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace kiln;
namespace train = kiln::nn::train;

namespace {

double run(const data::DatasetPtr& ds, int64_t epochs, std::vector<train::CallbackPtr> callbacks) {
  manual_seed(1);
  nn::Sequential model{nn::Flatten(),        nn::Linear(784, 512), nn::ReLU(),       nn::Dropout(0.2),
                       nn::Linear(512, 256), nn::ReLU(),           nn::Dropout(0.2), nn::Linear(256, 10)};
  optim::AdamW opt(model.parameters(), {.lr = 1e-3, .weight_decay = 1e-2});
  data::DataLoader loader(ds, {.batch_size = 128, .shuffle = true, .seed = 1});
  auto t0 = std::chrono::steady_clock::now();
  train::fit(model, opt, loader, {},
             {.epochs = epochs, .verbose = 0, .callbacks = callbacks, .diagnostics = false});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(ds->size() * epochs) / s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t samples = 12800, epochs = 2, reps = 3, update_freq = 20;
  std::string log_dir = (std::filesystem::temp_directory_path() / "kiln-bench-log").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--samples")
      samples = std::atoll(argv[i + 1]);
    else if (a == "--epochs")
      epochs = std::atoll(argv[i + 1]);
    else if (a == "--reps")
      reps = std::atoll(argv[i + 1]);
    else if (a == "--update-freq")
      update_freq = std::atoll(argv[i + 1]);
    else if (a == "--log-dir")
      log_dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  manual_seed(0);
  auto ds = std::make_shared<data::TensorDataset>(rand({samples, 1, 28, 28}), randint(0, 10, {samples}));
  std::vector<double> plain, logged;
  for (int64_t r = 0; r < reps; ++r) {
    plain.push_back(run(ds, epochs, {}));
    std::filesystem::remove_all(log_dir);
    logged.push_back(run(ds, epochs,
                         {std::make_shared<train::TensorBoard>(train::TensorBoardOptions{
                             .log_dir = log_dir, .update_freq = update_freq, .histogram_freq = 1})}));
  }
  double a = median(plain), b = median(logged);
  std::printf("MLP %lld samples x %lld epochs, batch 128, %lld threads, median of %lld\n",
              static_cast<long long>(samples), static_cast<long long>(epochs),
              static_cast<long long>(get_num_threads()), static_cast<long long>(reps));
  std::printf("without TensorBoard: %.0f samples/s\n", a);
  std::printf("with TensorBoard (histograms every epoch, batch_loss every %lld steps): %.0f samples/s\n",
              static_cast<long long>(update_freq), b);
  std::printf("ratio: %.3fx\n", b / a);
  std::filesystem::remove_all(log_dir);
  return 0;
}
