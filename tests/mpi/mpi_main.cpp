// The main of the GoogleTest programs that run under mpirun (tests/mpi/CMakeLists.txt): every rank runs
// every test, in the same order, inside one process group. A failing rank makes mpirun's exit status
// non-zero; a rank left waiting for a failed one times out (KILN_DIST_TIMEOUT_S) instead of hanging.
#include <gtest/gtest.h>

#include <kiln/kiln.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kiln::distributed::init_process_group();
  const int rc = RUN_ALL_TESTS();
  // Every rank must agree before the group is torn down: a rank that failed still joins this barrier.
  kiln::distributed::barrier();
  kiln::distributed::destroy_process_group();
  return rc;
}
