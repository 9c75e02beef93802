#!/usr/bin/python3
# tests/gen_loss_fixtures.py: writes tests/fixtures/torch_losses.txt, frozen PyTorch (1.13, float64) values
# and gradients of every loss in nn/loss.h, for every reduction and option, which tests/test_losses.cpp
# compares kiln against.
#
# Run by hand, never by the test suite: `tests/gen_loss_fixtures.py` (Debian's python3-torch is visible only
# to /usr/bin/python3). Deterministic (fixed seed, float64), so a rerun reproduces the file byte for byte.
#
# File format: tests/support/fixture.h (case / tensor / end lines). Case names are "<loss>/<variant>"; the
# part before the slash selects the kiln function. Labels within a case:
#   input, target, input2      the loss's tensor arguments (input1 of the 3-input losses is "input")
#   weight, pos_weight         optional tensor options
#   opt_reduction              i64 0-d: 0 none, 1 mean, 2 sum, 3 batchmean
#   opt_ignore_index           i64 0-d;  opt_log_target bool 0-d
#   opt_beta, opt_delta, opt_margin, opt_label_smoothing   f64 0-d
#   grad_out                   random upstream gradient, the shape of out
#   out                        the loss (NaN where PyTorch gives NaN: every target ignored)
#   grad_<arg>                 d(sum(out * grad_out))/d(<arg>), for exactly the args differentiated here
import math
import os

import torch
import torch.nn.functional as F

F64 = torch.float64
torch.manual_seed(20261127)

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_losses.txt")
REDUCTIONS = {"none": 0, "mean": 1, "sum": 2, "batchmean": 3}

cases = []  # (name, [(label, tensor)])


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def uniform(low, high, *shape):
    return torch.rand(shape, dtype=F64) * (high - low) + low


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


def add(name, fn, args, grad_args, options):
    """Records one case. args: ordered {label: tensor} passed positionally to fn; grad_args: the labels
    differentiated; options: {label: value} (tensors, or python scalars written as 0-d tensors) passed to fn
    as keyword arguments under their torch names."""
    assert all(name != n for n, _ in cases), f"duplicate case {name}"
    leaves = {k: v.clone().requires_grad_(k in grad_args) for k, v in args.items()}
    out = fn(*leaves.values(), **options)
    grad_out = randn(*out.shape)
    tensors = [(k, v) for k, v in args.items()]
    for key, value in options.items():
        if key == "reduction":
            tensors.append(("opt_reduction", torch.tensor(REDUCTIONS[value])))
        elif isinstance(value, torch.Tensor):
            tensors.append((key, value))
        elif isinstance(value, bool):
            tensors.append((f"opt_{key}", torch.tensor(value)))
        elif isinstance(value, int):
            tensors.append((f"opt_{key}", torch.tensor(value, dtype=torch.int64)))
        else:
            tensors.append((f"opt_{key}", torch.tensor(float(value), dtype=F64)))
    tensors.append(("grad_out", grad_out))
    tensors.append(("out", out.detach()))
    if grad_args:
        grads = torch.autograd.grad((out * grad_out).sum(), [leaves[k] for k in grad_args])
        for k, g in zip(grad_args, grads):
            assert torch.isfinite(g).all(), f"{name}: grad_{k} is not finite"
            tensors.append((f"grad_{k}", g))
    cases.append((name, tensors))


def fmt(x):
    return "%.17g" % x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def format_tensor(label, x):
    x = x.detach().contiguous()
    if x.dtype == F64:
        dtype, values = "f64", [fmt(v) for v in x.reshape(-1).tolist()]
    elif x.dtype == torch.int64:
        dtype, values = "i64", [str(v) for v in x.reshape(-1).tolist()]
    elif x.dtype == torch.bool:
        dtype, values = "bool", [str(int(v)) for v in x.reshape(-1).tolist()]
    else:
        raise TypeError(f"{label}: unsupported dtype {x.dtype}")
    return " ".join(["tensor", label, dtype, str(x.dim())] + [str(d) for d in x.shape] + values)


