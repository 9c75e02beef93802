#!/usr/bin/python3
# bench/classic_vs_sklearn.py: the scikit-learn side of bench/classic_vs_sklearn.sh. Same data, split,
# preprocessing and models as bench/bench_classic.cpp (see its header), timed the same way:
#   classic_vs_sklearn.py --model rf|logreg --data breast_cancer|fashion [--threads 2]
#       prints RESULT sklearn <model> <data> <fit seconds> <predict seconds> <test accuracy>
#   classic_vs_sklearn.py --summarize <results file>
#       medians per (side, model, data) of the RESULT lines, as a Markdown table with kiln's speed-ups.
# Runs under /usr/bin/python3 (Debian's python3-sklearn 1.2.1). Thread counts for numpy's BLAS come from
# the environment the shell script sets (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS).
import argparse
import gzip
import os
import statistics
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_file(name):
    # The folder data::FashionMNIST::find_dir reads: $KILN_FASHION_MNIST_DIR, else the Debian package's.
    folder = os.environ.get("KILN_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.exists(candidate):
            return candidate
    sys.exit(f"classic_vs_sklearn.py: {name}(.gz) not found in {folder} (install dataset-fashion-mnist)")


def load(data):
    import numpy as np
    if data == "fashion":
        n = 10000
        X = read_idx(fashion_file("train-images-idx3-ubyte"))[:n].reshape(n, 784) / 255.0
        y = read_idx(fashion_file("train-labels-idx1-ubyte"))[:n].astype(np.int64)
        Xt = read_idx(fashion_file("t10k-images-idx3-ubyte")).reshape(-1, 784) / 255.0
        yt = read_idx(fashion_file("t10k-labels-idx1-ubyte")).astype(np.int64)
        return X, y, Xt, yt
    table = np.loadtxt(os.path.join(ROOT, "tests", "data", "breast_cancer.csv"), delimiter=",", skiprows=1)
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    test = np.arange(len(y)) % 4 == 0
    mean, sd = X[~test].mean(axis=0), X[~test].std(axis=0)
    X = (X - mean) / sd
    return X[~test], y[~test], X[test], y[test]


def run(model, data, threads):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    X, y, Xt, yt = load(data)
    if model == "rf":
        est = RandomForestClassifier(n_estimators=100, n_jobs=threads, random_state=0)
    else:
        est = LogisticRegression(C=1.0, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: kiln stops at the same limit
        t0 = time.perf_counter()
        est.fit(X, y)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = est.predict(Xt)
        predict_s = time.perf_counter() - t0
    print(f"RESULT sklearn {model} {data} {fit_s:.6f} {predict_s:.6f} {(pred == yt).mean():.6f}")


def summarize(path):
    rows = {}
    skipped = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts[:1] == ["SKIP"]:
                skipped.append(line.strip())
            if parts[:1] != ["RESULT"]:
                continue
            side, model, data = parts[1:4]
            rows.setdefault((model, data), {}).setdefault(side, []).append(tuple(map(float, parts[4:7])))
    names = {"rf": "RandomForestClassifier (100 trees)", "logreg": "LogisticRegression"}
    out = ["| model | data | fit kiln s | fit sklearn s | fit speed-up | predict kiln s | predict sklearn s "
           "| predict speed-up | accuracy kiln | accuracy sklearn |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (model, data), sides in rows.items():
        def med(side, k):
            vals = [r[k] for r in sides.get(side, [])]
            return statistics.median(vals) if vals else None
        def fmt(x, digits=3):
            return "n/a" if x is None else f"{x:.{digits}f}"
        kf, sf, kp, sp = med("kiln", 0), med("sklearn", 0), med("kiln", 1), med("sklearn", 1)
        ratio = lambda a, b: f"{b / a:.2f}x" if a and b else "n/a"
        out.append(f"| {names.get(model, model)} | {data} | {fmt(kf)} | {fmt(sf)} | {ratio(kf, sf)} | {fmt(kp, 4)} "
                   f"| {fmt(sp, 4)} | {ratio(kp, sp)} | {fmt(med('kiln', 2), 4)} | {fmt(med('sklearn', 2), 4)} |")
    out.append("")
    out.append("Speed-up = scikit-learn's median time / kiln's (above 1: kiln is faster). Medians of "
               f"{max(len(s.get('kiln', s.get('sklearn', []))) for s in rows.values()) if rows else 0} "
               "interleaved runs.")
    for s in sorted(set(skipped)):
        out.append(f"- {s}")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="rf", choices=["rf", "logreg"])
    ap.add_argument("--data", default="breast_cancer", choices=["breast_cancer", "fashion"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--summarize")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
    else:
        run(args.model, args.data, args.threads)


if __name__ == "__main__":
    main()
