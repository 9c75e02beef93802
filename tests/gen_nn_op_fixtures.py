#!/usr/bin/python3
# tests/gen_nn_op_fixtures.py: writes tests/fixtures/torch_nn_ops.txt, frozen PyTorch (float64) outputs and
# gradients of the neural-network ops (conv2d, conv1d, conv_transpose2d, max/avg/adaptive pooling,
# batch_norm with its running statistics, layer_norm, group_norm, embedding, pad), which
# tests/test_nn_op_fixtures.cpp compares kiln against (docs/ARCHITECTURE.md, "Frozen references").
#
# Run by hand, never by the test suite: `tests/gen_nn_op_fixtures.py` (Debian's python3-torch is visible
# only to /usr/bin/python3). Deterministic: fixed seed, float64 throughout.
#
# File format and labels: as tests/gen_fixtures.py (see tests/support/fixture.h): in<k> inputs, grad_out,
# out, out_<name> extra outputs without gradient (batch_norm's updated running statistics), grad<k>
# d(sum(out * grad_out))/d(in<k>) for every floating input. Scalar arguments (stride, padding, ...) and
# batch_norm's initial running statistics are part of the case name / hard-coded in the C++ lambda of the
# same name.
import os

import torch
import torch.nn.functional as F
from torch_fixture_writer import add_op_case, write_fixture

F64 = torch.float64
torch.manual_seed(20261128)

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_nn_ops.txt")

cases = []


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def uniform(low, high, *shape):
    return torch.rand(shape, dtype=F64) * (high - low) + low


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


def add_case(name, fn, *inputs):
    add_op_case(cases, name, fn, *inputs)


# ---- convolutions ----
add_case("conv2d_pad1_bias", lambda x, w, b: F.conv2d(x, w, b, padding=1), randn(2, 3, 5, 5), randn(4, 3, 3, 3),
         randn(4))
add_case("conv2d_s2_p1", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), randn(2, 3, 7, 6),
         randn(4, 3, 3, 3), randn(4))
add_case("conv2d_s1x2_p0x1_d2x1_g2",
         lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2),
         randn(2, 4, 7, 7), randn(6, 2, 3, 3), randn(6))
add_case("conv2d_depthwise_p1_g4_nobias", lambda x, w: F.conv2d(x, w, None, padding=1, groups=4),
         randn(1, 4, 5, 5), randn(4, 1, 3, 3))
add_case("conv2d_1x1_nobias", lambda x, w: F.conv2d(x, w), randn(2, 3, 4, 4), randn(5, 3, 1, 1))
add_case("conv2d_s3_p2_d2", lambda x, w, b: F.conv2d(x, w, b, stride=3, padding=2, dilation=2),
         randn(1, 2, 9, 8), randn(3, 2, 2, 3), randn(3))
add_case("conv1d_s2_p1", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), randn(2, 3, 9), randn(4, 3, 3),
         randn(4))
add_case("conv1d_d3_g2", lambda x, w, b: F.conv1d(x, w, b, dilation=3, groups=2), randn(2, 4, 8), randn(2, 2, 2),
         randn(2))
add_case("conv_transpose2d_s2_p1_op1",
         lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         randn(2, 4, 3, 3), randn(4, 3, 3, 3), randn(3))
add_case("conv_transpose2d_s1x2_p0x1_op0x1_g2_d2x1",
         lambda x, w: F.conv_transpose2d(x, w, None, stride=(1, 2), padding=(0, 1), output_padding=(0, 1),
                                         groups=2, dilation=(2, 1)),
         randn(1, 4, 3, 4), randn(4, 1, 2, 3))
add_case("conv_transpose2d_s3_nobias", lambda x, w: F.conv_transpose2d(x, w, None, stride=3),
         randn(1, 2, 2, 3), randn(2, 2, 2, 2))

# ---- pooling ----
# Random inputs have no ties within a window, so the max's position is unambiguous.
add_case("max_pool2d_k2", lambda x: F.max_pool2d(x, 2), randn(2, 3, 6, 6))
add_case("max_pool2d_k3_s2_p1_ceil", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), randn(1, 2, 8, 7))
add_case("max_pool2d_k2x3_s1x2_p1_d2x1",
         lambda x: F.max_pool2d(x, (2, 3), (1, 2), 1, dilation=(2, 1)), randn(1, 2, 7, 7))
