#!/usr/bin/python3
# tests/data/export_sklearn_datasets.py: writes the five real data sets the classic/ tests use as small CSV
# files beside this script, from the copies installed with scikit-learn (Debian python3-sklearn 1.2.1).
# Run by hand; the output is committed. Each file: a header line (feature names, then "target"), then one
# row per sample with the features and the target. Values are written with Python's repr, which round-trips
# the float64 values scikit-learn's loaders return exactly (short decimals stay short).
import os

from sklearn import datasets

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt(v, integer):
    return str(int(v)) if integer else repr(float(v))


def write(name, bunch, integer_target, integer_features=False):
    X, y = bunch.data, bunch.target
    names = [str(n).replace(" (cm)", "_cm").replace(" ", "_") for n in bunch.feature_names]
    with open(os.path.join(HERE, name + ".csv"), "w") as f:
        f.write(",".join(names + ["target"]) + "\n")
        for row, t in zip(X, y):
            f.write(",".join([fmt(v, integer_features) for v in row] + [fmt(t, integer_target)]) + "\n")


write("iris", datasets.load_iris(), True)
write("wine", datasets.load_wine(), True)
write("breast_cancer", datasets.load_breast_cancer(), True)
write("digits", datasets.load_digits(), True, integer_features=True)
# scikit-learn's default form: each feature mean-centred and scaled to unit L2 norm; target a float.
write("diabetes", datasets.load_diabetes(), False)
