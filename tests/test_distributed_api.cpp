// kiln::distributed outside mpirun, in every build: without MPI each call answers "built without MPI";
// with it, collectives before init_process_group() name the fix. (The collectives themselves run under
// mpirun: tests/mpi/.)
#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace dist = kiln::distributed;
using kiln::testing::error_of;

TEST(DistributedApi, AnswersWithoutAProcessGroup) {
  EXPECT_FALSE(dist::is_initialized());
  kiln::Tensor t = kiln::zeros({3});
  if (!dist::is_available()) {
    EXPECT_CONTAINS(error_of([] { dist::init_process_group(); }), "built without MPI");
    EXPECT_CONTAINS(error_of([&] { dist::all_reduce(t); }), "built without MPI");
    EXPECT_FALSE(dist::is_nccl_available());
    return;
  }
  EXPECT_CONTAINS(error_of([&] { dist::all_reduce(t); }), "not initialized");
  EXPECT_CONTAINS(error_of([&] { dist::broadcast(t, 0); }), "init_process_group() first");
  EXPECT_CONTAINS(error_of([] { dist::get_rank(); }), "not initialized");
  EXPECT_CONTAINS(error_of([] { dist::DistributedDataParallel d(std::make_shared<kiln::nn::Linear>(2, 2)); }),
                  "process group is not initialized");
  // Without a process group, SyncBatchNorm is BatchNorm and the differentiable all-reduce is the identity.
  kiln::manual_seed(0);
  kiln::Tensor x = kiln::randn({6, 3});
  dist::SyncBatchNorm sync(3);
  kiln::nn::BatchNorm1d plain(3);
  EXPECT_LE(kiln::amax(kiln::abs(kiln::sub(sync(x), plain(x)))).item<double>(), 1e-6);
  EXPECT_EQ(dist::functional::all_reduce_sum(x).impl(), x.impl());
}
