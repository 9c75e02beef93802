// kiln/nn/parallel/mpi_types.h: kiln dtypes and reduce ops as MPI datatypes and ops (internal).
// f16 and bf16 have no MPI type: they travel as 16-bit words with user-defined ops that compute in f32
// and round once per pairwise step (what NCCL does for them). bool travels as bytes, where max is "or"
// and min is "and". Depends on MPI and tensor/dtype.h.
#pragma once

#include <mpi.h>

#include <cstdint>

#include "kiln/nn/parallel/distributed.h"

namespace kiln::distributed::detail {

// Creates (and frees) the user-defined ops; called when the process group starts and ends.
void mpi_types_init();
void mpi_types_free();

MPI_Datatype mpi_datatype(DType dtype);
// The op that reduces `dtype` for `op` (mean reduces with sum; the caller divides). A kiln::Error for
// mean on a non-floating dtype.
MPI_Op mpi_op(ReduceOp op, DType dtype);
// data[i] /= divisor for a floating dtype (the second half of mean).
void divide_in_place(void* data, int64_t count, DType dtype, int divisor);

// Throws kiln::Error with MPI's message when rc is not MPI_SUCCESS.
void check_mpi(int rc, const char* what);
// The process group's communicator (a duplicate of MPI_COMM_WORLD); for the communication thread.
MPI_Comm group_comm();

}  // namespace kiln::distributed::detail
