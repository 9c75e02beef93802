// Data-parallel scaling and all-reduce bandwidth, launched by mpirun (bench/distributed.sh runs the set):
//   kiln_bench_distributed allreduce        kiln's all_reduce (sum, f32) against an OSU-style loop of
//                                           MPI_Allreduce on the same MPI (the limit), 4 KiB .. 64 MiB
//   kiln_bench_distributed train MODEL      DDP training samples/s with MODEL demo (784-512-256-10) or wide
//                                           (784-2048-2048-10), batch 64 per rank, overlap on and off
// Every rank runs the same loop; rank 0 prints. Timings use the median of the repetitions.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace dist = kiln::distributed;
namespace F = kiln::nn::functional;
using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds per call of f, the median of 5 timed batches of `iters` calls each (after a warm-up batch).
template <class Fn>
double time_per_call(int iters, Fn f) {
  std::vector<double> t;
  for (int rep = 0; rep < 6; ++rep) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = Clock::now();
    for (int i = 0; i < iters; ++i) f();
    const double s = std::chrono::duration<double>(Clock::now() - start).count() / iters;
    double slowest = 0;
    MPI_Allreduce(&s, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rep > 0) t.push_back(slowest);
  }
  return median(t);
}

void bench_allreduce(int rank, int world) {
  if (rank == 0)
    std::printf(
        "all-reduce (sum, f32), %d ranks: bus bandwidth = 2 (n-1)/n x bytes / time\n"
        "%10s %14s %14s %14s %14s %8s\n",
        world, "bytes", "MPI us", "MPI GB/s", "kiln us", "kiln GB/s", "kiln/MPI");
  for (int64_t bytes = 4096; bytes <= (int64_t{64} << 20); bytes *= 4) {
    const int64_t n = bytes / 4;
    std::vector<float> send(n, 1.0f), recv(n);
    const int iters = bytes <= (1 << 20) ? 200 : 10;
    const double mpi = time_per_call(iters, [&] {
      MPI_Allreduce(send.data(), recv.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
    Tensor t = ones({n});
    const double kiln = time_per_call(iters, [&] { dist::all_reduce(t); });
    const double factor = world > 1 ? 2.0 * (world - 1) / world : 1.0;
    if (rank == 0)
      std::printf("%10ld %14.1f %14.3f %14.1f %14.3f %8.2f\n", static_cast<long>(bytes), mpi * 1e6,
                  factor * bytes / mpi / 1e9, kiln * 1e6, factor * bytes / kiln / 1e9, mpi / kiln);
  }
}

nn::ModulePtr make_model(const std::string& which) {
  if (which == "wide")
    return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 2048), nn::ReLU(),
                                            nn::Linear(2048, 2048), nn::ReLU(), nn::Linear(2048, 10));
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(),
                                          nn::Linear(512, 256), nn::ReLU(), nn::Linear(256, 10));
}

void bench_train(int rank, int world, const std::string& which) {
  constexpr int64_t batch = 64;
  manual_seed(0);
  Tensor x = rand({batch * 8, 784}), y = randint(0, 10, {batch * 8});
  for (bool overlap : {true, false}) {
    auto model = make_model(which);
    dist::DistributedDataParallel ddp(model, {.overlap = overlap});
    optim::SGD opt(ddp.parameters(), {.lr = 0.01, .momentum = 0.9});
    int64_t step = 0;
    auto one_step = [&] {
      const int64_t b = step++ % 8;
      opt.zero_grad();
      F::cross_entropy(ddp(x.slice(0, b * batch, (b + 1) * batch)), y.slice(0, b * batch, (b + 1) * batch))
          .backward();
      opt.step();
    };
    const double s = time_per_call(10, one_step);
    if (rank == 0)
      std::printf(
          "train %-4s %d rank(s) overlap %-3s: %8.1f samples/s (%d x %ld per step, %.2f ms/step, %lld "
          "params, %zu buckets)\n",
          which.c_str(), world, overlap ? "on" : "off", world * batch / s, world, static_cast<long>(batch),
          s * 1e3, static_cast<long long>(model->num_parameters()), ddp.bucket_assignment().size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "allreduce";
  dist::init_process_group();
  const int rank = dist::get_rank(), world = dist::get_world_size();
  if (mode == "allreduce")
    bench_allreduce(rank, world);
  else if (mode == "train")
    bench_train(rank, world, argc > 2 ? argv[2] : "demo");
  else if (rank == 0)
    std::fprintf(stderr, "kiln_bench_distributed: unknown mode '%s' (allreduce, train demo|wide)\n",
                 mode.c_str());
  dist::destroy_process_group();
  return 0;
}
