// Checked size arithmetic and range-checked conversions (see checked.h).
#include "kiln/tensor/checked.h"

#include <unistd.h>

#include <cmath>
#include <string>

namespace kiln {

namespace {
std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what) {
  KILN_CHECK(a >= 0 && b >= 0, op, ": negative ", what, " (", a, " x ", b, ")");
  int64_t p = 0;
  KILN_CHECK(!__builtin_mul_overflow(a, b, &p) && p <= kMaxTensorElements, op, ": ", what, " ", a, " x ", b,
             " overflows (more than 2^53)");
  return p;
}

int64_t checked_numel(const std::vector<int64_t>& shape, const char* op) {
  int64_t n = 1, nonzero = 1;
  bool has_zero = false;
  for (int64_t s : shape) {
    KILN_CHECK(s >= 0, op, ": negative size in shape ", shape_text(shape));
    if (s == 0) {
      has_zero = true;
      continue;
    }
    // Strides multiply the non-zero sizes even when the tensor is empty, so they must not overflow.
    KILN_CHECK(!__builtin_mul_overflow(nonzero, s, &nonzero) && nonzero <= kMaxTensorElements, op, ": shape ",
               shape_text(shape), " has more than 2^53 elements");
  }
  n = has_zero ? 0 : nonzero;
  return n;
}

size_t checked_nbytes(const std::vector<int64_t>& shape, DType dtype, const char* op) {
  const int64_t n = checked_numel(shape, op);
  int64_t bytes = 0;
  KILN_CHECK(!__builtin_mul_overflow(n, static_cast<int64_t>(dtype_size(dtype)), &bytes) &&
                 bytes <= kMaxTensorElements,
             op, ": a ", dtype, " tensor of shape ", shape_text(shape), " needs more than 2^53 bytes");
  return static_cast<size_t>(bytes);
}

int64_t to_int64(double value, const char* op, const char* what, int64_t lo, int64_t hi) {
  KILN_CHECK(std::isfinite(value), op, ": ", what, " must be finite, got ", value);
  // Compare in double before casting: a double outside int64_t's range makes the cast undefined.
  KILN_CHECK(value >= static_cast<double>(lo) && value <= static_cast<double>(hi) && value < 0x1p63 &&
                 value >= -0x1p63,
             op, ": ", what, " ", value, " is out of range [", lo, ", ", hi, "]");
  return static_cast<int64_t>(value);
}

int to_int(int64_t value, const char* op, const char* what, int lo, int hi) {
  KILN_CHECK(value >= lo && value <= hi, op, ": ", what, " ", value, " is out of range [", lo, ", ", hi, "]");
  return static_cast<int>(value);
}

size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

}  // namespace kiln
