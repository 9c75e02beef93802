// The collectives over MPI (CPU tensors) and their dispatch to NCCL (CUDA tensors). Each one validates
// its tensors on the calling thread, stages non-contiguous tensors through contiguous copies, and queues
// the MPI call for the communication thread (process_group_mpi.cpp).
#include <mpi.h>

#include <algorithm>
#include <climits>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/parallel/collective.h"
#include "kiln/nn/parallel/mpi_types.h"
#include "kiln/nn/parallel/nccl_backend.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {
namespace detail {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::all_reduce:
      return "all_reduce";
    case Kind::broadcast:
      return "broadcast";
    case Kind::all_gather:
      return "all_gather";
    case Kind::reduce_scatter:
      return "reduce_scatter";
    case Kind::barrier:
      return "barrier";
  }
  return "?";
}

void check_tensor(const char* op, const Tensor& t, const char* what) {
  KILN_CHECK(t.defined(), op, ": the ", what, " is an undefined tensor");
}

namespace {

// A contiguous tensor the communication thread may read and write, and the user's tensor it stands for.
struct Staged {
  Tensor user, buf;
  bool copied() const { return user.impl() != buf.impl(); }
};

Staged stage(const Tensor& t) {
  NoGradGuard no_grad;
  t.storage()->bump_version();  // the collective writes it: saved-for-backward checks must notice
  if (t.is_contiguous()) return {t, t};
  return {t, t.contiguous()};
}

std::function<void()> copy_back(const Staged& s) {
  if (!s.copied()) return nullptr;
  return [s] {
    NoGradGuard no_grad;
    Tensor(s.user).copy_(s.buf);
  };
}

void check_int_count(const char* op, int64_t n) {
  KILN_CHECK(n <= INT_MAX, op, ": ", n, " elements per rank exceed MPI's count limit (", INT_MAX,
             "); split the tensor");
}

// MPI counts are int: larger tensors go in chunks (all_reduce and broadcast act elementwise).
template <class F>
void in_chunks(const Tensor& buf, F f) {
  char* p = static_cast<char*>(buf.data_ptr());
  const int64_t n = buf.numel();
  const size_t es = dtype_size(buf.dtype());
  constexpr int64_t chunk = int64_t{1} << 30;
  for (int64_t off = 0; off < n; off += chunk) f(p + off * es, static_cast<int>(std::min(chunk, n - off)));
}

Work finish_call(const Signature& sig, std::function<void()> body, std::function<void()> finish,
                 bool async_op) {
  Work w = enqueue(sig, std::move(body), std::move(finish));
  if (!async_op) w.wait();
  return w;
}

void check_same(const char* op, const Tensor& a, const Tensor& b, const char* what) {
  KILN_CHECK(a.dtype() == b.dtype(), op, ": the ", what, " has dtype ", dtype_name(b.dtype()),
             " but the input has ", dtype_name(a.dtype()));
  KILN_CHECK(a.device() == b.device(), op, ": the ", what, " and the input are on different devices");
}

}  // namespace
}  // namespace detail

using namespace detail;

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::mean:
      return "mean";
    case ReduceOp::max:
      return "max";
    case ReduceOp::min:
      return "min";
    case ReduceOp::product:
      return "product";
  }
  return "?";
}

Work all_reduce(const Tensor& t, ReduceOp op, bool async_op) {
  check_tensor("all_reduce", t, "tensor");
  const MPI_Op mop = mpi_op(op, t.dtype());  // rejects mean on integers before anything moves
  const int world = get_world_size();
  if (t.device().is_cuda()) return nccl::all_reduce(t, op, async_op);
  Staged s = stage(t);
  const DType dtype = t.dtype();
  auto body = [buf = s.buf, mop, op, world, dtype] {
    if (buf.numel() == 0) return;
    in_chunks(buf, [&](char* p, int n) {
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_datatype(dtype), mop, group_comm()), "MPI_Allreduce");
    });
    if (op == ReduceOp::mean) divide_in_place(buf.data_ptr(), buf.numel(), dtype, world);
  };
  return finish_call({Kind::all_reduce, dtype, t.numel(), op, 0}, body, copy_back(s), async_op);
}

