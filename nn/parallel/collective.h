// kiln/nn/parallel/collective.h: internals of the process group shared by its sources (not part of the
// public API). A collective is described once (kind, dtype, count, op, root) so that the consistency
// check, the MPI path and the NCCL path see the same description. Depends on distributed.h.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

#include "kiln/nn/parallel/distributed.h"

namespace kiln::distributed {

// Shared between the caller (wait) and the communication thread (completion).
struct Work::State {
  std::string name;  // "all_reduce (collective #12)", for messages
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::exception_ptr error;
  // Runs once on the waiting thread after completion (copies results out of staging buffers).
  std::function<void()> finish;
  bool finished = false;
};

namespace detail {

enum class Kind : int64_t { all_reduce, broadcast, all_gather, reduce_scatter, barrier };
const char* kind_name(Kind kind);

// What every rank must agree on before data moves.
struct Signature {
  Kind kind;
  DType dtype = DType::f32;
  int64_t count = 0;  // elements of the input on this rank
  ReduceOp op = ReduceOp::sum;
  int root = 0;
};

// The MPI-side process group; defined in process_group_mpi.cpp.
class ProcessGroup;
ProcessGroup& group();  // throws kiln::Error when not initialized

// Queues `body` (which runs on the communication thread, after the consistency check, with MPI) and
// returns its handle. `finish` runs on the thread that waits.
Work enqueue(const Signature& sig, std::function<void()> body, std::function<void()> finish);

// Throws unless `t` is a defined tensor on the CPU, naming the op.
void check_tensor(const char* op, const Tensor& t, const char* what);

}  // namespace detail
}  // namespace kiln::distributed
