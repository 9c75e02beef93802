// The collectives on CUDA tensors through NCCL. One communicator per process (one GPU per rank, the
// usual layout: default_device() maps the local rank to a GPU), created at the first CUDA collective:
// rank 0 draws the unique id and MPI broadcasts it. Each call first runs the MPI consistency check (so a
// disagreement is an error, not a hang inside NCCL), then queues the NCCL call on kiln's stream of the
// tensor's device; the returned Work is complete at once because the stream orders everything after it.
#include <nccl.h>

#include <cstring>
#include <mutex>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/nn/parallel/collective.h"
#include "kiln/nn/parallel/nccl_backend.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {

bool is_nccl_available() { return true; }

namespace nccl {
namespace {

#define KILN_NCCL_CHECK(expr, op)                                                                       \
  do {                                                                                                  \
    ncclResult_t status_ = (expr);                                                                      \
    KILN_CHECK(status_ == ncclSuccess, op, ": ", #expr, " failed: ", ncclGetErrorString(status_), " (", \
               ncclGetLastError(nullptr), ")");                                                         \
  } while (0)

struct Communicator {
  ncclComm_t comm = nullptr;
  int device = -1;
};
Communicator g_comm;
std::mutex g_comm_mutex;

ncclComm_t communicator(int device, const char* op) {
  std::lock_guard lock(g_comm_mutex);
  if (g_comm.comm) {
    KILN_CHECK(g_comm.device == device, op, ": this rank's NCCL communicator is on cuda:", g_comm.device,
               " but the tensor is on cuda:", device, " (kiln uses one GPU per rank: move the tensor, or ",
               "use distributed::default_device())");
    return g_comm.comm;
  }
  ncclUniqueId id;
  if (get_rank() == 0) KILN_NCCL_CHECK(ncclGetUniqueId(&id), op);
  Tensor bytes = empty({static_cast<int64_t>(sizeof(id))}, {.dtype = DType::u8});
  std::memcpy(bytes.data_ptr(), &id, sizeof(id));
  distributed::broadcast(bytes, 0);  // over MPI: every rank reaches its first CUDA collective together
  std::memcpy(&id, bytes.data_ptr(), sizeof(id));
  cuda::DeviceGuard guard(device);
  KILN_NCCL_CHECK(ncclCommInitRank(&g_comm.comm, get_world_size(), id, get_rank()), op);
  g_comm.device = device;
  return g_comm.comm;
}

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i64:
      return ncclInt64;
    case DType::i32:
      return ncclInt32;
    case DType::u8:
    case DType::boolean:
      return ncclUint8;
    case DType::f16:
      return ncclFloat16;
    case DType::bf16:
      return ncclBfloat16;
  }
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op, DType d) {
  if (d == DType::boolean) return (op == ReduceOp::sum || op == ReduceOp::max) ? ncclMax : ncclMin;
  switch (op) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::mean:
      return ncclAvg;
    case ReduceOp::max:
      return ncclMax;
    case ReduceOp::min:
      return ncclMin;
    case ReduceOp::product:
      return ncclProd;
  }
  return ncclSum;
}

// The MPI consistency check, run synchronously before the NCCL call.
void agree(detail::Kind kind, const Tensor& t, ReduceOp op, int root) {
  detail::enqueue({kind, t.dtype(), t.numel(), op, root}, nullptr, nullptr).wait();
}

Work completed(std::function<void()> finish) {
  auto state = std::make_shared<Work::State>();
  state->name = "NCCL collective";
  state->done = true;
  state->finish = std::move(finish);
  Work w(state);
  w.wait();  // runs finish now: stream order makes the result visible to everything queued after it
  return w;
}

Tensor contiguous_of(const Tensor& t) {
  NoGradGuard no_grad;
  t.storage()->bump_version();
  return t.is_contiguous() ? t : t.contiguous();
}

