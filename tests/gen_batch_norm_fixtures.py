#!/usr/bin/python3
# tests/gen_batch_norm_fixtures.py: writes tests/fixtures/torch_batch_norm.txt, frozen PyTorch (float64)
# BatchNorm layers over several training steps: each step's output and running statistics, then one
# evaluation-mode output, which tests/test_batch_norm.cpp compares kiln's nn::BatchNorm1d/2d against.
#
# Run by hand, never by the test suite: `tests/gen_batch_norm_fixtures.py` (Debian's python3-torch is
# visible only to /usr/bin/python3). Deterministic: fixed seed, float64 throughout.
#
# Format: tests/support/fixture.h. Labels per case: weight, bias (the layer's parameters, set before the
# first step), x<k> and out<k> (training step k's input and output), running_mean<k> / running_var<k>
# (the buffers after step k), eval_x and eval_out (one evaluation-mode forward after the last step).
# The layer's constructor arguments (channels, momentum, eps) are in the case name and in the C++ test.
import os

import torch
from torch import nn
from torch_fixture_writer import write_fixture

F64 = torch.float64
torch.manual_seed(20261128)

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_batch_norm.txt")


def add_steps(cases, name, layer, shapes, scale, shift):
    """Trains `layer` on batches randn(shape) * scale + shift (per channel), recording every step."""
    layer = layer.to(F64)
    c = layer.num_features
    with torch.no_grad():
        layer.weight.copy_(torch.rand(c, dtype=F64) + 0.5)
        layer.bias.copy_(torch.randn(c, dtype=F64))
    tensors = [("weight", layer.weight.detach().clone()), ("bias", layer.bias.detach().clone())]
    view = (1, c) + (1,) * (len(shapes[0]) - 2)
    layer.train()
    for k, shape in enumerate(shapes):
        x = torch.randn(shape, dtype=F64) * scale.view(view) + shift.view(view)
        out = layer(x)
        tensors += [(f"x{k}", x), (f"out{k}", out.detach()), (f"running_mean{k}", layer.running_mean.clone()),
                    (f"running_var{k}", layer.running_var.clone())]
    layer.eval()
    x = torch.randn(shapes[-1], dtype=F64) * scale.view(view) + shift.view(view)
    tensors += [("eval_x", x), ("eval_out", layer(x).detach())]
    cases.append((name, tensors))


cases = []
add_steps(cases, "batchnorm2d_c3_momentum0.1_eps1e-5", nn.BatchNorm2d(3),
          [(4, 3, 5, 4), (4, 3, 5, 4), (2, 3, 5, 4), (4, 3, 5, 4), (4, 3, 5, 4)],
          torch.tensor([1.0, 3.0, 0.5], dtype=F64), torch.tensor([0.0, 2.0, -1.0], dtype=F64))
add_steps(cases, "batchnorm1d_c5_momentum0.3_eps1e-3", nn.BatchNorm1d(5, momentum=0.3, eps=1e-3),
          [(6, 5), (6, 5), (3, 5), (6, 5)],
          torch.tensor([1.0, 2.0, 0.1, 5.0, 1.0], dtype=F64), torch.tensor([0.0, 1.0, 3.0, -2.0, 0.5], dtype=F64))
# A mean far from zero and a small spread: one-pass variance formulas lose digits here.
add_steps(cases, "batchnorm1d_3d_c2_large_mean", nn.BatchNorm1d(2),
          [(4, 2, 6), (4, 2, 6), (4, 2, 6)],
          torch.tensor([1e-2, 1.0], dtype=F64), torch.tensor([1e3, -5e2], dtype=F64))

write_fixture(OUT_PATH, ["Frozen PyTorch %s BatchNorm training steps, written by tests/gen_batch_norm_fixtures.py"
                         % torch.__version__], cases)