# ---- regression: mse, l1, smooth_l1, huber ----
for red in ["none", "mean", "sum"]:
    x, t = randn(3, 4) * 2, randn(3, 4) * 2
    add(f"mse_loss/3x4_{red}", F.mse_loss, {"input": x, "target": t}, ["input", "target"], {"reduction": red})
    x, t = randn(3, 4) * 2, randn(3, 4) * 2
    t[0, 1] = x[0, 1]  # a tie: PyTorch's l1 gradient there is 0
    add(f"l1_loss/3x4_tie_{red}", F.l1_loss, {"input": x, "target": t}, ["input", "target"], {"reduction": red})
    for beta in [1.0, 0.5, 0.0]:
        x, t = randn(3, 4) * 1.5, randn(3, 4) * 1.5
        add(f"smooth_l1_loss/3x4_beta{beta}_{red}", F.smooth_l1_loss, {"input": x, "target": t}, ["input", "target"],
            {"reduction": red, "beta": beta})
    for delta in [1.0, 2.5]:
        x, t = randn(3, 4) * 2, randn(3, 4) * 2
        add(f"huber_loss/3x4_delta{delta}_{red}", F.huber_loss, {"input": x, "target": t}, ["input", "target"],
            {"reduction": red, "delta": delta})
add("mse_loss/2x3x2_mean", F.mse_loss, {"input": randn(2, 3, 2), "target": randn(2, 3, 2)}, ["input", "target"],
    {"reduction": "mean"})
add("mse_loss/0d_sum", F.mse_loss, {"input": randn(), "target": randn()}, ["input", "target"], {"reduction": "sum"})

# ---- margin ranking and cosine embedding ----
for red in ["none", "mean", "sum"]:
    for margin in [0.0, 0.5]:
        y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=F64)
        add(f"margin_ranking_loss/6_margin{margin}_{red}", F.margin_ranking_loss,
            {"input": randn(6), "input2": randn(6), "target": y}, ["input", "input2", "target"],
            {"margin": margin, "reduction": red})
    for margin in [0.0, 0.3]:
        x1, x2 = randn(5, 4), randn(5, 4)
        x2[1] = 0.7 * x1[1] + 0.05 * randn(4)  # a nearly parallel pair
        add(f"cosine_embedding_loss/5x4_margin{margin}_{red}", F.cosine_embedding_loss,
            {"input": x1, "input2": x2, "target": torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0], dtype=F64)},
            ["input", "input2"], {"margin": margin, "reduction": red})
add("cosine_embedding_loss/4_unbatched_neg", F.cosine_embedding_loss,
    {"input": randn(4), "input2": randn(4), "target": torch.tensor(-1.0, dtype=F64)}, ["input", "input2"],
    {"margin": -0.5, "reduction": "mean"})
zero_row = randn(3, 4)
zero_row[2] = 0.0  # PyTorch's 1e-12 in each squared norm keeps cos (and its gradient) finite
add("cosine_embedding_loss/3x4_zero_row", F.cosine_embedding_loss,
    {"input": zero_row, "input2": randn(3, 4), "target": torch.tensor([1.0, -1.0, 1.0], dtype=F64)},
    ["input", "input2"], {"margin": 0.0, "reduction": "sum"})

# ---- binary cross-entropy ----
for red in ["none", "mean", "sum"]:
    x, t = uniform(0.05, 0.95, 3, 4), uniform(0, 1, 3, 4)
    add(f"binary_cross_entropy/3x4_soft_{red}", F.binary_cross_entropy, {"input": x, "target": t},
        ["input", "target"], {"reduction": red})
    x, t = uniform(0.05, 0.95, 3, 4), torch.randint(0, 2, (3, 4)).to(F64)
    add(f"binary_cross_entropy/3x4_weight_{red}", F.binary_cross_entropy, {"input": x, "target": t},
        ["input", "target"], {"weight": uniform(0.5, 2, 3, 4), "reduction": red})
    add(f"binary_cross_entropy/3x4_weight4_{red}", F.binary_cross_entropy,
        {"input": uniform(0.05, 0.95, 3, 4), "target": uniform(0, 1, 3, 4)}, ["input", "target"],
        {"weight": uniform(0.5, 2, 4), "reduction": red})
# Inputs exactly 0 and 1: the logs are clamped at -100 (values only; at the clamp PyTorch's gradient uses
# its own (x - t) / max(x (1 - x), 1e-12) formula, kiln's is the clamped log's, documented in nn/loss.h).
add("binary_cross_entropy/edges_none", F.binary_cross_entropy,
    {"input": torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5], dtype=F64),
     "target": torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.3], dtype=F64)}, [], {"reduction": "none"})

