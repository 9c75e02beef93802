#!/usr/bin/python3
# tests/gen_sklearn_trees.py: writes tests/fixtures/sklearn_trees.txt, scikit-learn 1.2.1's reference
# results for the tree models of classic/ (tree.h, forest.h, hist_gradient_boosting.h), which
# tests/test_classic_trees.cpp compares kiln against. Reads the same CSV files as the C++ tests
# (tests/data/*.csv, see tests/data/README).
#
# Run by hand, never by the test suite: `tests/gen_sklearn_trees.py` (Debian's python3-sklearn is visible
# only to /usr/bin/python3). Deterministic (fixed random_state everywhere); format as tests/support/fixture.h.
#
# Cases:
#   tree_iris_depth3, tree_diabetes_depth3   a whole fitted tree (tree_ arrays) and its predictions. Only
#       ties between equally good splits can make a tree differ; kiln tries features in column order and
#       keeps the first best, scikit-learn tries them in a random order. For iris the root split is such a
#       tie (petal length <= 2.45 and petal width <= 0.8 both isolate setosa): the random_state written
#       is one where scikit-learn picks the lower column too. Diabetes at depth 3 has no ties (the same
#       tree for 20 random_states).
#   folds_<data>          fold id (0..4) per row: StratifiedKFold(5, shuffle, random_state=0), KFold for
#                         diabetes; the C++ side cross-validates on the same folds.
#   cv_<model>_<data>     scikit-learn's 5-fold CV accuracy (R^2 for regressors) on those folds: `mean`
#                         for random_state=0 and `per_seed` for random_state 0..4 (the spread that
#                         randomness alone gives).
#   oob_<model>_<data>    oob_score_ (random_state 0..4) of a 100-tree forest with oob_score=True.
#   importances_<data>    feature_importances_ of RandomForestClassifier(500 trees, random_state=0).
#   shape_forest_integer_coded   mean leaves and mean depth per tree of RandomForestClassifier(30 trees) on
#       all of integer_coded (random_state 0..4). Integer codes leave many features constant inside a
#       node, which is where a forest that gives up on a node too early grows visibly smaller trees.
#
# It also writes tests/data/integer_coded.csv (see write_integer_coded): a survey-like table of small
# integer codes, drawn from a fixed seed, since the public survey data such codes come from cannot be
# shipped here.
import os

import numpy as np
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "fixtures", "sklearn_trees.txt")
SEEDS = range(5)


def load(name):
    path = os.path.join(HERE, "data", name + ".csv")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = data[:, :-1], data[:, -1]
    return X, (y if name == "diabetes" else y.astype(np.int64))


lines = []


def write_integer_coded(path, rows=2000, seed=2024):
    """Ten 5-point answers (0..4), five yes/no items, five categorical codes (0..7, some rare), and a
    class 0..2 that depends on a few of them through thresholds, an interaction and 15% label noise."""
    rng = np.random.default_rng(seed)
    likert = rng.integers(0, 5, size=(rows, 10))
    binary = (rng.random((rows, 5)) < [0.5, 0.3, 0.1, 0.7, 0.05]).astype(np.int64)
    categorical = np.stack([rng.choice(8, size=rows, p=[0.4, 0.2, 0.15, 0.1, 0.07, 0.05, 0.02, 0.01])
                            for _ in range(5)], axis=1)
    score = likert[:, 0] + likert[:, 1] - likert[:, 2] + 2 * binary[:, 0] * (categorical[:, 0] >= 2)
    y = np.digitize(score, [1, 4]).astype(np.int64)
    noisy = rng.random(rows) < 0.15
    y[noisy] = rng.integers(0, 3, size=noisy.sum())
    X = np.concatenate([likert, binary, categorical], axis=1)
    names = [f"q{i}" for i in range(10)] + [f"yes{i}" for i in range(5)] + [f"code{i}" for i in range(5)]
    with open(path, "w") as f:
        f.write(",".join(names + ["target"]) + "\n")
        for row, label in zip(X, y):
            f.write(",".join(str(v) for v in row) + f",{label}\n")


write_integer_coded(os.path.join(HERE, "data", "integer_coded.csv"))


def tensor(label, values, dtype="f64"):
    a = np.asarray(values)
    shape = " ".join(str(s) for s in a.shape)
    if dtype == "f64":
        vals = " ".join("%.17g" % v for v in a.astype(np.float64).ravel())
    else:
        vals = " ".join(str(int(v)) for v in a.ravel())
    lines.append(f"tensor {label} {dtype} {a.ndim} {shape} {vals}".replace("  ", " "))