Work broadcast(const Tensor& t, int src, bool async_op) {
  check_tensor("broadcast", t, "tensor");
  const int world = get_world_size();
  KILN_CHECK(src >= 0 && src < world, "broadcast: src rank ", src, " is outside [0, ", world, ")");
  if (t.device().is_cuda()) return nccl::broadcast(t, src, async_op);
  Staged s = stage(t);
  const DType dtype = t.dtype();
  auto body = [buf = s.buf, src, dtype] {
    if (buf.numel() == 0) return;
    in_chunks(buf, [&](char* p, int n) {
      check_mpi(MPI_Bcast(p, n, mpi_datatype(dtype), src, group_comm()), "MPI_Bcast");
    });
  };
  return finish_call({Kind::broadcast, dtype, t.numel(), ReduceOp::sum, src}, body, copy_back(s), async_op);
}

Work all_gather_into_tensor(const Tensor& output, const Tensor& input, bool async_op) {
  check_tensor("all_gather_into_tensor", input, "input");
  check_tensor("all_gather_into_tensor", output, "output");
  check_same("all_gather_into_tensor", input, output, "output");
  const int world = get_world_size();
  KILN_CHECK(output.numel() == input.numel() * world, "all_gather_into_tensor: the output has shape ",
             shape_str(output.shape()), " (", output.numel(), " elements) but world_size ", world,
             " x input shape ", shape_str(input.shape()), " needs ", input.numel() * world);
  check_int_count("all_gather_into_tensor", input.numel());
  if (input.device().is_cuda()) return nccl::all_gather_into_tensor(output, input, async_op);
  Staged out = stage(output);
  Tensor in;
  {
    NoGradGuard no_grad;
    in = input.contiguous();
  }
  const DType dtype = input.dtype();
  auto body = [in, buf = out.buf, dtype] {
    if (in.numel() == 0) return;
    const int n = static_cast<int>(in.numel());
    check_mpi(MPI_Allgather(in.data_ptr(), n, mpi_datatype(dtype), buf.data_ptr(), n, mpi_datatype(dtype),
                            group_comm()),
              "MPI_Allgather");
  };
  return finish_call({Kind::all_gather, dtype, input.numel(), ReduceOp::sum, 0}, body, copy_back(out),
                     async_op);
}

Work all_gather(const std::vector<Tensor>& outputs, const Tensor& input, bool async_op) {
  check_tensor("all_gather", input, "input");
  const int world = get_world_size();
  KILN_CHECK(static_cast<int>(outputs.size()) == world, "all_gather: ", outputs.size(),
             " output tensors for world_size ", world);
  for (size_t r = 0; r < outputs.size(); ++r) {
    check_tensor("all_gather", outputs[r], "output");
    check_same("all_gather", input, outputs[r], "output");
    KILN_CHECK(outputs[r].shape() == input.shape(), "all_gather: output ", r, " has shape ",
               shape_str(outputs[r].shape()), " but the input has ", shape_str(input.shape()));
  }
  if (input.device().is_cuda()) return nccl::all_gather(outputs, input, async_op);
  check_int_count("all_gather", input.numel());
  for (const Tensor& o : outputs) o.storage()->bump_version();
  Tensor in, flat;
  {
    NoGradGuard no_grad;
    in = input.contiguous();
    flat = empty({world * input.numel()}, {.dtype = input.dtype()});
  }
  const DType dtype = input.dtype();
  auto body = [in, flat, dtype] {
    if (in.numel() == 0) return;
    const int n = static_cast<int>(in.numel());
    check_mpi(MPI_Allgather(in.data_ptr(), n, mpi_datatype(dtype), flat.data_ptr(), n, mpi_datatype(dtype),
                            group_comm()),
              "MPI_Allgather");
  };
  // The copies out of the gathered buffer run on the caller's thread when it waits.
  auto scatter_out = [flat, outputs, n = input.numel()] {
    NoGradGuard no_grad;
    for (size_t r = 0; r < outputs.size(); ++r) {
      Tensor o = outputs[r];
      const int64_t lo = static_cast<int64_t>(r) * n;
      o.copy_(flat.slice(0, lo, lo + n).view(o.shape()));
    }
  };
  return finish_call({Kind::all_gather, dtype, input.numel(), ReduceOp::sum, 0}, body, scatter_out, async_op);
}

