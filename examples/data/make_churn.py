#!/usr/bin/env python3
# examples/data/make_churn.py: writes churn.csv, the synthetic customer table of examples/tabular.cpp and
# bench/tabular_vs_sklearn.sh (2,000 rows, fixed seed, so the file is reproducible byte for byte with
# NumPy's PCG64 stream). Columns: tenure_months (int, 4% missing), monthly_charges (float, 5% missing),
# support_calls (int), plan (basic / standard / premium, 3% missing), region (north / south / east / west),
# paperless (bool) and churned ("yes" for about 10% of the rows, "no" otherwise). The churn odds rise with
# support calls and charges, fall with tenure and differ by plan, with an interaction (new customers on the
# basic plan) that a linear model cannot fully represent.
# Usage: python3 examples/data/make_churn.py  (writes next to this script). Licence: public domain (CC0).
import os

import numpy as np

N, SEED = 2000, 17
rng = np.random.default_rng(SEED)
tenure = rng.integers(1, 73, N)
plan = rng.choice(["basic", "standard", "premium"], N, p=[0.5, 0.3, 0.2])
region = rng.choice(["north", "south", "east", "west"], N)
base = {"basic": 30.0, "standard": 60.0, "premium": 95.0}
charges = np.array([base[p] for p in plan]) + rng.normal(0, 8, N)
calls = rng.poisson(1.2, N)
paperless = rng.random(N) < 0.6
logit = (-2.2 + 0.55 * calls - 0.045 * tenure + 0.018 * (charges - 50)
         + np.where(plan == "premium", -0.6, 0.0) + np.where(region == "south", 0.4, 0.0)
         + np.where((plan == "basic") & (tenure < 12), 1.3, 0.0) + 0.3 * paperless)
churned = rng.random(N) < 1 / (1 + np.exp(-logit))

miss_tenure = rng.random(N) < 0.04
miss_charges = rng.random(N) < 0.05
miss_plan = rng.random(N) < 0.03
rows = ["tenure_months,monthly_charges,support_calls,plan,region,paperless,churned"]
for i in range(N):
    rows.append(",".join([
        "" if miss_tenure[i] else str(tenure[i]),
        "" if miss_charges[i] else f"{charges[i]:.2f}",
        str(calls[i]),
        "" if miss_plan[i] else plan[i],
        region[i],
        "true" if paperless[i] else "false",
        "yes" if churned[i] else "no",
    ]))
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "churn.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
print(f"churn.csv: {N} rows, churn rate {churned.mean():.3f}")
