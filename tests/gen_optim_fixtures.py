#!/usr/bin/python3
# tests/gen_optim_fixtures.py: writes tests/fixtures/torch_optim.txt (optimizer trajectories, gradient
# clipping) and tests/fixtures/torch_sched.txt (LR scheduler curves), frozen PyTorch 1.13 references that
# tests/test_optim_torch.cpp and tests/test_schedulers_torch.cpp compare kiln against.
#
# Run by hand, never by the test suite: `tests/gen_optim_fixtures.py` (Debian's python3-torch is visible only
# to /usr/bin/python3). Deterministic: rerunning it on the same torch reproduces both files byte for byte.
# Format: tests/support/fixture.h (case / tensor / end lines, f64 in %.17g).
#
# torch_optim.txt
#   case model          x f64 [8, 3], y i64 [8], w1 [4, 3], b1 [4], w2 [2, 4], b2 [2]: a 3-4-2 tanh MLP and
#                       its fixed batch; loss = -mean(log_softmax(linear(tanh(linear(x, w1, b1)), w2, b2))[y])
#   case <optimizer>    loss [20]: the loss before each step; params [20, 26]: w1, b1, w2, b2 flattened and
#                       concatenated after each of 20 steps (zero_grad, loss, backward, step). The optimizer
#                       configuration belongs to the case name; tests/test_optim_torch.cpp builds the same one.
#                       Cases ending in _f32 run the model in float32 (loss too); the others in float64.
#   case clip_*         g0 [3, 4], g1 [5] (gradients), max_norm / norm_type or clip_value (0-d), total_norm
#                       (0-d, clip_grad_norm_ only), out0, out1 (the gradients after clipping).
# torch_sched.txt
#   case <scheduler>    lr [101, G]: get_last_lr() after construction and after each of 100 steps;
#                       momentum [101, G] where OneCycleLR cycles it; metric [100] for ReduceLROnPlateau
#                       (the value passed to step k), whose lr is then [101, G] as well.
# Every optimizer is built with foreach=False (PyTorch 1.13's default on CPU) and the default dtype is set to
# float64, so state scalars such as NAdam's mu_product are kept in float64 as kiln keeps them.
import math
import warnings
import os

import torch
import torch.nn.functional as F
from torch import optim
from torch.optim import lr_scheduler as sched

F64 = torch.float64
torch.set_default_dtype(F64)
warnings.filterwarnings("ignore", category=UserWarning)  # SequentialLR calls the deprecated step(epoch)
torch.manual_seed(20261127)

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 20


def fmt_tensor(label, x):
    x = x.detach()
    if x.dtype in (torch.float64, torch.float32):
        dtype, values = "f64", ["%.17g" % v for v in x.to(F64).reshape(-1).tolist()]
    elif x.dtype == torch.int64:
        dtype, values = "i64", [str(v) for v in x.reshape(-1).tolist()]
    else:
        raise TypeError(f"{label}: unsupported dtype {x.dtype}")
    return " ".join(["tensor", label, dtype, str(x.dim())] + [str(d) for d in x.shape] + values)


