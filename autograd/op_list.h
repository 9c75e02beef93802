// kiln/autograd/op_list.h: every user-visible op, listed once: X(name, arity, kind).
// arity: tensor inputs (-1 = a list). kind: primitive (calls a kernel, backward written with ops),
// composite (written with other ops), view (metadata only, shares storage), nondiff (no gradient).
// The op test table (tests/op_cases.cpp) must have a case for every entry; a coverage test enforces it.
#pragma once

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
  X(batch_norm, 5, composite)            \
  X(layer_norm, 3, composite)            \
  X(group_norm, 3, composite)            \
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
// clang-format on

namespace kiln::autograd {

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

}  // namespace kiln::autograd