for red in ["none", "mean", "sum"]:
    x, t = randn(3, 4) * 3, uniform(0, 1, 3, 4)
    add(f"binary_cross_entropy_with_logits/3x4_{red}", F.binary_cross_entropy_with_logits,
        {"input": x, "target": t}, ["input", "target"], {"reduction": red})
    add(f"binary_cross_entropy_with_logits/3x4_weight_{red}", F.binary_cross_entropy_with_logits,
        {"input": randn(3, 4) * 3, "target": uniform(0, 1, 3, 4)}, ["input", "target"],
        {"weight": uniform(0.5, 2, 3, 4), "reduction": red})
    add(f"binary_cross_entropy_with_logits/3x4_pos_weight_{red}", F.binary_cross_entropy_with_logits,
        {"input": randn(3, 4) * 3, "target": torch.randint(0, 2, (3, 4)).to(F64)}, ["input", "target"],
        {"pos_weight": uniform(0.5, 3, 4), "reduction": red})
    add(f"binary_cross_entropy_with_logits/3x4_both_{red}", F.binary_cross_entropy_with_logits,
        {"input": randn(3, 4) * 3, "target": uniform(0, 1, 3, 4)}, ["input", "target"],
        {"weight": uniform(0.5, 2, 4), "pos_weight": uniform(0.5, 3, 4), "reduction": red})
add("binary_cross_entropy_with_logits/large_logits", F.binary_cross_entropy_with_logits,
    {"input": torch.tensor([-800.0, -40.0, 0.0, 40.0, 800.0, 30.0], dtype=F64),
     "target": torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0, 0.25], dtype=F64)}, ["input", "target"],
    {"pos_weight": torch.tensor([2.0], dtype=F64), "reduction": "none"})

