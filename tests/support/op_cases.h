// tests/support/op_cases.h: the op table. One entry per op variant: the inputs (shape, value range or
// fixed values), the function under test, tolerances and flags. tests/test_ops.cpp runs every entry in
// each mode (finite-difference gradients in f64, second-order gradients, f32 kernels against the f64
// reference, thread-count independence, other backends against the CPU) and checks that every op in
// autograd/op_list.h has at least one entry.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace kiln::testing {

struct InputSpec {
  Shape shape;
  double low = -1.0, high = 1.0;              // uniform range for generated floating inputs
  bool differentiable = true;                 // requires grad in gradient checks
  std::optional<std::vector<double>> values;  // fixed values instead of random ones
  DType dtype = DType::f64;  // f64 inputs also run in f32; other dtypes (indices) stay as given

  static InputSpec range(Shape s, double lo, double hi) {
    InputSpec in;
    in.shape = std::move(s), in.low = lo, in.high = hi;
    return in;
  }
  static InputSpec fixed(Shape s, std::vector<double> v, bool diff = true) {
    InputSpec in;
    in.shape = std::move(s);
    in.values = std::move(v);
    in.differentiable = diff;
    return in;
  }
  static InputSpec index(Shape s, std::vector<double> v) {
    InputSpec in = fixed(std::move(s), std::move(v), false);
    in.dtype = DType::i64;
    return in;
  }
};

struct OpCase {
  std::string op;       // the name in autograd/op_list.h
  std::string variant;  // what this entry exercises
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  double f32_rtol = 1e-4, f32_atol = 1e-5;  // f32 kernels against the f64 reference
  bool gradcheck = true;                    // false for ops without gradients
  bool gradgradcheck = true;                // second-order check
  double grad_eps = 1e-6;                   // finite-difference step
  bool large = false;  // sized for the kernels' parallel paths: forward checks only (finite differences
                       // cost one forward pass per element)
  std::string name() const { return op + (variant.empty() ? "" : "_" + variant); }
};

const std::vector<OpCase>& op_cases();

// Materializes a case's inputs in `dtype` (floating inputs only) from a fixed seed.
std::vector<Tensor> make_inputs(const OpCase& c, DType float_dtype, bool requires_grad);

}  // namespace kiln::testing
