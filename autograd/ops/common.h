// kiln/autograd/ops/common.h: helpers shared by the op implementations (checks, output allocation,
// un-broadcasting, kernel calls). Private to autograd/.
#pragma once

#include <optional>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/autograd/trace.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/checked.h"

namespace kiln::autograd::detail {

// Same device for every defined tensor; the message names the op and each device.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_floating(const char* op, const Tensor& x);
void check_defined(const char* op, const Tensor& x, const char* what = "input");

// a and b cast (a recorded, differentiable cast) to result_type(a, b).
std::pair<Tensor, Tensor> promote_operands(const Tensor& a, const Tensor& b);

// A 0-d tensor holding `value` in like's dtype and device (for scalar operands).
Tensor scalar_like(double value, const Tensor& like);

// Sums a broadcast gradient back down to `shape` (the one place un-broadcasting happens).
Tensor sum_to(const Tensor& g, const Shape& shape);

// Broadcast view of x to `shape` with zero strides; never copies, never records.
Tensor broadcast_view(const Tensor& x, const Shape& shape);

// Kernel calls that allocate their output (no recording).
Tensor run_unary(UnaryKernel k, const Tensor& x, double alpha = 0.0);
Tensor run_binary(BinaryKernel k, const Tensor& a, const Tensor& b, const char* op);

// Normalized, sorted, de-duplicated reduction dims (empty = all).
Shape reduction_dims(const Shape& dims, int64_t ndim, const char* op);
// The shape after reducing `dims`, keeping them as size 1 or dropping them.
Shape reduced_shape(const Shape& shape, const Shape& dims, bool keepdim);
// Re-inserts reduced dims (size 1) into a reduced tensor, so it broadcasts against the input.
Tensor restore_reduced_dims(const Tensor& t, const Shape& input_shape, const Shape& dims, bool keepdim);

// Integer division by zero would trap: a kiln::Error naming `op` when an integer divisor holds a zero.
void check_integer_divisor(const char* op, const Tensor& dividend, const Tensor& divisor);

// Index values (i64) must lie in [lo, hi), or equal `allowed` when given. On the CPU a kiln::Error naming
// the op, the bad value and the valid range is thrown now; on CUDA a check kernel is queued (no host
// synchronization, capturable) and the next synchronization of the device throws that error, "detected on
// cuda:N at the next synchronization" (Backend::check_index). The index kernels skip bad values, never
// touching memory out of bounds. `what` names the range ("... out of range for <what> <hi - lo>");
// `detail` replaces the "(valid: ...)" part of the CPU message. op/what: string literals.
void check_index_range(const Tensor& index, int64_t lo, int64_t hi, const char* op,
                       const char* what = "a dimension of size",
                       std::optional<int64_t> allowed = std::nullopt, const char* detail = nullptr);

// The first entry of the CPU i64 `target` that is neither a class in [0, classes) nor ignore_index (none:
// nullopt); `ignored` receives how many entries equal ignore_index. The one scan of class targets.
std::optional<int64_t> first_invalid_class(const Tensor& target, int64_t classes, int64_t ignore_index,
                                           int64_t& ignored);

}  // namespace kiln::autograd::detail

namespace kiln {
namespace trace = autograd::trace;  // the op files report themselves to an installed tracer
}
