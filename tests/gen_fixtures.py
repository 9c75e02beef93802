#!/usr/bin/python3
# tests/gen_fixtures.py: writes tests/fixtures/torch_ops.txt, frozen PyTorch outputs and gradients for
# awkward op cases (broadcasting, keepdim reductions, ties, large magnitudes, 1-D matmul, ...), which
# tests/test_torch_fixtures.cpp compares kiln against (docs/ARCHITECTURE.md, "Frozen references").
#
# Run by hand, never by the test suite: `tests/gen_fixtures.py` (Debian's python3-torch is visible only to
# /usr/bin/python3). The output is deterministic (fixed seed, float64 throughout), so rerunning it on the
# same torch version reproduces the file byte for byte.
#
# File format (also documented in tests/support/fixture.h), line oriented, ASCII:
#   # ...                         a comment; blank lines are ignored too
#   case <name>                   starts a case; the name selects the computation on the C++ side
#   tensor <label> <dtype> <ndim> <dim_0> ... <dim_{ndim-1}> <v_0> ... <v_{numel-1}>
#   end                           closes the case
# dtype is f64, i64 or bool; values are row-major, f64 in %.17g (exact round trip), i64 and bool as
# integers (bool as 0/1). A 0-d tensor has ndim 0, no dims and one value.
#
# Labels within a case:
#   in<k>        the k-th input of the op (float inputs are differentiable; i64/bool ones are not)
#   grad_out     the upstream gradient, random, same shape as out
#   out          the op's output
#   out_<name>   further outputs without gradient (max/min indices: out_indices)
#   grad<k>      d(sum(out * grad_out))/d(in<k>), present exactly for the differentiable inputs
# Scalar arguments (dims, slopes, clamp bounds, ...) are not in the file: they are part of the case name
# and hard-coded in the C++ lambda of the same name.
import os

import torch
import torch.nn.functional as F
from torch_fixture_writer import add_op_case, write_fixture

F64 = torch.float64
torch.manual_seed(20240601)

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_ops.txt")

cases = []  # (name, [(label, tensor)]) in file order


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def uniform(low, high, *shape):
    return torch.rand(shape, dtype=F64) * (high - low) + low


def t64(values):
    return torch.tensor(values, dtype=F64)


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


def add_case(name, fn, *inputs):
    add_op_case(cases, name, fn, *inputs)


# ---- broadcast gradients of binary ops ----
add_case("add_3x1x4_2x4", torch.add, randn(3, 1, 4), randn(2, 4))
add_case("sub_2x3x1_1x3x5", torch.sub, randn(2, 3, 1), randn(1, 3, 5))
add_case("mul_4x1_1x5", torch.mul, randn(4, 1), randn(1, 5))
# Denominators in [0.5, 2] in magnitude with mixed signs, away from 0.
den = uniform(0.5, 2.0, 3) * t64([1.0, -1.0, 1.0])
add_case("div_2x3_3", torch.div, randn(2, 3), den)
add_case("pow_2x3_3_positive_base", torch.pow, uniform(0.5, 2.0, 2, 3), t64([-1.5, 0.5, 2.0]))
# Ties: column 1 of a equals b[1] in every row, and a[0, 3] == b[3]; the tied gradient is split evenly.
mm_b = randn(4)
mm_a = randn(3, 4)
mm_a[:, 1] = mm_b[1]
mm_a[0, 3] = mm_b[3]
add_case("maximum_3x4_4_ties", torch.maximum, mm_a, mm_b)
add_case("minimum_3x4_4_ties", torch.minimum, mm_a, mm_b)
add_case("where_3x1_1x4_3x4", torch.where, torch.tensor([[True], [False], [True]]), randn(1, 4), randn(3, 4))
# Includes both bounds exactly: PyTorch passes the gradient at x == min and x == max.
clamp_x = t64([[-0.5, 0.5, -0.9, 0.9], [0.1, -0.2, 0.49, -0.51], [0.0, 2.0, -2.0, 0.3]])
add_case("clamp_3x4_min-0.5_max0.5", lambda x: torch.clamp(x, -0.5, 0.5), clamp_x)