std::function<void()> copy_back(const Tensor& user, const Tensor& buf) {
  if (user.impl() == buf.impl()) return nullptr;
  return [user, buf] {
    NoGradGuard no_grad;
    Tensor(user).copy_(buf);
  };
}

}  // namespace

Work all_reduce(const Tensor& t, ReduceOp op, bool) {
  agree(detail::Kind::all_reduce, t, op, 0);
  const int dev = t.device().index;
  ncclComm_t comm = communicator(dev, "all_reduce");
  Tensor buf = contiguous_of(t);
  if (buf.numel() > 0) {
    cuda::DeviceGuard guard(dev);
    KILN_NCCL_CHECK(ncclAllReduce(buf.data_ptr(), buf.data_ptr(), buf.numel(), nccl_type(t.dtype()),
                                  nccl_op(op, t.dtype()), comm, cuda::stream(dev)),
                    "all_reduce");
  }
  return completed(copy_back(t, buf));
}

Work broadcast(const Tensor& t, int src, bool) {
  agree(detail::Kind::broadcast, t, ReduceOp::sum, src);
  const int dev = t.device().index;
  ncclComm_t comm = communicator(dev, "broadcast");
  Tensor buf = contiguous_of(t);
  if (buf.numel() > 0) {
    cuda::DeviceGuard guard(dev);
    KILN_NCCL_CHECK(ncclBroadcast(buf.data_ptr(), buf.data_ptr(), buf.numel(), nccl_type(t.dtype()), src,
                                  comm, cuda::stream(dev)),
                    "broadcast");
  }
  return completed(copy_back(t, buf));
}

Work all_gather_into_tensor(const Tensor& output, const Tensor& input, bool) {
  agree(detail::Kind::all_gather, input, ReduceOp::sum, 0);
  const int dev = input.device().index;
  ncclComm_t comm = communicator(dev, "all_gather_into_tensor");
  Tensor in = contiguous_of(input), out = contiguous_of(output);
  if (in.numel() > 0) {
    cuda::DeviceGuard guard(dev);
    KILN_NCCL_CHECK(ncclAllGather(in.data_ptr(), out.data_ptr(), in.numel(), nccl_type(input.dtype()), comm,
                                  cuda::stream(dev)),
                    "all_gather_into_tensor");
  }
  return completed(copy_back(output, out));
}

Work all_gather(const std::vector<Tensor>& outputs, const Tensor& input, bool async_op) {
  const int64_t n = input.numel();
  Tensor flat =
      empty({static_cast<int64_t>(outputs.size()) * n}, {.dtype = input.dtype(), .device = input.device()});
  all_gather_into_tensor(flat, input, async_op);
  NoGradGuard no_grad;
  for (size_t r = 0; r < outputs.size(); ++r) {
    Tensor o = outputs[r];
    o.copy_(flat.slice(0, static_cast<int64_t>(r) * n, static_cast<int64_t>(r + 1) * n).view(o.shape()));
  }
  return completed(nullptr);
}

Work reduce_scatter_tensor(const Tensor& output, const Tensor& input, ReduceOp op, bool) {
  agree(detail::Kind::reduce_scatter, input, op, 0);
  const int dev = input.device().index;
  ncclComm_t comm = communicator(dev, "reduce_scatter_tensor");
  Tensor in = contiguous_of(input), out = contiguous_of(output);
  if (out.numel() > 0) {
    cuda::DeviceGuard guard(dev);
    KILN_NCCL_CHECK(ncclReduceScatter(in.data_ptr(), out.data_ptr(), out.numel(), nccl_type(input.dtype()),
                                      nccl_op(op, input.dtype()), comm, cuda::stream(dev)),
                    "reduce_scatter_tensor");
  }
  return completed(copy_back(output, out));
}

void shutdown() {
  std::lock_guard lock(g_comm_mutex);
  if (g_comm.comm) ncclCommDestroy(g_comm.comm);
  g_comm = {};
}

}  // namespace nccl
}  // namespace kiln::distributed
