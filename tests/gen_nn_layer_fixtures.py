#!/usr/bin/python3
# tests/gen_nn_layer_fixtures.py: writes tests/fixtures/torch_nn_layers.txt, PyTorch's forward output and
# gradients for every nn layer kiln has, built with the same settings and loaded with the same parameters
# (tests/test_nn_layers.cpp rebuilds each layer from the case name, loads the parameters through
# load_state_dict — so the state-dict names are checked too — and compares).
#
# Run by hand: `tests/gen_nn_layer_fixtures.py` (Debian's python3-torch is visible only to /usr/bin/python3).
# Deterministic (fixed seed, float64), format as in tests/support/fixture.h. Labels within a case:
#   in            the input (float64, or int64 indices for Embedding)
#   grad_out      the upstream gradient, same shape as out
#   out           the layer's output (in train mode unless the case name ends in _eval)
#   grad_in       d(sum(out * grad_out))/d(in) (float inputs only)
#   sd.<name>     every state-dict entry before the forward pass (parameters and buffers, PyTorch names)
#   grad.<name>   d(sum(out * grad_out))/d(parameter)
#   after.<name>  buffers after the forward pass (BatchNorm's running statistics)
import os

import torch
import torch.nn as nn
from torch_fixture_writer import write_fixture

F64 = torch.float64
torch.manual_seed(20261127)
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_nn_layers.txt")
cases = []


def randomize(layer):
    # Non-default parameter and buffer values, so that a mix-up of weight and bias (or of running mean
    # and variance) cannot pass.
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p.copy_(torch.randn(p.shape, dtype=F64) * 0.5 + (1.0 if name.endswith("weight") and p.dim() == 1 else 0.0))
        for name, b in layer.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, dtype=F64) * 0.3)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, dtype=F64) + 0.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(3)


def add(name, layer, x, train=True):
    layer = layer.to(F64)
    randomize(layer)
    layer.train(train)
    tensors = [("in", x)]
    tensors += [(f"sd.{n}", t.detach().clone()) for n, t in layer.state_dict().items()]
    if x.is_floating_point():
        x = x.clone().requires_grad_(True)
    out = layer(x)
    grad_out = torch.randn(out.shape, dtype=F64)
    params = [(n, p) for n, p in layer.named_parameters()]
    wrt = ([x] if x.is_floating_point() else []) + [p for _, p in params]
    grads = torch.autograd.grad(out, wrt, grad_out, allow_unused=True)
    tensors += [("grad_out", grad_out), ("out", out.detach())]
    if x.is_floating_point():
        tensors.append(("grad_in", grads[0]))
        grads = grads[1:]
    for (n, p), g in zip(params, grads):
        tensors.append((f"grad.{n}", g if g is not None else torch.zeros_like(p)))
    tensors += [(f"after.{n}", b.detach().clone()) for n, b in layer.named_buffers()]
    cases.append((name + ("" if train else "_eval"), tensors))


def randn(*shape):
    return torch.randn(shape, dtype=F64)


add("linear", nn.Linear(5, 3), randn(4, 5))
add("linear_nobias_3d", nn.Linear(5, 3, bias=False), randn(2, 4, 5))
add("conv1d_s2_p1", nn.Conv1d(4, 6, 3, stride=2, padding=1), randn(2, 4, 9))
add("conv2d_p1", nn.Conv2d(3, 4, 3, padding=1), randn(2, 3, 6, 5))
add("conv2d_s21_p10_d12_g2", nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
    randn(2, 4, 7, 6))
add("conv2d_same_k4", nn.Conv2d(3, 2, 4, padding="same"), randn(2, 3, 6, 5))
add("conv2d_nobias", nn.Conv2d(2, 3, 2, bias=False), randn(1, 2, 4, 4))
add("conv_transpose2d_s2_p1_op1", nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
    randn(2, 4, 3, 4))
add("maxpool2d_k2", nn.MaxPool2d(2), randn(2, 3, 6, 5))
add("maxpool2d_k3_s2_p1_ceil", nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), randn(2, 2, 7, 6))
add("avgpool2d_k3_s2_p1_nopad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), randn(2, 2, 7, 6))
add("avgpool2d_k2", nn.AvgPool2d(2), randn(1, 2, 4, 6))
add("adaptive_avgpool2d_3x2", nn.AdaptiveAvgPool2d((3, 2)), randn(2, 3, 7, 5))
add("batchnorm1d", nn.BatchNorm1d(4), randn(8, 4))
add("batchnorm1d_3d", nn.BatchNorm1d(3, momentum=0.3), randn(4, 3, 5))
add("batchnorm2d", nn.BatchNorm2d(3), randn(4, 3, 3, 2))
add("batchnorm2d", nn.BatchNorm2d(3), randn(4, 3, 3, 2), train=False)
add("batchnorm2d_noaffine", nn.BatchNorm2d(3, affine=False, eps=1e-3), randn(4, 3, 3, 2))
add("layernorm_4x5", nn.LayerNorm([4, 5]), randn(3, 4, 5))
add("layernorm_noaffine", nn.LayerNorm(6, elementwise_affine=False, eps=1e-6), randn(4, 6))
add("groupnorm_2_6", nn.GroupNorm(2, 6), randn(3, 6, 2, 2))
add("embedding_pad0", nn.Embedding(10, 4, padding_idx=0), torch.tensor([[1, 0, 3], [9, 3, 0]]))
add("relu", nn.ReLU(), randn(3, 4))
add("leaky_relu_0.2", nn.LeakyReLU(0.2), randn(3, 4))
add("gelu", nn.GELU(), randn(3, 4))
add("silu", nn.SiLU(), randn(3, 4))
add("sigmoid", nn.Sigmoid(), randn(3, 4))
add("tanh", nn.Tanh(), randn(3, 4))
add("softmax_dim1", nn.Softmax(dim=1), randn(3, 4, 2))
add("log_softmax_last", nn.LogSoftmax(dim=-1), randn(3, 4))
add("flatten", nn.Flatten(), randn(2, 3, 2, 2))
add("unflatten_1_2x3", nn.Unflatten(1, (2, 3)), randn(4, 6))
add("dropout", nn.Dropout(0.5), randn(3, 4), train=False)
add("sequential_mlp", nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2)), randn(4, 6))
add("sequential_cnn", nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Flatten(), nn.Linear(12, 2)), randn(2, 1, 4, 4))


write_fixture(OUT_PATH, [f"kiln nn layer fixtures, generated by tests/gen_nn_layer_fixtures.py with torch {torch.__version__}; do not edit",
                         "format: see tests/gen_nn_layer_fixtures.py or tests/support/fixture.h"], cases)
