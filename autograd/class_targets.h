// kiln/autograd/class_targets.h: class-index targets (of cross-entropy and nll losses) checked once.
// The check is a scan of every target on the CPU, so a loss checks its targets here, with its own name in
// the message, and hands the result to the op, which then does not scan them again. Depends on tensor.h.
#pragma once

#include <cstdint>
#include <utility>

#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

// Class indices known to lie in [0, classes) or to equal ignore_index; only check_class_targets makes
// one, so an op taking ClassTargets can trust them.
class ClassTargets {
 public:
  // ignored() off the CPU: there the check is a device kernel whose error surfaces at the next
  // synchronization, so a training step never waits for the device to count targets.
  static constexpr int64_t kUnknownIgnored = -1;

  const Tensor& tensor() const { return target_; }
  int64_t classes() const { return classes_; }
  int64_t ignore_index() const { return ignore_index_; }
  // How many targets equal ignore_index (kUnknownIgnored off the CPU).
  int64_t ignored() const { return ignored_; }

 private:
  ClassTargets(Tensor target, int64_t classes, int64_t ignore_index, int64_t ignored)
      : target_(std::move(target)), classes_(classes), ignore_index_(ignore_index), ignored_(ignored) {}
  friend ClassTargets check_class_targets(const char* op, const Tensor& input, const Tensor& target,
                                          int64_t classes, int64_t ignore_index);

  Tensor target_;
  int64_t classes_, ignore_index_, ignored_;
};

// Checks that every entry of the i64 `target` is a class in [0, classes) or ignore_index. A bad entry is a
// kiln::Error naming `op`, the value, K and the input and target shapes.
ClassTargets check_class_targets(const char* op, const Tensor& input, const Tensor& target, int64_t classes,
                                 int64_t ignore_index);

}  // namespace kiln::autograd
