// kiln/nn/io/tflite_lower_elementwise.cpp: lowering to TFLite (tflite_lowering.h): binary and unary
// elementwise ops, clamp and softmax.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/quantize_params.h"
#include "kiln/nn/io/tflite_lowering.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/half.h"

namespace kiln::nn::io::tflite_export {

void Lowering::lower_binary(const Node& n) {
  std::string op = n.op;
  int a = operand(n.inputs[0], n.output, name_of(n) + "_a");
  int b;
  // int8 has no DIV kernel: dividing by a constant is multiplying by its reciprocal.
  if (int8_ && op == "div") {
    KILN_CHECK(g_.is_constant(n.inputs[1]), "export: ", describe(n),
               " divides by a computed value; TFLite has no int8 division");
    NoGradGuard no_grad;
    Graph& g = const_cast<Graph&>(g_);
    int r = g.add_constant(reciprocal(g_.values[n.inputs[1]].constant).contiguous());
    tensor_.push_back(-1), order_.push_back(identity_order(g.values[r].shape.size()));
    b = operand(r, n.output, name_of(n) + "_b");
    op = "mul";
  } else {
    b = operand(n.inputs[1], n.output, name_of(n) + "_b");
  }
  int out = out_tensor(n);
  const auto act = fused(n.act);
  if (op == "add")
    b_.op(BuiltinOperator::ADD, op_version(1, 2), {a, b}, {out}, BuiltinOptions::AddOptions,
          tfl::CreateAddOptions(b_.fbb, act).Union());
  else if (op == "sub")
    b_.op(BuiltinOperator::SUB, op_version(1, 2), {a, b}, {out}, BuiltinOptions::SubOptions,
          tfl::CreateSubOptions(b_.fbb, act).Union());
  else if (op == "mul")
    b_.op(BuiltinOperator::MUL, op_version(1, 2), {a, b}, {out}, BuiltinOptions::MulOptions,
          tfl::CreateMulOptions(b_.fbb, act).Union());
  else if (op == "div")
    b_.op(BuiltinOperator::DIV, 1, {a, b}, {out}, BuiltinOptions::DivOptions,
          tfl::CreateDivOptions(b_.fbb, act).Union());
  else
    b_.op(op == "maximum" ? BuiltinOperator::MAXIMUM : BuiltinOperator::MINIMUM, op_version(1, 2), {a, b},
          {out}, BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
}

void Lowering::lower_unary(const Node& n) {
  int x = tensor_[n.inputs[0]];
  int out = out_tensor(n);
  if (n.op == "relu") return b_.op(BuiltinOperator::RELU, op_version(1, 2), {x}, {out});
  if (n.op == "relu6") return b_.op(BuiltinOperator::RELU6, op_version(1, 2), {x}, {out});
  if (n.op == "sigmoid") return b_.op(BuiltinOperator::LOGISTIC, op_version(1, 2), {x}, {out});
  if (n.op == "tanh") return b_.op(BuiltinOperator::TANH, op_version(1, 2), {x}, {out});
  b_.op(BuiltinOperator::LEAKY_RELU, 1, {x}, {out}, BuiltinOptions::LeakyReluOptions,
        tfl::CreateLeakyReluOptions(b_.fbb, static_cast<float>(n.f("negative_slope"))).Union());
}

void Lowering::lower_clamp(const Node& n) {
  int x = tensor_[n.inputs[0]];
  auto scalar = [&](double v) {
    if (int8_) {
      auto data = bytes_of(quantize_with(full({1}, v), q_[n.output]));
      return b_.tensor("clamp_bound", {}, tfl::TensorType::INT8, &data, &q_[n.output]);
    }
    std::vector<float> f{static_cast<float>(v)};
    auto data = bytes_of(f);
    return b_.tensor("clamp_bound", {}, tfl::TensorType::FLOAT32, &data);
  };
  if (n.has("min") && n.has("max")) {
    int mid = b_.tensor(name_of(n) + "_lo", physical_shape(n.output), act_type(), nullptr,
                        int8_ ? &q_[n.output] : nullptr, true);
    b_.op(BuiltinOperator::MAXIMUM, op_version(1, 2), {x, scalar(n.f("min"))}, {mid},
          BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
    int out = out_tensor(n);
    b_.op(BuiltinOperator::MINIMUM, op_version(1, 2), {mid, scalar(n.f("max"))}, {out},
          BuiltinOptions::MaximumMinimumOptions, tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
    return;
  }
  const bool lo = n.has("min");
  int out = out_tensor(n);
  b_.op(lo ? BuiltinOperator::MAXIMUM : BuiltinOperator::MINIMUM, op_version(1, 2),
        {x, scalar(lo ? n.f("min") : n.f("max"))}, {out}, BuiltinOptions::MaximumMinimumOptions,
        tfl::CreateMaximumMinimumOptions(b_.fbb).Union());
}

void Lowering::lower_softmax(const Node& n) {
  const int x = n.inputs[0];
  const int axis = axis_of(x, n.i("dim"));
  KILN_CHECK(axis == static_cast<int>(g_.values[x].shape.size()) - 1, "export: ", describe(n),
             " normalizes over dim ", n.i("dim"), "; TFLite's softmax runs over the last stored axis only",
             (g_.values[x].shape.size() == 4 ? " (for an image tensor: the channels, dim 1)" : ""));
  int out = out_tensor(n);
  if (n.op == "softmax")
    b_.op(BuiltinOperator::SOFTMAX, op_version(1, 2), {tensor_[x]}, {out}, BuiltinOptions::SoftmaxOptions,
          tfl::CreateSoftmaxOptions(b_.fbb, 1.0f).Union());
  else
    b_.op(BuiltinOperator::LOG_SOFTMAX, op_version(1, 2), {tensor_[x]}, {out},
          BuiltinOptions::LogSoftmaxOptions, tfl::CreateLogSoftmaxOptions(b_.fbb).Union());
}

}  // namespace kiln::nn::io::tflite_export
