// Builds without NCCL (no CUDA backend, or the NCCL library not found): CUDA tensors cannot take part in
// collectives, and each call says so.
#include "kiln/nn/parallel/nccl_backend.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {

bool is_nccl_available() { return false; }

namespace nccl {
namespace {
[[noreturn]] Work unavailable(const char* op) {
  KILN_CHECK(false, op,
             ": the tensor is on a CUDA device, but kiln was built without NCCL (it needs "
             "KILN_CUDA=ON and the NCCL library); move the tensor to the CPU to reduce it over MPI");
  throw;  // unreachable
}
}  // namespace

Work all_reduce(const Tensor&, ReduceOp, bool) { unavailable("all_reduce"); }
Work broadcast(const Tensor&, int, bool) { unavailable("broadcast"); }
Work all_gather_into_tensor(const Tensor&, const Tensor&, bool) { unavailable("all_gather_into_tensor"); }
Work all_gather(const std::vector<Tensor>&, const Tensor&, bool) { unavailable("all_gather"); }
Work reduce_scatter_tensor(const Tensor&, const Tensor&, ReduceOp, bool) {
  unavailable("reduce_scatter_tensor");
}
void shutdown() {}

}  // namespace nccl
}  // namespace kiln::distributed
