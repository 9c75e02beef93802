#!/usr/bin/python3
# tests/gen_sklearn_preprocessing.py: writes tests/fixtures/sklearn_preprocessing.txt, scikit-learn's
# outputs of the classic/preprocessing*.h transformers, which tests/test_classic_preprocessing.cpp compares
# kiln against (1e-12 relative).
#
# Run by hand, never by the test suite: `tests/gen_sklearn_preprocessing.py` (Debian's python3-sklearn
# 1.2.1 is visible only to /usr/bin/python3). Deterministic: rerunning it reproduces the file byte for byte.
#
# Data: scikit-learn's bundled copies of public data sets (wine, iris, diabetes; UCI Machine Learning
# Repository / Efron et al. 2004, see tests/data/README), some entries replaced by NaN, and integer-coded
# categorical columns derived from them. Each case fits on X_train and transforms X_test (and X_train).
#
# Format: tests/support/fixture.h. Every case holds X_train, X_test, and out_train / out_test; the case
# name selects the transformer and its parameters on the C++ side, and fitted attributes are stored
# under their scikit-learn names (mean_, var_, scale_, ...).
import os
import warnings

import numpy as np
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (MinMaxScaler, OneHotEncoder, OrdinalEncoder, PolynomialFeatures,
                                   RobustScaler, StandardScaler)

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sklearn_preprocessing.txt")
lines = []


def tensor(label, x):
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        vals = ["%d" % v for v in x.astype(np.int64).reshape(-1).tolist()]
        dtype = "i64"
    else:
        # repr: the shortest text that round-trips exactly (the data sets' inputs stay short).
        vals = [repr(v) for v in x.astype(np.float64).reshape(-1).tolist()]
        dtype = "f64"
    lines.append(" ".join(["tensor", label, dtype, str(x.ndim)] + [str(d) for d in x.shape] + vals))


def case(name, est, X_train, X_test, attrs=()):
    lines.append("case " + name)
    tensor("X_train", X_train)
    tensor("X_test", X_test)
    tensor("out_train", est.fit_transform(X_train))
    tensor("out_test", est.transform(X_test))
    for a in attrs:
        tensor(a, getattr(est, a))
    lines.append("end")


rng = np.random.RandomState(0)
wine = datasets.load_wine().data[:, :8]
idx = rng.permutation(len(wine))
w_train, w_test = wine[idx[:50]], wine[idx[50:65]]
# A copy with about 8% of the entries missing, and column 5 of the training rows all missing.
w_nan_train, w_nan_test = w_train.copy(), w_test.copy()
w_nan_train[rng.uniform(size=w_train.shape) < 0.08] = np.nan
w_nan_test[rng.uniform(size=w_test.shape) < 0.08] = np.nan

case("standard", StandardScaler(), w_train, w_test, ["mean_", "var_", "scale_"])
case("standard_nan", StandardScaler(), w_nan_train, w_nan_test, ["mean_", "var_", "scale_"])
case("standard_no_mean", StandardScaler(with_mean=False), w_train, w_test, ["scale_"])
case("standard_no_std", StandardScaler(with_std=False), w_train, w_test, ["mean_"])
const = w_train[:, :4].copy()
const[:, 1] = 7.25  # a constant feature is scaled by 1
case("standard_constant", StandardScaler(), const, w_test[:, :4], ["mean_", "var_", "scale_"])
case("minmax", MinMaxScaler(), w_train, w_test, ["data_min_", "data_max_", "scale_", "min_"])
case("minmax_range_clip", MinMaxScaler(feature_range=(-1, 2), clip=True), w_train, w_test * 1.1,
     ["scale_", "min_"])
case("minmax_nan", MinMaxScaler(), w_nan_train, w_nan_test, ["data_min_", "data_max_"])
case("minmax_constant", MinMaxScaler(), const, w_test[:, :4], ["scale_", "min_"])
case("robust", RobustScaler(), w_train, w_test, ["center_", "scale_"])
case("robust_10_90", RobustScaler(quantile_range=(10, 90)), w_train, w_test, ["center_", "scale_"])
case("robust_nan", RobustScaler(), w_nan_train, w_nan_test, ["center_", "scale_"])
case("robust_no_center", RobustScaler(with_centering=False), w_train, w_test, ["scale_"])

