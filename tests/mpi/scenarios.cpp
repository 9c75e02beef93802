// Jobs that test_distributed.cpp launches with mpirun and judges by how they end. argv[1] names one:
//   throw          the last rank throws a kiln::Error while the others wait in an all-reduce
//   exit           the last rank returns 3 from main (an error it caught) while the others wait
//   models-differ  every rank builds a differently sized model and wraps it in DDP, uncaught
//   stuck          the last rank never joins the all-reduce (KILN_DIST_TIMEOUT_S bounds the wait)
//   two-hosts      prints each rank's host view (local rank, network namespace) and an all-reduce
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
  std::cerr << "mpi_scenarios: unknown scenario '" << mode << "'" << std::endl;
  return 2;
}
