// kiln/nn/parallel/nccl_backend.h: the collectives on CUDA tensors, through NCCL (internal; the public
// functions of distributed.h dispatch here by device). The communicator is created on first use from a
// unique id that rank 0 draws and broadcasts over MPI; work is queued on kiln's stream of the tensor's
// device, so it is ordered with the kernels before and after it, as PyTorch's NCCL backend orders it.
// Without NCCL in the build every function throws a kiln::Error saying so. Depends on distributed.h.
#pragma once

#include <vector>

#include "kiln/nn/parallel/distributed.h"

namespace kiln::distributed::nccl {

Work all_reduce(const Tensor& t, ReduceOp op, bool async_op);
Work broadcast(const Tensor& t, int src, bool async_op);
Work all_gather_into_tensor(const Tensor& output, const Tensor& input, bool async_op);
Work all_gather(const std::vector<Tensor>& outputs, const Tensor& input, bool async_op);
Work reduce_scatter_tensor(const Tensor& output, const Tensor& input, ReduceOp op, bool async_op);
// Frees the communicator (destroy_process_group calls it).
void shutdown();

}  // namespace kiln::distributed::nccl
