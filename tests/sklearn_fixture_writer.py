# tests/sklearn_fixture_writer.py: shared by the tests/gen_sklearn_*.py generators: reads the
# CSV data sets in tests/data/ and writes cases in the format of tests/support/fixture.h.
import os

import numpy as np

TESTS = os.path.dirname(os.path.abspath(__file__))


def load(name):
    """(X, y) from tests/data/<name>.csv exactly as the C++ loader reads it."""
    path = os.path.join(TESTS, "data", name + ".csv")
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = raw[:, :-1], raw[:, -1]
    return X, (y if name == "diabetes" else y.astype(np.int64))


def standardize(X):
    """(X - mean) / std with the population std, as the C++ tests compute it."""
    return (X - X.mean(axis=0)) / X.std(axis=0)


def split_every_4th(n):
    """Deterministic held-out rows: test = rows i % 4 == 0, train = the rest."""
    idx = np.arange(n)
    return idx[idx % 4 != 0], idx[idx % 4 == 0]


class Writer:
    def __init__(self, header):
        self.lines = ["# " + line for line in header.strip().splitlines()]

    def case(self, name, **tensors):
        self.lines.append("case " + name)
        for label, value in tensors.items():
            x = np.asarray(value)
            if x.dtype == np.bool_:
                dtype, vals = "bool", [str(int(v)) for v in x.reshape(-1)]
            elif np.issubdtype(x.dtype, np.integer):
                dtype, vals = "i64", [str(int(v)) for v in x.reshape(-1)]
            else:
                dtype, vals = "f64", ["%.17g" % v for v in x.astype(np.float64).reshape(-1)]
            dims = [str(d) for d in x.shape]
            self.lines.append(" ".join(["tensor", label, dtype, str(x.ndim)] + dims + vals))
        self.lines.append("end")

    def save(self, filename):
        path = os.path.join(TESTS, "fixtures", filename)
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write("\n".join(self.lines) + "\n")
        print("wrote", path, os.path.getsize(path), "bytes")
