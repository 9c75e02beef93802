// kiln/autograd/gradcheck.h: compares analytical gradients with central finite differences.
// Use f64 inputs. gradcheck checks first derivatives with respect to every element of every input that
// requires grad: of every output element on its own when the output has at most 16 elements, else of 4
// random projections of the output (an error would have to cancel in all of them to pass). A NaN or
// infinite gradient, analytical or numerical, is always a mismatch. gradgradcheck checks the derivatives
// of a vector-Jacobian product, i.e. that backward itself is differentiable (second-order gradients).
// Depends on engine.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch: input, element, analytical vs numerical
  explicit operator bool() const { return ok; }
};

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions options = {});
GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs,
                              GradcheckOptions options = {});

}  // namespace kiln::autograd