add_case("max_pool2d_k2_s1_overlap", lambda x: F.max_pool2d(x, 2, 1), randn(1, 1, 5, 4))
add_case("avg_pool2d_k2", lambda x: F.avg_pool2d(x, 2), randn(2, 3, 4, 6))
add_case("avg_pool2d_k3_s2_p1_ceil_exclude_pad",
         lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), randn(1, 2, 7, 6))
add_case("avg_pool2d_k3x2_s2_p1_ceil_include_pad",
         lambda x: F.avg_pool2d(x, (3, 2), 2, 1, ceil_mode=True, count_include_pad=True), randn(1, 2, 7, 6))
add_case("avg_pool2d_k3_s1_p1_include_pad", lambda x: F.avg_pool2d(x, 3, 1, 1), randn(1, 1, 5, 5))
add_case("adaptive_avg_pool2d_7x5_to_3x2", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), randn(2, 2, 7, 5))
add_case("adaptive_avg_pool2d_5x6_to_4x4", lambda x: F.adaptive_avg_pool2d(x, (4, 4)), randn(1, 2, 5, 6))


# ---- normalization ----
# Initial running statistics, hard-coded in the C++ lambdas too.
def running_stats(c):
    return (torch.tensor([0.5, -0.5, 0.25, 0.0][:c], dtype=F64), torch.tensor([2.0, 0.5, 1.5, 1.0][:c], dtype=F64))


def bn_train(momentum):
    def fn(x, *affine):
        rm, rv = running_stats(x.shape[1])
        w, b = affine if affine else (None, None)
        out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=1e-5)
        return out, {"running_mean": rm, "running_var": rv}
    return fn


def bn_eval(x, w, b):
    rm, rv = running_stats(x.shape[1])
    return F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5)


add_case("batch_norm_train_4d_affine", bn_train(0.1), randn(4, 3, 2, 2), uniform(0.5, 1.5, 3), randn(3))
add_case("batch_norm_train_3d_momentum0.3_affine", bn_train(0.3), randn(3, 2, 4), uniform(0.5, 1.5, 2), randn(2))
add_case("batch_norm_train_2d_plain", bn_train(0.1), randn(6, 4))
add_case("batch_norm_eval_4d_affine", bn_eval, randn(2, 3, 2, 3), uniform(0.5, 1.5, 3), randn(3))
add_case("layer_norm_2x3x4_last2_affine", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), randn(2, 3, 4),
         uniform(0.5, 1.5, 3, 4), randn(3, 4))
add_case("layer_norm_3x5_last1_plain", lambda x: F.layer_norm(x, (5,)), randn(3, 5))
add_case("group_norm_2x6x3_g3_affine", lambda x, w, b: F.group_norm(x, 3, w, b), randn(2, 6, 3),
         uniform(0.5, 1.5, 6), randn(6))
add_case("group_norm_2x4x2x2_g2_plain", lambda x: F.group_norm(x, 2), randn(2, 4, 2, 2))

# ---- embedding and pad ----
add_case("embedding_5x3_padding_idx1", lambda w, idx: F.embedding(idx, w, padding_idx=1), randn(5, 3),
         i64([[1, 4, 1], [0, 2, 4]]))
add_case("embedding_4x2_no_padding", lambda w, idx: F.embedding(idx, w), randn(4, 2), i64([3, 3, 0, 2, 3]))
add_case("pad_2x3x4_1_2_0_1_value0.5", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), randn(2, 3, 4))
add_case("pad_1x2x2x3_0_1_2_0_1_1", lambda x: F.pad(x, (0, 1, 2, 0, 1, 1)), randn(1, 2, 2, 3))

write_fixture(OUT_PATH, [f"kiln nn op fixtures, generated by tests/gen_nn_op_fixtures.py with torch {torch.__version__}; do not edit",
                         "format: see tests/gen_fixtures.py or tests/support/fixture.h"], cases)