Work reduce_scatter_tensor(const Tensor& output, const Tensor& input, ReduceOp op, bool async_op) {
  check_tensor("reduce_scatter_tensor", input, "input");
  check_tensor("reduce_scatter_tensor", output, "output");
  check_same("reduce_scatter_tensor", input, output, "output");
  const MPI_Op mop = mpi_op(op, input.dtype());
  const int world = get_world_size();
  KILN_CHECK(input.numel() == output.numel() * world, "reduce_scatter_tensor: the input has shape ",
             shape_str(input.shape()), " (", input.numel(), " elements) but world_size ", world,
             " x output shape ", shape_str(output.shape()), " needs ", output.numel() * world);
  check_int_count("reduce_scatter_tensor", output.numel());
  if (input.device().is_cuda()) return nccl::reduce_scatter_tensor(output, input, op, async_op);
  Staged out = stage(output);
  Tensor in;
  {
    NoGradGuard no_grad;
    in = input.contiguous();
  }
  const DType dtype = input.dtype();
  auto body = [in, buf = out.buf, mop, op, world, dtype] {
    if (buf.numel() == 0) return;
    check_mpi(MPI_Reduce_scatter_block(in.data_ptr(), buf.data_ptr(), static_cast<int>(buf.numel()),
                                       mpi_datatype(dtype), mop, group_comm()),
              "MPI_Reduce_scatter_block");
    if (op == ReduceOp::mean) divide_in_place(buf.data_ptr(), buf.numel(), dtype, world);
  };
  return finish_call({Kind::reduce_scatter, dtype, input.numel(), op, 0}, body, copy_back(out), async_op);
}

Work reduce_scatter(const Tensor& output, const std::vector<Tensor>& inputs, ReduceOp op, bool async_op) {
  check_tensor("reduce_scatter", output, "output");
  const int world = get_world_size();
  KILN_CHECK(static_cast<int>(inputs.size()) == world, "reduce_scatter: ", inputs.size(),
             " input tensors for world_size ", world);
  std::vector<Tensor> flat;
  for (size_t r = 0; r < inputs.size(); ++r) {
    check_tensor("reduce_scatter", inputs[r], "input");
    check_same("reduce_scatter", output, inputs[r], "input");
    KILN_CHECK(inputs[r].shape() == output.shape(), "reduce_scatter: input ", r, " has shape ",
               shape_str(inputs[r].shape()), " but the output has ", shape_str(output.shape()));
    flat.push_back(inputs[r].detach().reshape({-1}));
  }
  Tensor stacked;
  {
    NoGradGuard no_grad;
    stacked = kiln::cat(flat, 0);
  }
  return reduce_scatter_tensor(output, stacked, op, async_op);
}

Tensor all_gather_concat(const Tensor& input) {
  check_tensor("all_gather_concat", input, "input");
  KILN_CHECK(input.dim() >= 1, "all_gather_concat: the input must have a dim 0, got a 0-d tensor");
  const int world = get_world_size();
  // The rows of every rank first, then each rank's rows padded to the longest.
  Tensor rows = full({1}, static_cast<double>(input.size(0)), {.dtype = DType::i64});
  Tensor all_rows = empty({world}, {.dtype = DType::i64});
  all_gather_into_tensor(all_rows, rows);
  const std::vector<int64_t> counts = all_rows.to_vector<int64_t>();
  const int64_t most = *std::max_element(counts.begin(), counts.end());
  Shape padded_shape = input.shape();
  padded_shape[0] = most;
  Tensor padded = zeros(padded_shape, {.dtype = input.dtype(), .device = input.device()});
  Shape gathered_shape = padded_shape;
  gathered_shape[0] = most * world;
  Tensor gathered = empty(gathered_shape, {.dtype = input.dtype(), .device = input.device()});
  NoGradGuard no_grad;
  padded.slice(0, 0, input.size(0)).copy_(input);
  all_gather_into_tensor(gathered, padded);
  std::vector<Tensor> parts;
  for (int r = 0; r < world; ++r) parts.push_back(gathered.slice(0, r * most, r * most + counts[r]));
  return kiln::cat(parts, 0);
}

void barrier() {
  const Signature sig{Kind::barrier, DType::f32, 0, ReduceOp::sum, 0};
  finish_call(
      sig, [] { check_mpi(MPI_Barrier(group_comm()), "MPI_Barrier"); }, nullptr, false);
}

}  // namespace kiln::distributed
