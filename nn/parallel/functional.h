// kiln/nn/parallel/functional.h: differentiable collectives, for modules whose forward spans ranks
// (SyncBatchNorm). The plain collectives of distributed.h write tensors in place and record nothing.
// Depends on autograd and distributed.h.
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln::distributed::functional {

// The sum of x over the ranks, as a new tensor on every rank. Its gradient is the sum over the ranks of
// the output's gradient (every rank's output depends on every rank's x), so backward runs one all-reduce
// per call, in reverse order; every rank must run backward through it. Without an initialized process
// group it returns x (a world of one).
Tensor all_reduce_sum(const Tensor& x);

}  // namespace kiln::distributed::functional
