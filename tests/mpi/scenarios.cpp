// Jobs that test_distributed.cpp launches with mpirun and judges by how they end. argv[1] names one:
//   throw          the last rank throws a kiln::Error while the others wait in an all-reduce
//   exit           the last rank returns 3 from main (an error it caught) while the others wait
//   models-differ  every rank builds a differently sized model and wraps it in DDP, uncaught
//   stuck          the last rank never joins the all-reduce (KILN_DIST_TIMEOUT_S bounds the wait)
//   two-hosts      prints each rank's host view (local rank, network namespace) and an all-reduce
//   gpu            (tools/gpu-check.sh, one rank) an NCCL all-reduce on the GPU and a DDP step on a CUDA MLP,
//                  each checked against the same computation without communication; exit 77 without a GPU
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <kiln/kiln.h>

namespace dist = kiln::distributed;
using namespace kiln;

namespace {
int gpu_check() {
  if (!cuda::is_available() || !dist::is_nccl_available()) {
    std::cout << "skipped: " << (cuda::is_available() ? "kiln built without NCCL" : "no CUDA device")
              << std::endl;
    return 77;
  }
  const Device dev = dist::default_device();
  Tensor t = arange(0, 1000, 1, {.dtype = DType::f32}).to(dev);
  dist::all_reduce(t, dist::ReduceOp::sum);
  Tensor want = mul(arange(0, 1000, 1, {.dtype = DType::f32}), full({}, dist::get_world_size()));
  const double err = amax(abs(sub(t.to(Device::cpu()), want))).item<double>();
  std::cout << "nccl all_reduce max error " << err << std::endl;
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 10));
  model->to(dev);
  dist::DistributedDataParallel ddp(model);
  Tensor x = randn({64, 784}).to(dev), y = randint(0, 10, {64}).to(dev);
  const auto params = ddp.parameters();
  const auto plain = autograd::grad({nn::functional::cross_entropy((*model)(x), y)}, params);
  nn::functional::cross_entropy(ddp(x), y).backward();
  double grad_err = 0;
  for (size_t i = 0; i < params.size(); ++i)
    grad_err =
        std::max(grad_err, amax(abs(sub(params[i].grad(), plain[i]))).to(Device::cpu()).item<double>());
  std::cout << "ddp step on " << (dev.is_cuda() ? "cuda" : "cpu") << ": max gradient difference " << grad_err
            << std::endl;
  dist::destroy_process_group();
  return err == 0 && grad_err <= 1e-6 ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  dist::init_process_group();
  const int rank = dist::get_rank(), last = dist::get_world_size() - 1;
  dist::barrier();
  if (mode == "throw") {
    if (rank == last) KILN_CHECK(false, "scenario: rank ", rank, " found its shard corrupt");
    Tensor t = ones({4});
    dist::all_reduce(t);  // never completes: the job must end anyway
    return 0;
  }
  if (mode == "exit") {
    if (rank == last) {
      std::cerr << "scenario: rank " << rank << " gives up" << std::endl;
      return 3;
    }
    Tensor t = ones({4});
    dist::all_reduce(t);
    return 0;
  }
  if (mode == "models-differ") {
    dist::DistributedDataParallel ddp(std::make_shared<nn::Linear>(8, 4 + rank));
    return 0;
  }
  if (mode == "stuck") {
    if (rank == last) std::this_thread::sleep_for(std::chrono::minutes(10));
    Tensor t = ones({4});
    dist::all_reduce(t);
    return 0;
  }
  if (mode == "two-hosts") {
    const std::string netns = std::filesystem::read_symlink("/proc/self/ns/net").string();
    std::cout << "rank " << rank << " local_rank " << dist::get_local_rank() << " netns " << netns
              << std::endl;
    Tensor t = full({1000}, rank + 1.0);
    dist::all_reduce(t);
    dist::barrier();
    if (rank == 0) std::cout << "sum " << t.to_vector<float>()[999] << std::endl;
    dist::destroy_process_group();
    return 0;
  }
  if (mode == "gpu") return gpu_check();
  std::cerr << "mpi_scenarios: unknown scenario '" << mode << "'" << std::endl;
  return 2;
}
