// kiln/autograd/op_list.h: every user-visible op, listed once: X(name, arity, kind).
// arity: tensor inputs (-1 = a list). kind: primitive (calls a kernel, backward written with ops),
// composite (written with other ops), view (metadata only, shares storage), nondiff (no gradient).
// The op test table (tests/support/op_cases.cpp) must have a case for every entry; a coverage test enforces
// it. record() takes its node's name as an OpName, checked at compile time against this list (and the
// internal nodes below), so a recorded name cannot drift from the list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

// clang-format off (one op per line)
#define KILN_OPS(X)                      \
  /* elementwise unary */                \
  X(neg, 1, primitive)                   \
  X(abs, 1, primitive)                   \
  X(sign, 1, nondiff)                    \
  X(exp, 1, primitive)                   \
  X(log, 1, primitive)                   \
  X(log1p, 1, primitive)                 \
  X(sqrt, 1, primitive)                  \
  X(rsqrt, 1, primitive)                 \
  X(square, 1, primitive)                \
  X(sin, 1, primitive)                   \
  X(cos, 1, primitive)                   \
  X(tanh, 1, primitive)                  \
  X(sigmoid, 1, primitive)               \
  X(relu, 1, primitive)                  \
  X(leaky_relu, 1, primitive)            \
  X(gelu, 1, primitive)                  \
  X(silu, 1, primitive)                  \
  X(softplus, 1, primitive)              \
  X(erf, 1, primitive)                   \
  X(reciprocal, 1, primitive)            \
  /* elementwise binary, broadcasting */ \
  X(add, 2, primitive)                   \
  X(sub, 2, primitive)                   \
  X(mul, 2, primitive)                   \
  X(div, 2, primitive)                   \
  X(pow, 2, primitive)                   \
  X(maximum, 2, primitive)               \
  X(minimum, 2, primitive)               \
  /* comparisons and selection */        \
  X(eq, 2, nondiff)                      \
  X(ne, 2, nondiff)                      \
  X(lt, 2, nondiff)                      \
  X(le, 2, nondiff)                      \
  X(gt, 2, nondiff)                      \
  X(ge, 2, nondiff)                      \
  X(where, 3, primitive)                 \
  X(clamp, 1, composite)                 \
  /* reductions */                       \
  X(sum, 1, primitive)                   \
  X(mean, 1, composite)                  \
  X(amax, 1, primitive)                  \
  X(amin, 1, primitive)                  \
  X(max_dim, 1, primitive)               \
  X(min_dim, 1, primitive)               \
  X(argmax, 1, nondiff)                  \
  X(argmin, 1, nondiff)                  \
  X(logsumexp, 1, composite)             \
  X(var, 1, composite)                   \
  X(std, 1, composite)                   \
  X(norm, 1, composite)                  \
  /* linear algebra */                   \
  X(matmul, 2, primitive)                \
  X(linear, 3, composite)                \
  /* movement */                         \
  X(reshape, 1, view)                    \
  X(view, 1, view)                       \
  X(permute, 1, view)                    \
  X(transpose, 1, view)                  \
  X(squeeze, 1, view)                    \
  X(unsqueeze, 1, view)                  \
  X(expand, 1, view)                     \
  X(narrow, 1, view)                     \
  X(slice, 1, view)                      \
  X(select, 1, view)                     \
  X(contiguous, 1, primitive)            \
  X(clone, 1, primitive)                 \
  X(cast, 1, primitive)                  \
  X(cat, -1, primitive)                  \
  X(stack, -1, composite)                \
  X(split, 1, composite)                 \
  X(index_select, 2, primitive)          \
  X(gather, 2, primitive)                \
  X(scatter_add, 3, primitive)           \
  X(one_hot, 1, nondiff)                 \
  /* normalization */                    \
  X(softmax, 1, primitive)               \
  X(log_softmax, 1, primitive)           \
  X(batch_norm, 5, primitive)            \
  X(layer_norm, 3, primitive)            \
  X(group_norm, 3, primitive)            \
  /* neural-network ops */               \
  X(conv2d, 3, primitive)                \
  X(conv1d, 3, composite)                \
  X(conv_transpose2d, 3, primitive)      \
  X(max_pool2d, 1, primitive)            \
  X(avg_pool2d, 1, composite)            \
  X(adaptive_avg_pool2d, 1, composite)   \
  X(pad, 1, composite)                   \
  X(dropout, 1, composite)               \
  X(dropout2d, 1, composite)             \
  X(embedding, 2, composite)             \
  /* fused kernels */                    \
  X(softmax_cross_entropy, 3, primitive) \
  X(bias_act, 2, primitive)

// Autograd nodes that are not user-visible ops: backwards recorded as their own nodes (so gradients of any
// order work), the device copy, and the collective of nn/parallel.
#define KILN_INTERNAL_NODES(X)  \
  X(to_device)                  \
  X(slice_backward)             \
  X(max_pool2d_backward)        \
  X(conv2d_backward_data)       \
  X(conv2d_backward_filter)     \
  X(batch_norm_backward)        \
  X(batch_norm_backward_weight) \
  X(batch_norm_backward_bias)   \
  X(all_reduce_sum)
// clang-format on

namespace kiln::autograd {

// One enumerator per op, in list order (kOps[static_cast<size_t>(op)] is its entry).
enum class Op : uint16_t {
#define KILN_X(name, arity, kind) name,
  KILN_OPS(KILN_X)
#undef KILN_X
};

enum class OpKind { primitive, composite, view, nondiff };

struct OpInfo {
  const char* name;
  int arity;
  OpKind kind;
};

inline constexpr OpInfo kOps[] = {
#define KILN_X(name, arity, kind) {#name, arity, OpKind::kind},
    KILN_OPS(KILN_X)
#undef KILN_X
};
inline constexpr std::size_t kOpCount = std::size(kOps);

constexpr const OpInfo& op_info(Op op) { return kOps[static_cast<std::size_t>(op)]; }

inline constexpr const char* kInternalNodes[] = {
#define KILN_X(name) #name,
    KILN_INTERNAL_NODES(KILN_X)
#undef KILN_X
};

// The op named `name`, or kOpCount when there is none.
constexpr std::size_t op_index(std::string_view name) {
  for (std::size_t i = 0; i < kOpCount; ++i)
    if (name == kOps[i].name) return i;
  return kOpCount;
}

// Whether an autograd node may carry `name`: an op of the list or an internal node.
constexpr bool is_node_name(std::string_view name) {
  if (op_index(name) != kOpCount) return true;
  for (const char* internal : kInternalNodes)
    if (name == internal) return true;
  return false;
}

// The name of a recorded node. Made from a string literal, which must be listed above (else the program
// does not compile: "call to consteval function ... is not a constant expression"), or from an Op.
class OpName {
 public:
  consteval OpName(const char* name) : name_(name) {  // NOLINT(google-explicit-constructor): literals
    if (!is_node_name(name)) throw "an autograd node name must be listed in autograd/op_list.h";
  }
  constexpr OpName(Op op) : name_(op_info(op).name) {}  // NOLINT(google-explicit-constructor)
  constexpr const char* c_str() const { return name_; }
  constexpr operator const char*() const { return name_; }  // NOLINT(google-explicit-constructor)

 private:
  const char* name_;
};

}  // namespace kiln::autograd