def case(name, tensors):
    lines.append(f"case {name}")
    for t in tensors:
        tensor(*t)
    lines.append("end")


def tree_case(name, model, X, y):
    t = model.fit(X, y).tree_
    value = t.value[:, 0, :]
    if hasattr(model, "classes_"):
        value = value / value.sum(axis=1, keepdims=True)
    case(name, [("children_left", t.children_left, "i64"), ("children_right", t.children_right, "i64"),
                ("feature", t.feature, "i64"), ("threshold", t.threshold), ("impurity", t.impurity),
                ("n_node_samples", t.n_node_samples, "i64"), ("weighted_n", t.weighted_n_node_samples),
                ("value", value), ("predict", model.predict(X), "f64" if name.endswith("diabetes_depth3") else "i64"),
                ("importances", model.feature_importances_)])


# ---- single trees ----
Xi, yi = load("iris")
state = next(rs for rs in range(100)
             if DecisionTreeClassifier(max_depth=3, random_state=rs).fit(Xi, yi).tree_.feature[0] == 2)
tree_case("tree_iris_depth3", DecisionTreeClassifier(max_depth=3, random_state=state), Xi, yi)
Xd, yd = load("diabetes")
shapes = {tuple(DecisionTreeRegressor(max_depth=3, random_state=rs).fit(Xd, yd).tree_.feature) for rs in range(20)}
assert len(shapes) == 1, "diabetes depth 3 has ties"
tree_case("tree_diabetes_depth3", DecisionTreeRegressor(max_depth=3, random_state=0), Xd, yd)

# ---- cross-validation of the randomized models ----
CLASSIFIERS = {
    "tree": lambda rs: DecisionTreeClassifier(random_state=rs),
    "forest": lambda rs: RandomForestClassifier(n_estimators=100, random_state=rs),
    "hgb": lambda rs: HistGradientBoostingClassifier(random_state=rs),
}
REGRESSORS = {
    "tree": lambda rs: DecisionTreeRegressor(random_state=rs),
    "forest": lambda rs: RandomForestRegressor(n_estimators=100, random_state=rs),
    "hgb": lambda rs: HistGradientBoostingRegressor(random_state=rs),
}
for data in ["iris", "wine", "breast_cancer", "digits", "diabetes", "integer_coded"]:
    X, y = load(data)
    regression = data == "diabetes"
    splitter = (KFold(5, shuffle=True, random_state=0) if regression
                else StratifiedKFold(5, shuffle=True, random_state=0))
    folds = np.zeros(len(y), dtype=np.int64)
    for k, (_, test) in enumerate(splitter.split(X, y)):
        folds[test] = k
    case(f"folds_{data}", [("fold", folds, "i64")])
    models = REGRESSORS if regression else CLASSIFIERS
    if data == "integer_coded":
        models = {"forest": models["forest"]}
    for model_name, make in models.items():
        per_seed = [cross_val_score(make(rs), X, y, cv=splitter).mean() for rs in SEEDS]
        case(f"cv_{model_name}_{data}", [("mean", per_seed[0]), ("per_seed", per_seed)])

# ---- out-of-bag scores and importances ----
for data in ["wine", "breast_cancer", "diabetes"]:
    X, y = load(data)
    Forest = RandomForestRegressor if data == "diabetes" else RandomForestClassifier
    oob = [Forest(n_estimators=100, oob_score=True, random_state=rs).fit(X, y).oob_score_ for rs in SEEDS]
    case(f"oob_forest_{data}", [("per_seed", oob)])
for data in ["wine", "breast_cancer"]:
    X, y = load(data)
    rf = RandomForestClassifier(n_estimators=500, random_state=0).fit(X, y)
    case(f"importances_{data}", [("importances", rf.feature_importances_)])

# ---- tree shapes on integer codes ----
X, y = load("integer_coded")
leaves, depths = [], []
for rs in SEEDS:
    rf = RandomForestClassifier(n_estimators=30, random_state=rs).fit(X, y)
    leaves.append(np.mean([t.get_n_leaves() for t in rf.estimators_]))
    depths.append(np.mean([t.get_depth() for t in rf.estimators_]))
case("shape_forest_integer_coded", [("mean_leaves", leaves), ("mean_depth", depths)])

with open(OUT_PATH, "w") as f:
    f.write("# scikit-learn 1.2.1 reference results for classic/ trees, forests and gradient boosting.\n")
    f.write("# Written by tests/gen_sklearn_trees.py (run by hand); read by tests/test_classic_trees.cpp.\n")
    f.write("\n".join(lines) + "\n")
print(f"wrote {OUT_PATH}")
