// Builds without MPI (KILN_MPI off): the API exists so that programs compile either way, and every call
// but is_available() answers that kiln was built without MPI.
#include "kiln/nn/parallel/distributed.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {
namespace {
[[noreturn]] void built_without_mpi(const char* op) {
  KILN_CHECK(false, "kiln::distributed::", op,
             ": kiln was built without MPI (configure with KILN_MPI=ON "
             "where OpenMPI is installed: apt-get install libopenmpi-dev openmpi-bin)");
  throw;  // unreachable
}
}  // namespace

bool is_available() { return false; }
bool is_nccl_available() { return false; }
void init_process_group(const InitOptions&) { built_without_mpi("init_process_group"); }
bool is_initialized() { return false; }
void destroy_process_group() {}
int get_rank() { built_without_mpi("get_rank"); }
int get_world_size() { built_without_mpi("get_world_size"); }
int get_local_rank() { built_without_mpi("get_local_rank"); }
Device default_device() { built_without_mpi("default_device"); }
const char* reduce_op_name(ReduceOp op) {
  const char* names[] = {"sum", "mean", "max", "min", "product"};
  return names[static_cast<int>(op)];
}
void Work::wait() {}
bool Work::is_completed() const { return true; }
Work all_reduce(const Tensor&, ReduceOp, bool) { built_without_mpi("all_reduce"); }
Work broadcast(const Tensor&, int, bool) { built_without_mpi("broadcast"); }
Work all_gather(const std::vector<Tensor>&, const Tensor&, bool) { built_without_mpi("all_gather"); }
Work all_gather_into_tensor(const Tensor&, const Tensor&, bool) {
  built_without_mpi("all_gather_into_tensor");
}
Work reduce_scatter(const Tensor&, const std::vector<Tensor>&, ReduceOp, bool) {
  built_without_mpi("reduce_scatter");
}
Work reduce_scatter_tensor(const Tensor&, const Tensor&, ReduceOp, bool) {
  built_without_mpi("reduce_scatter_tensor");
}
Tensor all_gather_concat(const Tensor&) { built_without_mpi("all_gather_concat"); }
void barrier() { built_without_mpi("barrier"); }

}  // namespace kiln::distributed
