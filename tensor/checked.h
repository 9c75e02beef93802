// kiln/tensor/checked.h: the one place where user numbers become sizes. Every element count, byte count
// and numeric conversion that a caller's value feeds goes through these, so an overflow or an
// out-of-range value is a kiln::Error naming the op and the value instead of a wrapped product (a tensor
// over a too-small buffer) or an undefined double -> integer cast. Depends on error.h and dtype.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor/dtype.h"
#include "kiln/tensor/error.h"

namespace kiln {

// The largest element count or byte count kiln accepts for one tensor: products stay exact in int64_t
// and in double (2^53 is where consecutive integers stop being representable as doubles).
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 53;

// a * b for non-negative counts; throws naming `op` and `what` when the product exceeds
// kMaxTensorElements.
int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what = "element count");

// The product of `shape`'s sizes; every size must be >= 0 and the product (and, once a zero size is
// discounted, every partial product: a stride) at most kMaxTensorElements.
int64_t checked_numel(const std::vector<int64_t>& shape, const char* op);

// numel(shape) * dtype_size(dtype) for an allocation, checked the same way.
size_t checked_nbytes(const std::vector<int64_t>& shape, DType dtype, const char* op);

// A user's double as a count or index: must be finite, integral when `integral` is set, and within
// [lo, hi]; the message names `op` and `what` ("arange: the element count 1e+300 ...").
int64_t to_int64(double value, const char* op, const char* what, int64_t lo = 0,
                 int64_t hi = kMaxTensorElements);

// A user's int64_t as an int (thread counts, dimensions of third-party APIs), within [lo, hi].
int to_int(int64_t value, const char* op, const char* what, int lo, int hi);

// Total physical memory of this machine in bytes (0 when unknown): a CPU tensor larger than this could
// never be filled, so the allocator refuses it with a clear error instead of the kernel's OOM killer.
size_t physical_memory_bytes();

}  // namespace kiln