# ---- nll_loss and cross_entropy with class-index targets ----
N, K = 6, 4
for red in ["none", "mean", "sum"]:
    t = i64([0, 3, 1, 2, 3, 1])
    t_ign = i64([0, -100, 1, 2, -100, 3])
    w = uniform(0.2, 2.0, K)
    add(f"nll_loss/6x4_{red}", F.nll_loss, {"input": randn(N, K), "target": t}, ["input"], {"reduction": red})
    add(f"nll_loss/6x4_weight_{red}", F.nll_loss, {"input": randn(N, K), "target": t}, ["input"],
        {"weight": w, "reduction": red})
    add(f"nll_loss/6x4_ignore_{red}", F.nll_loss, {"input": randn(N, K), "target": t_ign}, ["input"],
        {"ignore_index": -100, "reduction": red})
    add(f"nll_loss/6x4_weight_ignore1_{red}", F.nll_loss, {"input": randn(N, K), "target": t}, ["input"],
        {"weight": w, "ignore_index": 1, "reduction": red})
    add(f"nll_loss/2x3x2x2_weight_ignore_{red}", F.nll_loss,
        {"input": randn(2, 3, 2, 2), "target": i64([[[0, 2], [1, -100]], [[2, 2], [-100, 0]]])}, ["input"],
        {"weight": uniform(0.2, 2.0, 3), "ignore_index": -100, "reduction": red})
    add(f"nll_loss/unbatched_{red}", F.nll_loss, {"input": randn(5), "target": i64(3)}, ["input"],
        {"reduction": red})

    for ls in [0.0, 0.15]:
        s = f"ls{ls}_{red}"
        add(f"cross_entropy/6x4_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": t}, ["input"],
            {"label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/6x4_weight_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": t}, ["input"],
            {"weight": w, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/6x4_ignore_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": t_ign},
            ["input"], {"ignore_index": -100, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/6x4_weight_ignore_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": t_ign},
            ["input"], {"weight": w, "ignore_index": -100, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/6x4_weight_ignore2_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": t},
            ["input"], {"weight": w, "ignore_index": 2, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/2x3x2x2_weight_ignore_{s}", F.cross_entropy,
            {"input": randn(2, 3, 2, 2) * 2, "target": i64([[[0, 2], [1, -100]], [[2, 2], [-100, 0]]])}, ["input"],
            {"weight": uniform(0.2, 2.0, 3), "ignore_index": -100, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/2x3x2x2_{s}", F.cross_entropy,
            {"input": randn(2, 3, 2, 2) * 2, "target": i64([[[0, 2], [1, 1]], [[2, 2], [1, 0]]])}, ["input"],
            {"label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/unbatched_{s}", F.cross_entropy, {"input": randn(5), "target": i64(2)}, ["input"],
            {"label_smoothing": ls, "reduction": red})

        # Class-probability targets (gradients to the target too).
        probs = torch.softmax(randn(N, K), 1)
        add(f"cross_entropy/6x4_probs_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": probs},
            ["input", "target"], {"label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/6x4_probs_weight_{s}", F.cross_entropy, {"input": randn(N, K) * 2, "target": probs},
            ["input", "target"], {"weight": w, "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/2x3x2x2_probs_weight_{s}", F.cross_entropy,
            {"input": randn(2, 3, 2, 2), "target": torch.softmax(randn(2, 3, 2, 2), 1)}, ["input", "target"],
            {"weight": uniform(0.2, 2.0, 3), "label_smoothing": ls, "reduction": red})
        add(f"cross_entropy/unbatched_probs_{s}", F.cross_entropy,
            {"input": randn(5), "target": torch.softmax(randn(5), 0)}, ["input", "target"],
            {"label_smoothing": ls, "reduction": red})

# Large logits: log_softmax must not overflow.
add("cross_entropy/large_logits_mean", F.cross_entropy,
    {"input": torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, -1001.0]], dtype=F64), "target": i64([2, 1])},
    ["input"], {"reduction": "mean"})
# Every target ignored: PyTorch's mean is NaN with zero gradients.
all_ign = i64([-100, -100, -100])
add("cross_entropy/all_ignored_mean", F.cross_entropy, {"input": randn(3, K), "target": all_ign}, ["input"],
    {"reduction": "mean"})
add("cross_entropy/all_ignored_weight_ls_mean", F.cross_entropy, {"input": randn(3, K), "target": all_ign},
    ["input"], {"weight": uniform(0.2, 2.0, K), "label_smoothing": 0.1, "reduction": "mean"})
add("nll_loss/all_ignored_weight_mean", F.nll_loss, {"input": randn(3, K), "target": all_ign}, ["input"],
    {"weight": uniform(0.2, 2.0, K), "reduction": "mean"})
add("cross_entropy/all_ignored_sum", F.cross_entropy, {"input": randn(3, K), "target": all_ign}, ["input"],
    {"reduction": "sum"})
assert math.isnan(cases[-2][1][-2][1].item()) and math.isnan(cases[-4][1][-2][1].item())

# ---- kl_div ----
for red in ["none", "mean", "sum", "batchmean"]:
    inp = torch.log_softmax(randn(3, 4), 1)
    tgt = torch.softmax(randn(3, 4), 1)
    add(f"kl_div/3x4_{red}", F.kl_div, {"input": inp, "target": tgt}, ["input", "target"], {"reduction": red})
    add(f"kl_div/3x4_log_target_{red}", F.kl_div,
        {"input": torch.log_softmax(randn(3, 4), 1), "target": torch.log_softmax(randn(3, 4), 1)},
        ["input", "target"], {"reduction": red, "log_target": True})
    # Zeros in the target contribute 0 (PyTorch's target gradient there is NaN, so only the input's).
    tz = torch.softmax(randn(3, 4), 1)
    tz[0, 1] = 0.0
    tz[2, 3] = 0.0
    add(f"kl_div/3x4_zero_target_{red}", F.kl_div, {"input": torch.log_softmax(randn(3, 4), 1), "target": tz},
        ["input"], {"reduction": red})
add("kl_div/2x3x2_batchmean", F.kl_div,
    {"input": torch.log_softmax(randn(2, 3, 2), 1), "target": torch.softmax(randn(2, 3, 2), 1)}, ["input", "target"],
    {"reduction": "batchmean"})

with open(OUT_PATH, "w") as f:
    f.write(f"# kiln loss fixtures, generated by tests/gen_loss_fixtures.py with torch {torch.__version__}; do not edit\n")
    f.write("# format: see tests/gen_loss_fixtures.py or tests/support/fixture.h\n")
    for name, tensors in cases:
        f.write(f"case {name}\n")
        for label, x in tensors:
            f.write(format_tensor(label, x) + "\n")
        f.write("end\n")
print(f"wrote {len(cases)} cases to {OUT_PATH}")
