#!/usr/bin/python3
# bench/train_torch.py: the PyTorch side of bench/bench_train.cpp — the same two models (the demo's MLP
# 784-512-256-10 and CNN conv32-conv64-fc128), batch size, optimizer (AdamW lr 1e-3), loss and random
# Fashion-MNIST-shaped data already in memory; prints samples/s (median of REPS timed blocks after warm-up)
# and peak RSS in the same format, so bench/train_compare.sh can put the two side by side.
# Usage: bench/train_torch.py mlp|cnn [--steps N] [--reps R] [--threads T] [--batch B] [--device cpu|cuda]
# With --device cuda the data sit on the GPU before timing, each timed block ends with
# torch.cuda.synchronize(), and the peak device memory (torch.cuda.max_memory_allocated) is printed with
# the part one training step adds to the resident model and data, as kiln_bench_train does.
# (Here Debian's python3-torch is visible only to /usr/bin/python3; on the GPU machine use its python3.)
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("model", choices=["mlp", "cnn"])
p.add_argument("--steps", type=int, default=None)
p.add_argument("--reps", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
a = p.parse_args()
if a.device == "cuda" and not torch.cuda.is_available():
    raise SystemExit("--device cuda: torch.cuda.is_available() is False")
dev = torch.device(a.device)
steps = a.steps or (50 if a.model == "mlp" else 10)
torch.set_num_threads(a.threads)
torch.manual_seed(1)

if a.model == "mlp":
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 256),
                          nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
else:
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
                          nn.Linear(128, 10))
model.train()
model.to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
xs = [torch.rand(a.batch, 1, 28, 28).to(dev) for _ in range(8)]
ys = [torch.randint(0, 10, (a.batch,)).to(dev) for _ in range(8)]


def sync():
    if a.device == "cuda":
        torch.cuda.synchronize()


resident = torch.cuda.memory_allocated() if a.device == "cuda" else 0


def step(i):
    opt.zero_grad()
    loss = loss_fn(model(xs[i % 8]), ys[i % 8])
    loss.backward()
    opt.step()


for i in range(max(3, steps // 5)):
    step(i)
sync()
rates = []
for r in range(a.reps):
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    rates.append(steps * a.batch / (time.perf_counter() - t0))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
where = "" if a.device == "cpu" else " cuda"
line = (f"torch {a.model}{where} batch {a.batch} threads {a.threads}: {statistics.median(rates):.0f} samples/s "
        f"(median of {a.reps} x {steps} steps; min {min(rates):.0f}, max {max(rates):.0f}), peak RSS {rss:.1f} MiB")
if a.device == "cuda":
    peak = torch.cuda.max_memory_allocated()
    line += f", peak device memory {peak / 2**20:.1f} MiB (step {(peak - resident) / 2**20:.1f} MiB)"
print(f"{line} (torch {torch.__version__})")