def write(path, header, cases):
    names = [n for n, _ in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(path, "w") as f:
        f.write(header)
        for name, tensors in cases:
            f.write(f"case {name}\n")
            for label, t in tensors:
                f.write(fmt_tensor(label, t) + "\n")
            f.write("end\n")


# ---------------------------------------------------------------- optimizers
X = torch.randn(8, 3)
Y = torch.randint(0, 2, (8,))
W1, B1 = torch.randn(4, 3) * 0.8, torch.randn(4) * 0.3
W2, B2 = torch.randn(2, 4) * 0.8, torch.randn(2) * 0.3


def loss_of(params, x):
    w1, b1, w2, b2 = params
    logits = F.linear(torch.tanh(F.linear(x, w1, b1)), w2, b2)
    return -torch.log_softmax(logits, 1).gather(1, Y.unsqueeze(1)).mean()


def run(make_opt, dtype=F64, frozen=()):
    params = [t.clone().to(dtype).requires_grad_(i not in frozen) for i, t in enumerate((W1, B1, W2, B2))]
    x = X.to(dtype)
    opt = make_opt(params)
    losses, traj = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_of(params, x)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        traj.append(torch.cat([p.detach().reshape(-1) for p in params]))
    return [("loss", torch.tensor(losses)), ("params", torch.stack(traj))]


def groups(p, second):  # [w1, b1] with the defaults, [w2, b2] with the overrides in `second`
    return [{"params": p[:2]}, dict(params=p[2:], **second)]


NF = dict(foreach=False)
OPTIMIZERS = [
    ("sgd_plain", lambda p: optim.SGD(p, lr=0.1, **NF), {}),
    ("sgd_momentum_dampening_wd", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1,
                                                      weight_decay=1e-2, **NF), {}),
    ("sgd_nesterov", lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3, **NF), {}),
    ("sgd_maximize_frozen", lambda p: optim.SGD(p, lr=0.02, momentum=0.5, maximize=True, **NF),
     {"frozen": (1,)}),
    ("sgd_two_groups", lambda p: optim.SGD(groups(p, {"lr": 0.01, "momentum": 0.5}), lr=0.1, momentum=0.9,
                                           **NF), {}),
    ("adam_default", lambda p: optim.Adam(p, lr=1e-2, **NF), {}),
    ("adam_amsgrad_wd", lambda p: optim.Adam(p, lr=2e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                             amsgrad=True, **NF), {}),
    ("adam_maximize_wd", lambda p: optim.Adam(p, lr=1e-2, weight_decay=0.05, maximize=True, **NF), {}),
    ("adamw_default", lambda p: optim.AdamW(p, lr=1e-2, **NF), {}),
    ("adamw_amsgrad", lambda p: optim.AdamW(p, lr=3e-2, betas=(0.85, 0.95), weight_decay=0.1, amsgrad=True,
                                            **NF), {}),
    ("adamw_two_groups", lambda p: optim.AdamW(groups(p, {"lr": 5e-2, "weight_decay": 0.2}), lr=1e-2, **NF), {}),
    ("rmsprop_default", lambda p: optim.RMSprop(p, lr=1e-2, **NF), {}),
    ("rmsprop_centered_momentum", lambda p: optim.RMSprop(p, lr=5e-3, alpha=0.9, eps=1e-6, weight_decay=1e-2,
                                                          momentum=0.7, centered=True, **NF), {}),
    ("rmsprop_momentum_maximize", lambda p: optim.RMSprop(p, lr=1e-3, momentum=0.9, maximize=True, **NF), {}),
    ("adagrad_default", lambda p: optim.Adagrad(p, lr=0.1, **NF), {}),
    ("adagrad_options", lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=1e-2,
                                                initial_accumulator_value=0.1, eps=1e-8, maximize=True, **NF), {}),
    ("nadam_default", lambda p: optim.NAdam(p, lr=1e-2, **NF), {}),
    ("nadam_options", lambda p: optim.NAdam(p, lr=2e-2, betas=(0.85, 0.99), eps=1e-7, weight_decay=1e-2,
                                            momentum_decay=5e-3, **NF), {}),
    ("radam_default", lambda p: optim.RAdam(p, lr=1e-2, **NF), {}),
    ("radam_options", lambda p: optim.RAdam(p, lr=2e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, **NF), {}),
    ("adamw_f32", lambda p: optim.AdamW(p, lr=1e-2, **NF), {"dtype": torch.float32}),
    ("sgd_nesterov_f32", lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, **NF),
     {"dtype": torch.float32}),
    ("adamax_default", lambda p: optim.Adamax(p, lr=1e-2, **NF), {}),
    ("adamax_options", lambda p: optim.Adamax(p, lr=2e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, **NF),
     {}),
    ("adamax_maximize_two_groups", lambda p: optim.Adamax(groups(p, {"lr": 5e-3, "weight_decay": 0.2}), lr=1e-2,
                                                          maximize=True, **NF), {}),
    ("adamax_f32", lambda p: optim.Adamax(p, lr=1e-2, **NF), {"dtype": torch.float32}),
]


