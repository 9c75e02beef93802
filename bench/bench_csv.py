#!/usr/bin/python3
"""bench/bench_csv.py: kiln's data::read_csv against pandas.read_csv on one ~100 MB numeric CSV.

Writes the file first if it is missing (1,000,000 rows x 10 float columns, fixed seed, 6 decimals, a
header row), then times kiln (build/release/bench/kiln_bench_csv, one read per process) and pandas (in this
process) alternately, REPS rounds (default 3), the order alternating each round, and prints each time, the
medians in MB/s and kiln's speed over pandas'. Usage:
    bench/bench_csv.py [--file PATH] [--reps N] [--exe PATH]
Needs numpy and pandas (Debian's python3-pandas); run by hand or from `make bench`, never from tests.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def generate(path, rows=1_000_000, cols=10):
    rng = np.random.default_rng(20261127)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(",".join(f"f{j}" for j in range(cols)) + "\n")
        step = 100_000
        for start in range(0, rows, step):
            block = rng.normal(0.0, 100.0, size=(min(step, rows - start), cols))
            np.savetxt(f, block, fmt="%.6f", delimiter=",")
    os.replace(tmp, path)


def time_kiln(exe, path):
    out = subprocess.run([exe, path, "1"], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3])


def time_pandas(path):
    t0, c0 = time.perf_counter(), time.process_time()
    df = pd.read_csv(path)
    return time.perf_counter() - t0, time.process_time() - c0, df.shape[0], df.shape[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", default=os.path.join(ROOT, "build/release/bench-data/numeric_100mb.csv"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--exe", default=os.path.join(ROOT, "build/release/bench/kiln_bench_csv"))
    args = ap.parse_args()
    if not os.path.exists(args.exe):
        sys.exit(f"bench_csv: {args.exe} not found; build it first (cmake --build --preset release --target kiln_bench_csv)")
    if not os.path.exists(args.file):
        print(f"writing {args.file} ...", flush=True)
        generate(args.file)
    mb = os.path.getsize(args.file) / 1e6
    print(f"file: {args.file} ({mb:.1f} MB); pandas {pd.__version__}")
    kiln_s, pandas_s, kiln_cpu, pandas_cpu = [], [], [], []
    for r in range(args.reps):
        order = ["kiln", "pandas"] if r % 2 == 0 else ["pandas", "kiln"]
        for who in order:
            s, cpu, rows, cols = time_kiln(args.exe, args.file) if who == "kiln" else time_pandas(args.file)
            (kiln_s if who == "kiln" else pandas_s).append(s)
            (kiln_cpu if who == "kiln" else pandas_cpu).append(cpu)
            print(f"round {r + 1}: {who:6s} wall {s:7.3f} s {mb / s:7.1f} MB/s | cpu {cpu:7.3f} s {mb / cpu:7.1f} MB/s"
                  f"  ({rows} x {cols})", flush=True)
    for what, ks, ps in (("wall", kiln_s, pandas_s), ("cpu", kiln_cpu, pandas_cpu)):
        k, p = statistics.median(ks), statistics.median(ps)
        print(f"median of {args.reps} ({what} time): kiln {mb / k:.1f} MB/s ({k:.3f} s), pandas {mb / p:.1f} MB/s "
              f"({p:.3f} s), kiln/pandas speed ratio {p / k:.2f}")
    print("(cpu time is the fairer figure on a shared machine: both readers are single-threaded)")


if __name__ == "__main__":
    main()