# ---- reductions ----
add_case("sum_2x3x4_dims02_keepdim", lambda x: x.sum(dim=(0, 2), keepdim=True), randn(2, 3, 4))
add_case("sum_2x3x4_all", lambda x: x.sum(), randn(2, 3, 4))
add_case("mean_3x4x2_dim1_keepdim", lambda x: x.mean(dim=1, keepdim=True), randn(3, 4, 2))
add_case("var_3x5_dim1_correction1_keepdim", lambda x: torch.var(x, dim=1, correction=1, keepdim=True),
         randn(3, 5))
add_case("var_3x5_dim1_correction1", lambda x: torch.var(x, dim=1, correction=1, keepdim=False), randn(3, 5))
add_case("std_3x4x2_dims01", lambda x: torch.std(x, dim=(0, 1)), randn(3, 4, 2))
# Row 0: two-way tie, row 1: all equal (three-way split of the gradient), row 2: no tie.
add_case("amax_3x4_dim1_ties", lambda x: torch.amax(x, dim=1),
         t64([[0.3, 1.5, -0.2, 1.5], [0.7, 0.7, 0.7, 0.7], [-1.0, 0.2, 2.5, 0.1]]))
# No ties, so the returned indices are unambiguous.
add_case("max_4x5_dim1", lambda x: (lambda r: (r.values, {"indices": r.indices}))(torch.max(x, dim=1)),
         randn(4, 5))
add_case("min_4x3_dim0", lambda x: (lambda r: (r.values, {"indices": r.indices}))(torch.min(x, dim=0)),
         randn(4, 3))
lse_x = t64([[1000.0, 1001.0, 999.5, 1000.0], [-1000.0, -999.0, -1001.0, -1000.5], [1000.0, -1000.0, 0.0, 3.0]])
add_case("logsumexp_3x4_dim1_large", lambda x: torch.logsumexp(x, dim=1), lse_x)
# Row 1 is all zeros: its norm is 0 and its gradient 0 (not NaN).
norm_x = randn(3, 4)
norm_x[1] = 0.0
add_case("norm_p2_3x4_dim1_zero_row", lambda x: torch.norm(x, p=2, dim=1), norm_x)
add_case("norm_p2_3x4_all", lambda x: torch.norm(x, p=2), randn(3, 4))

# ---- softmax and log_softmax ----
big = t64([[1000.0, -1000.0, 0.0, 999.0], [-1000.0, -1001.0, -999.0, -1000.0], [5.0, 1000.0, 1000.0, -3.0]])
add_case("softmax_3x4_dim1_large", lambda x: torch.softmax(x, dim=1), big)
add_case("softmax_3x4_dim0_large", lambda x: torch.softmax(x, dim=0), big)
add_case("log_softmax_3x4_dim1_large", lambda x: torch.log_softmax(x, dim=1), big)
add_case("log_softmax_3x4_dim0_large", lambda x: torch.log_softmax(x, dim=0), big)
add_case("softmax_2x3x4_dim-1", lambda x: torch.softmax(x, dim=-1), randn(2, 3, 4) * 3)
add_case("log_softmax_2x3x4_dim-1", lambda x: torch.log_softmax(x, dim=-1), randn(2, 3, 4) * 3)