# ---------------------------------------------------------------- clipping
def clip_cases():
    g0, g1 = torch.randn(3, 4) * 2, torch.randn(5)
    cases = []
    for name, max_norm, norm_type in [("clip_norm_2", 1.0, 2.0), ("clip_norm_1", 2.0, 1.0),
                                      ("clip_norm_inf", 0.5, math.inf), ("clip_norm_3", 0.7, 3.0),
                                      ("clip_norm_no_clip", 100.0, 2.0)]:
        ps = [torch.zeros_like(g0, requires_grad=True), torch.zeros_like(g1, requires_grad=True)]
        ps[0].grad, ps[1].grad = g0.clone(), g1.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        cases.append((name, [("g0", g0), ("g1", g1), ("max_norm", torch.tensor(max_norm)),
                             ("norm_type", torch.tensor(norm_type)), ("total_norm", total),
                             ("out0", ps[0].grad), ("out1", ps[1].grad)]))
    g_inf = g1.clone()
    g_inf[2] = math.inf
    ps = [torch.zeros_like(g0, requires_grad=True), torch.zeros_like(g1, requires_grad=True)]
    ps[0].grad, ps[1].grad = g0.clone(), g_inf.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, 1.0, 2.0)
    cases.append(("clip_norm_nonfinite", [("g0", g0), ("g1", g_inf), ("max_norm", torch.tensor(1.0)),
                                          ("norm_type", torch.tensor(2.0)), ("total_norm", total),
                                          ("out0", ps[0].grad), ("out1", ps[1].grad)]))
    ps = [torch.zeros_like(g0, requires_grad=True), torch.zeros_like(g1, requires_grad=True)]
    ps[0].grad, ps[1].grad = g0.clone(), g1.clone()
    torch.nn.utils.clip_grad_value_(ps, 0.3)
    cases.append(("clip_value", [("g0", g0), ("g1", g1), ("clip_value", torch.tensor(0.3)),
                                 ("out0", ps[0].grad), ("out1", ps[1].grad)]))
    return cases


def optim_cases():
    cases = [("model", [("x", X), ("y", Y), ("w1", W1), ("b1", B1), ("w2", W2), ("b2", B2)])]
    for name, make, extra in OPTIMIZERS:
        cases.append((name, run(make, **extra)))
    return cases + clip_cases()


# ---------------------------------------------------------------- schedulers
def sgd(lrs, momentum=0.0):
    params = [torch.zeros(2, requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0], momentum=momentum)


def adam(lrs):
    params = [torch.zeros(2, requires_grad=True) for _ in lrs]
    return optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])


def curve(opt, scheduler, momentum_key=None):
    lrs, moms = [scheduler.get_last_lr()], []
    mom = lambda: [g["betas"][0] if momentum_key == "betas" else g[momentum_key] for g in opt.param_groups]
    if momentum_key:
        moms.append(mom())
    for _ in range(100):
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        if momentum_key:
            moms.append(mom())
    out = [("lr", torch.tensor(lrs))]
    if momentum_key:
        out.append(("momentum", torch.tensor(moms)))
    return out


def plateau(opt, scheduler, metric):
    lrs = [[g["lr"] for g in opt.param_groups]]
    for m in metric.tolist():
        scheduler.step(m)
        lrs.append(scheduler._last_lr)
    return [("metric", metric), ("lr", torch.tensor(lrs))]