w_imp_train = w_nan_train.copy()
w_imp_train[:, 5] = np.nan  # an all-missing feature: dropped unless keep_empty_features
for strategy in ("mean", "median", "most_frequent", "constant"):
    kw = {"fill_value": -1.5} if strategy == "constant" else {}
    case("impute_" + strategy, SimpleImputer(strategy=strategy, **kw), w_imp_train, w_nan_test, ["statistics_"])
case("impute_mean_keep_empty", SimpleImputer(strategy="mean", keep_empty_features=True), w_imp_train, w_nan_test,
     [])
# Rounded values: most_frequent has ties (the smallest wins).
rounded = np.round(w_nan_train[:, :6])
case("impute_most_frequent_ties", SimpleImputer(strategy="most_frequent"), rounded, np.round(w_nan_test[:, :6]),
     ["statistics_"])

diab = datasets.load_diabetes().data
d_train, d_test = diab[:15, :3], diab[15:22, :3]
case("poly_2", PolynomialFeatures(2), d_train, d_test, ["powers_"])
case("poly_3_no_bias", PolynomialFeatures(3, include_bias=False), d_train, d_test, ["powers_"])
case("poly_3_interaction", PolynomialFeatures(3, interaction_only=True), d_train, d_test, ["powers_"])
case("poly_0", PolynomialFeatures(0), d_train, d_test, ["powers_"])

# Categorical codes: iris features binned into integers, a column of label-like codes with gaps, NaN.
iris = datasets.load_iris().data
cat = np.stack([np.floor(iris[:, 0]), np.floor(iris[:, 1] * 2), np.floor(iris[:, 2]),
                np.where(iris[:, 3] > 1.0, 10.0, -4.0)], axis=1)
idx = rng.permutation(150)
c_train, c_test = cat[idx[:100]], cat[idx[100:130]]
c_nan_train = c_train.copy()
c_nan_train[rng.uniform(size=c_train.shape) < 0.1] = np.nan
c_nan_test = c_test.copy()
c_nan_test[rng.uniform(size=c_test.shape) < 0.1] = np.nan
# Test rows with categories never seen in training.
c_unknown = c_test.copy()
c_unknown[::4, 0] = 99.0
c_unknown[1::5, 2] = -7.0

case("onehot", OneHotEncoder(sparse_output=False), c_train, c_test)
case("onehot_nan", OneHotEncoder(sparse_output=False), c_nan_train, c_nan_test)
case("onehot_ignore", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), c_train, c_unknown)
case("onehot_drop_first", OneHotEncoder(sparse_output=False, drop="first"), c_train, c_test)
case("onehot_drop_if_binary", OneHotEncoder(sparse_output=False, drop="if_binary"), c_train, c_test)
case("ordinal", OrdinalEncoder(), c_train, c_test)
case("ordinal_nan", OrdinalEncoder(), c_nan_train, c_nan_test)
case("ordinal_unknown", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), c_train, c_unknown)
case("ordinal_missing_code", OrdinalEncoder(encoded_missing_value=-2), c_nan_train, c_nan_test)

# A mixed table as data::Table exports it: numeric columns 0, 2, 4 and categorical codes in 1, 3, with NaN.
mixed_train = np.column_stack([w_nan_train[:, 0], c_nan_train[:50, 0], w_nan_train[:, 1], c_nan_train[:50, 3],
                               w_nan_train[:, 2]])
mixed_test = np.column_stack([w_nan_test[:, 0], c_unknown[:15, 0], w_nan_test[:, 1], c_nan_test[:15, 3],
                              w_nan_test[:, 2]])
for remainder in ("drop", "passthrough"):
    ct = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), [0, 2]),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), [1, 3]),
    ], remainder=remainder)
    case("column_transformer_" + remainder, ct, mixed_train, mixed_test)

with open(OUT, "w") as fh:
    fh.write("# Written by tests/gen_sklearn_preprocessing.py with scikit-learn 1.2.1; do not edit.\n")
    fh.write("\n".join(lines) + "\n")
print("wrote", OUT, os.path.getsize(OUT), "bytes")
