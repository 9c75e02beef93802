// autograd/class_targets.cpp: the one scan of class-index targets, and the checked targets a loss hands to
// its op. Depends on ops/common.h.
#include "kiln/autograd/class_targets.h"

#include "kiln/autograd/ops/common.h"

namespace kiln::autograd {

namespace detail {
std::optional<int64_t> first_invalid_class(const Tensor& target, int64_t classes, int64_t ignore_index,
                                           int64_t& ignored) {
  const Tensor t = target.contiguous();
  const int64_t* p = t.data<int64_t>();
  ignored = 0;
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    if (p[i] == ignore_index)
      ++ignored;
    else if (p[i] < 0 || p[i] >= classes)
      return p[i];
  }
  return std::nullopt;
}
}  // namespace detail

ClassTargets check_class_targets(const char* op, const Tensor& input, const Tensor& target, int64_t classes,
                                 int64_t ignore_index) {
  KILN_CHECK(target.dtype() == DType::i64, op, ": class-index target must be i64, got ", target.dtype());
  if (!target.device().is_cpu()) {
    detail::check_index_range(target, 0, classes, op, "K =", ignore_index);
    return ClassTargets(target, classes, ignore_index, ClassTargets::kUnknownIgnored);
  }
  int64_t ignored = 0;
  if (auto bad = detail::first_invalid_class(target, classes, ignore_index, ignored)) {
    KILN_CHECK(*bad >= 0, op, ": target holds the negative class index ", *bad, " (input ",
               shape_str(input.shape()), ", target ", shape_str(target.shape()), "; ignore_index is ",
               ignore_index, ")");
    KILN_CHECK(false, op, ": target holds class index ", *bad, ", out of range for K = ", classes,
               " classes (input ", shape_str(input.shape()), ", target ", shape_str(target.shape()),
               "; valid: 0 to ", classes - 1, " or ignore_index ", ignore_index, ")");
  }
  return ClassTargets(target, classes, ignore_index, ignored);
}

}  // namespace kiln::autograd