# ---- matmul and linear ----
add_case("matmul_3x4_4x5", torch.matmul, randn(3, 4), randn(4, 5))
add_case("matmul_4_4x5", torch.matmul, randn(4), randn(4, 5))
add_case("matmul_3x4_4", torch.matmul, randn(3, 4), randn(4))
add_case("matmul_4_4_dot", torch.matmul, randn(4), randn(4))
add_case("matmul_2x1x3x4_5x4x2_batch_broadcast", torch.matmul, randn(2, 1, 3, 4), randn(5, 4, 2))
add_case("matmul_2x3x4_4x5", torch.matmul, randn(2, 3, 4), randn(4, 5))
add_case("linear_3x4_w5x4_b5", F.linear, randn(3, 4), randn(5, 4), randn(5))
add_case("linear_2x3x4_w5x4_b5", F.linear, randn(2, 3, 4), randn(5, 4), randn(5))

# ---- elementwise unary ----
wide = t64([[-4.0, -2.5, -1.0, -0.3, 0.0, 0.2, 0.9, 1.7, 3.0, 5.0]])
add_case("gelu_erf", F.gelu, wide)
add_case("silu", F.silu, wide)
# PyTorch's softplus returns x itself above x = 20 (its threshold); kiln's stable form agrees to ~1e-13.
add_case("softplus_incl_pm30", F.softplus, t64([-30.0, -5.0, -1.0, 0.0, 0.5, 2.0, 10.0, 30.0]))
add_case("leaky_relu_slope0.2", lambda x: F.leaky_relu(x, 0.2), wide)
add_case("sigmoid_incl_pm40", torch.sigmoid, t64([-40.0, -10.0, -1.0, 0.0, 0.5, 3.0, 10.0, 40.0]))
add_case("tanh", torch.tanh, t64([-20.0, -3.0, -0.7, 0.0, 0.1, 1.0, 2.5, 20.0]))
add_case("log1p", torch.log1p, t64([-0.9, -0.5, -1e-8, 0.0, 1e-10, 0.3, 2.0, 100.0]))
add_case("rsqrt", torch.rsqrt, t64([1e-4, 0.01, 0.25, 1.0, 2.0, 9.0, 1e4]))
add_case("erf", torch.erf, t64([-4.0, -1.5, -0.5, -1e-3, 0.0, 0.3, 1.0, 2.0, 6.0]))

# ---- movement ----
add_case("cat_2x3_1x3_dim0", lambda a, b: torch.cat([a, b], dim=0), randn(2, 3), randn(1, 3))
add_case("cat_2x1_2x3_dim1", lambda a, b: torch.cat([a, b], dim=1), randn(2, 1), randn(2, 3))
add_case("stack_3_of_2x3_dim1", lambda a, b, c: torch.stack([a, b, c], dim=1), randn(2, 3), randn(2, 3),
         randn(2, 3))
# Repeated indices within a row: the gradient accumulates.
add_case("gather_3x4_dim1", lambda x, idx: torch.gather(x, 1, idx), randn(3, 4),
         i64([[0, 3, 3], [1, 1, 1], [2, 0, 3]]))
add_case("index_select_4x3_dim0_repeated", lambda x, idx: torch.index_select(x, 0, idx), randn(4, 3),
         i64([2, 0, 2, 2, 3]))
# Two src rows land on the same x row in several columns.
add_case("scatter_add_3x4_dim0", lambda x, idx, src: torch.scatter_add(x, 0, idx, src), randn(3, 4),
         i64([[0, 2, 1, 0], [0, 1, 1, 2]]), randn(2, 4))
# One output: cat(piece_i * (i + 1)), so each piece's gradient is scaled differently.
add_case("split_6x3_sizes1_2_3_dim0",
         lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(x, [1, 2, 3], dim=0))], dim=0),
         randn(6, 3))
# (2,3,4) -> permute(2,0,1) (4,2,3) -> reshape (4,6) -> narrow(1, 1, 4) (4,4)
add_case("permute201_reshape4x6_narrow1_1_4", lambda x: x.permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4),
         randn(2, 3, 4))

write_fixture(OUT_PATH, [f"kiln op fixtures, generated by tests/gen_fixtures.py with torch {torch.__version__}; do not edit",
                         "format: see tests/gen_fixtures.py or tests/support/fixture.h"], cases)