def sched_cases():
    cases = []

    def add(name, make, momentum_key=None):
        opt, s = make()
        cases.append((name, curve(opt, s, momentum_key)))

    def with_opt(opt, make_sched):
        return opt, make_sched(opt)

    add("step_lr", lambda: with_opt(sgd([0.1]), lambda o: sched.StepLR(o, step_size=7, gamma=0.5)))
    add("multistep_lr", lambda: with_opt(sgd([0.1, 0.02]),
                                         lambda o: sched.MultiStepLR(o, milestones=[10, 25, 25, 60], gamma=0.3)))
    add("exponential_lr", lambda: with_opt(sgd([0.1]), lambda o: sched.ExponentialLR(o, gamma=0.97)))
    add("cosine_lr", lambda: with_opt(sgd([0.1, 0.05]), lambda o: sched.CosineAnnealingLR(o, T_max=30,
                                                                                           eta_min=0.001)))
    add("cosine_lr_full", lambda: with_opt(sgd([0.1]), lambda o: sched.CosineAnnealingLR(o, T_max=100)))
    add("cosine_warm_restarts", lambda: with_opt(sgd([0.1, 0.05]), lambda o: sched.CosineAnnealingWarmRestarts(
        o, T_0=10, T_mult=2, eta_min=1e-4)))
    add("cosine_warm_restarts_mult1", lambda: with_opt(sgd([0.1]),
                                                       lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=7)))
    add("linear_lr_warmup", lambda: with_opt(sgd([0.1]), lambda o: sched.LinearLR(o, start_factor=0.1,
                                                                                  total_iters=10)))
    add("linear_lr_decay", lambda: with_opt(sgd([0.1, 0.3]), lambda o: sched.LinearLR(
        o, start_factor=1.0, end_factor=0.2, total_iters=30)))
    add("lambda_lr", lambda: with_opt(sgd([0.1]), lambda o: sched.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.1 * e))))
    add("lambda_lr_per_group", lambda: with_opt(sgd([0.1, 0.2]), lambda o: sched.LambdaLR(
        o, [lambda e: 0.9 ** e, lambda e: 1.0 / (e + 1)])))
    add("one_cycle_cos_sgd", lambda: with_opt(sgd([0.1], momentum=0.9), lambda o: sched.OneCycleLR(
        o, max_lr=0.5, total_steps=100)), "momentum")
    add("one_cycle_linear_three_phase_adam", lambda: with_opt(adam([0.1, 0.1]), lambda o: sched.OneCycleLR(
        o, max_lr=[0.01, 0.02], total_steps=100, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
        final_div_factor=100.0, three_phase=True, base_momentum=0.8, max_momentum=0.9)), "betas")
    add("one_cycle_no_momentum", lambda: with_opt(sgd([0.1]), lambda o: sched.OneCycleLR(
        o, max_lr=1.0, epochs=10, steps_per_epoch=11, pct_start=0.4, cycle_momentum=False)))

    def sequential_warmup_cosine():
        o = sgd([0.1, 0.05])
        warm = sched.LinearLR(o, start_factor=0.1, total_iters=5)
        cos = sched.CosineAnnealingLR(o, T_max=95)
        return o, sched.SequentialLR(o, [warm, cos], milestones=[5])

    def sequential_three():
        o = sgd([0.1])
        a = sched.LinearLR(o, start_factor=0.5, total_iters=4)
        b = sched.StepLR(o, step_size=6, gamma=0.5)
        c = sched.ExponentialLR(o, gamma=0.95)
        return o, sched.SequentialLR(o, [a, b, c], milestones=[10, 40])

    add("sequential_warmup_cosine", sequential_warmup_cosine)
    add("sequential_three", sequential_three)

    t = torch.arange(100, dtype=F64)
    falling = 1.0 / (1.0 + t / 10.0) + 0.05 * torch.sin(t * 1.3)
    rising = torch.tanh(t / 30.0) + 0.03 * torch.cos(t * 0.7)
    o = sgd([0.1, 0.05])
    cases.append(("plateau_min_rel", plateau(o, sched.ReduceLROnPlateau(
        o, mode="min", factor=0.5, patience=3, threshold=1e-2, cooldown=2, min_lr=1e-3), falling)))
    o = sgd([0.1, 0.05])
    cases.append(("plateau_max_abs", plateau(o, sched.ReduceLROnPlateau(
        o, mode="max", factor=0.3, patience=2, threshold=0.05, threshold_mode="abs", min_lr=[0.01, 0.002],
        eps=1e-3), rising)))
    o = sgd([0.1])
    cases.append(("plateau_defaults", plateau(o, sched.ReduceLROnPlateau(o), falling)))
    return cases


if __name__ == "__main__":
    head = "# Frozen PyTorch %s references written by tests/gen_optim_fixtures.py; format in tests/support/fixture.h.\n"
    write(os.path.join(HERE, "fixtures", "torch_optim.txt"), head % torch.__version__, optim_cases())
    write(os.path.join(HERE, "fixtures", "torch_sched.txt"), head % torch.__version__, sched_cases())
