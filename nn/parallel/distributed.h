// kiln/nn/parallel/distributed.h: kiln::distributed, the process group (torch.distributed's names).
// One process per rank, launched by mpirun; init_process_group() reads rank, world size and local rank
// from the MPI environment. CPU tensors travel through MPI, CUDA tensors through NCCL (its unique id is
// exchanged over MPI). Built without MPI (KILN_MPI off), every call but is_available() throws
// "built without MPI".
//
// Semantics shared by every collective:
// - Every rank must call the same collectives in the same order with the same dtype, element count, op
//   and root. kiln checks that before moving any data (a tiny extra reduction, on by default): a
//   disagreement is a kiln::Error on every rank naming the collective and the differing values, never a
//   hang or silent garbage.
// - Tensors are modified in place (they are handles); with async_op the call returns at once and the
//   tensors must not be read or written until Work::wait() returns. Without it, the call returns done.
// - A collective that does not finish within the group's timeout (another rank died or took another
//   path) throws on wait(); the group is then broken and every later call throws at once.
// - An uncaught exception on any rank ends the whole job (all ranks) with its message, instead of leaving
//   the other ranks waiting: init_process_group installs a terminate handler that calls MPI_Abort.
// Depends on tensor/.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::distributed {

// Whether kiln was built with MPI (KILN_MPI).
bool is_available();
// Whether kiln was built with NCCL (KILN_MPI and the CUDA backend with the NCCL library found).
bool is_nccl_available();

struct InitOptions {
  // How long a collective may wait for the other ranks before failing. The environment variable
  // KILN_DIST_TIMEOUT_S, when set, overrides it (jobs set it without recompiling).
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
  // Check before each collective that every rank called the same one with the same dtype, count, op and
  // root (one small all-reduce each; off only to measure what it costs).
  bool check_consistency = true;
};

// Joins the job: initializes MPI (unless the program already did) and starts the communication thread.
// A second call without destroy_process_group() in between is a kiln::Error.
void init_process_group(const InitOptions& options = {});
bool is_initialized();
// Waits for queued work, stops the communication thread and finalizes MPI if kiln initialized it.
// Also runs at program exit when the program did not call it and exits with status 0 (a rank exiting
// with an error skips MPI_Finalize, which would wait for the other ranks, so that mpirun ends the job).
void destroy_process_group();

int get_rank();
int get_world_size();
// The rank among the processes on this machine (0 .. ranks per node - 1).
int get_local_rank();
// The device this rank should train on: CUDA device local_rank % device_count where CUDA is available,
// else the CPU.
Device default_device();

enum class ReduceOp { sum, mean, max, min, product };
const char* reduce_op_name(ReduceOp op);

// The handle of a collective in flight (torch.distributed's Work).
class Work {
 public:
  struct State;
  Work() = default;
  explicit Work(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // Blocks until the collective finished; rethrows its error (kiln::Error) on failure or timeout.
  // Calling it again returns at once (or rethrows the same error).
  void wait();
  bool is_completed() const;

 private:
  std::shared_ptr<State> state_;
};

// t = op over ranks of t. mean: floating dtypes only. bool: sum and max are "or", min and product "and".
Work all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum, bool async_op = false);
// t = rank src's t.
Work broadcast(const Tensor& t, int src = 0, bool async_op = false);
// outputs[r] = rank r's input; outputs has world_size tensors of input's shape and dtype.
Work all_gather(const std::vector<Tensor>& outputs, const Tensor& input, bool async_op = false);
// output (world_size * N, ...) = the ranks' inputs (N, ...) stacked along dim 0.
Work all_gather_into_tensor(const Tensor& output, const Tensor& input, bool async_op = false);
// output = op over ranks of their inputs[rank]; inputs has world_size tensors of output's shape.
Work reduce_scatter(const Tensor& output, const std::vector<Tensor>& inputs, ReduceOp op = ReduceOp::sum,
                    bool async_op = false);
// output (N, ...) = op over ranks of rows [rank * N, (rank + 1) * N) of input (world_size * N, ...).
Work reduce_scatter_tensor(const Tensor& output, const Tensor& input, ReduceOp op = ReduceOp::sum,
                           bool async_op = false);
// The ranks' tensors concatenated along dim 0, in rank order, on every rank; their first dims may differ
// (the last batch of a shard), the other dims and the dtype must agree. Synchronous.
Tensor all_gather_concat(const Tensor& input);
// Returns when every rank has reached it.
void barrier();

}  // namespace kiln::distributed
