#!/usr/bin/python3
# tests/gen_sklearn_metrics.py: writes tests/fixtures/sklearn_metrics.txt, scikit-learn's values of every
# classic/metrics.h function on fixed predictions, which tests/test_classic_metrics.cpp compares kiln
# against (to 1e-9; the text of classification_report exactly).
#
# Run by hand, never by the test suite: `tests/gen_sklearn_metrics.py` (Debian's python3-sklearn 1.2.1 is
# visible only to /usr/bin/python3). Deterministic: rerunning it reproduces the file byte for byte.
#
# Data: fixed predictions on scikit-learn's bundled copies of public data sets (breast cancer, iris, wine,
# diabetes: UCI Machine Learning Repository / Efron et al. 2004; see tests/data/README), made by simple
# scikit-learn models, plus small hand-written edge cases (one class absent, all predictions one class,
# tied scores, sample weights).
#
# Format: tests/support/fixture.h. Case name prefixes select what the C++ side computes:
#   clf_*    in: y_true, y_pred (i64) [, sw]; out: accuracy, balanced accuracy, precision/recall/F1/F2
#            per average and zero_division, per-class values, confusion matrices, report text
#   bin_*    in: y_true (i64), y_score (f64) [, sw]; out: roc_curve (both drop_intermediate), roc_auc,
#            precision_recall_curve, average precision, log_loss (when scores are probabilities)
#   multi_*  in: y_true, y_prob (N, K) [, sw]; out: roc_auc ovr macro/weighted, log_loss
#   reg_*    in: y_true, y_pred (N) or (N, M) [, sw]; out: mse, rmse, mae, r2, explained variance
# Text (classification_report) is stored as an i64 tensor of character codes.
import os
import warnings

import numpy as np
from sklearn import datasets, metrics
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sklearn_metrics.txt")
lines = []


def tensor(label, x, dtype=None):
    x = np.asarray(x)
    if dtype is None:
        dtype = "i64" if x.dtype.kind in "iub" else "f64"
    if dtype == "f64":
        vals = ["%.17g" % v for v in x.astype(np.float64).reshape(-1).tolist()]
    else:
        vals = ["%d" % v for v in x.astype(np.int64).reshape(-1).tolist()]
    lines.append(" ".join(["tensor", label, dtype, str(x.ndim)] + [str(d) for d in x.shape] + vals))


def text(label, s):
    tensor(label, np.array([ord(c) for c in s], dtype=np.int64), "i64")


def case(name, items):
    lines.append("case " + name)
    for label, value, *kind in items:
        if isinstance(value, str):
            text(label, value)
        else:
            tensor(label, value, *kind)
    lines.append("end")


def clf_case(name, y_true, y_pred, sw=None, names=None):
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    items = [("y_true", y_true), ("y_pred", y_pred)]
    kw = {}
    if sw is not None:
        items.append(("sw", np.asarray(sw, np.float64), "f64"))
        kw = {"sample_weight": sw}
    f = lambda v: np.float64(v)
    items.append(("accuracy", f(metrics.accuracy_score(y_true, y_pred, **kw))))
    items.append(("accuracy_count", f(metrics.accuracy_score(y_true, y_pred, normalize=False, **kw))))
    items.append(("balanced_accuracy", f(metrics.balanced_accuracy_score(y_true, y_pred, **kw))))
    items.append(("balanced_accuracy_adj", f(metrics.balanced_accuracy_score(y_true, y_pred, adjusted=True, **kw))))
    labels = np.union1d(y_true, y_pred)
    averages = ["micro", "macro", "weighted"] + (["binary"] if len(labels) <= 2 else [])
    for avg in averages:
        for zd in (0, 1):
            pos = {"pos_label": int(labels.max())} if avg == "binary" else {}
            p, r, f1, _ = metrics.precision_recall_fscore_support(
                y_true, y_pred, average=avg, zero_division=zd, **pos, **kw)
            f2 = metrics.fbeta_score(y_true, y_pred, beta=2, average=avg, zero_division=zd, **pos, **kw)
            items += [(f"precision_{avg}_zd{zd}", f(p)), (f"recall_{avg}_zd{zd}", f(r)),
                      (f"f1_{avg}_zd{zd}", f(f1)), (f"f2_{avg}_zd{zd}", f(f2))]
    p, r, f1, s = metrics.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=1, **kw)
    items += [("precision_none_zd1", p), ("recall_none_zd1", r), ("f1_none_zd1", f1),
              ("support_none", s, "f64")]
    # A label subset including one that never occurs (scored as all-zero counts).
    subset = np.array(list(labels[:2]) + [int(labels.max()) + 7], np.int64)
    items.append(("subset_labels", subset))
    p, r, f1, _ = metrics.precision_recall_fscore_support(y_true, y_pred, labels=subset, average="macro", **kw)
    items += [("precision_subset_macro", f(p)), ("recall_subset_macro", f(r)), ("f1_subset_macro", f(f1))]
    items.append(("confusion", metrics.confusion_matrix(y_true, y_pred, **kw), "f64"))
    for norm in ("true", "pred", "all"):
        items.append((f"confusion_{norm}", metrics.confusion_matrix(y_true, y_pred, normalize=norm, **kw)))
    items.append(("report", metrics.classification_report(y_true, y_pred, **kw)))
    items.append(("report_d4_zd1", metrics.classification_report(y_true, y_pred, digits=4, zero_division=1, **kw)))
    items.append(("report_subset", metrics.classification_report(y_true, y_pred, labels=subset, **kw)))
    if names is not None:
        items.append(("report_names", metrics.classification_report(y_true, y_pred, target_names=names, **kw)))
    case("clf_" + name, items)


def bin_case(name, y_true, y_score, sw=None, probability=True):
    y_true, y_score = np.asarray(y_true, np.int64), np.asarray(y_score, np.float64)
    items = [("y_true", y_true), ("y_score", y_score)]
    kw = {}
    if sw is not None:
        items.append(("sw", np.asarray(sw, np.float64), "f64"))
        kw = {"sample_weight": sw}
    for drop in (True, False):
        fpr, tpr, thr = metrics.roc_curve(y_true, y_score, drop_intermediate=drop, **kw)
        tag = "roc" if drop else "roc_full"
        items += [(tag + "_fpr", fpr), (tag + "_tpr", tpr), (tag + "_thr", thr)]
    items.append(("roc_auc", np.float64(metrics.roc_auc_score(y_true, y_score, **kw))))
    p, r, thr = metrics.precision_recall_curve(y_true, y_score, **kw)
    items += [("pr_precision", p), ("pr_recall", r), ("pr_thr", thr)]
    items.append(("ap", np.float64(metrics.average_precision_score(y_true, y_score, **kw))))
    if probability:
        items.append(("log_loss", np.float64(metrics.log_loss(y_true, y_score, **kw))))
        items.append(("log_loss_sum", np.float64(metrics.log_loss(y_true, y_score, normalize=False, **kw))))
    case("bin_" + name, items)


def multi_case(name, y_true, y_prob, sw=None):
    y_true, y_prob = np.asarray(y_true, np.int64), np.asarray(y_prob, np.float64)
    items = [("y_true", y_true), ("y_prob", y_prob)]
    kw = {}
    if sw is not None:
        items.append(("sw", np.asarray(sw, np.float64), "f64"))
        kw = {"sample_weight": sw}
    for avg in ("macro", "weighted"):
        items.append((f"roc_auc_{avg}", np.float64(
            metrics.roc_auc_score(y_true, y_prob, multi_class="ovr", average=avg, **kw))))
    items.append(("log_loss", np.float64(metrics.log_loss(y_true, y_prob, **kw))))
    items.append(("log_loss_eps", np.float64(metrics.log_loss(y_true, y_prob, eps=1e-3, **kw))))
    case("multi_" + name, items)


def reg_case(name, y_true, y_pred, sw=None):
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    items = [("y_true", y_true), ("y_pred", y_pred)]
    kw = {}
    if sw is not None:
        items.append(("sw", np.asarray(sw, np.float64), "f64"))
        kw = {"sample_weight": sw}
    f = lambda v: np.float64(v)
    items += [("mse", f(metrics.mean_squared_error(y_true, y_pred, **kw))),
              ("rmse", f(metrics.mean_squared_error(y_true, y_pred, squared=False, **kw))),
              ("mae", f(metrics.mean_absolute_error(y_true, y_pred, **kw))),
              ("r2", f(metrics.r2_score(y_true, y_pred, **kw))),
              ("explained_variance", f(metrics.explained_variance_score(y_true, y_pred, **kw)))]
    case("reg_" + name, items)


rng = np.random.RandomState(0)

# ---- real data: breast cancer (binary), iris and wine (multiclass), diabetes (regression) ----
bc = datasets.load_breast_cancer()
idx = rng.permutation(len(bc.target))
tr, te = idx[:400], idx[400:]
nb = GaussianNB().fit(bc.data[tr], bc.target[tr])
bc_prob = nb.predict_proba(bc.data[te])[:, 1]
bc_pred = nb.predict(bc.data[te])
clf_case("breast_cancer", bc.target[te], bc_pred, names=["malignant", "benign"])
bin_case("breast_cancer", bc.target[te], bc_prob)
# Scores rounded to one decimal: many ties.
bin_case("breast_cancer_ties", bc.target[te], np.round(bc_prob, 1))
bin_case("breast_cancer_weighted", bc.target[te], bc_prob, sw=rng.uniform(0.1, 2.0, len(te)))

iris = datasets.load_iris()
idx = rng.permutation(150)
tr, te = idx[:100], idx[100:]
iris_model = LogisticRegression(max_iter=50, C=0.05).fit(iris.data[tr], iris.target[tr])
iris_prob = iris_model.predict_proba(iris.data[te])
clf_case("iris", iris.target[te], iris_prob.argmax(1), names=["setosa", "versicolor", "virginica"])
clf_case("iris_weighted", iris.target[te], iris_prob.argmax(1), sw=rng.uniform(0.5, 3.0, len(te)))
multi_case("iris", iris.target[te], iris_prob)
multi_case("iris_weighted", iris.target[te], iris_prob, sw=rng.uniform(0.5, 3.0, len(te)))
multi_case("iris_ties", iris.target[te], np.round(iris_prob, 1) / np.round(iris_prob, 1).sum(1, keepdims=True))

wine = datasets.load_wine()
wnb = GaussianNB().fit(wine.data[::2], wine.target[::2])
wine_prob = wnb.predict_proba(wine.data[1::2])
clf_case("wine", wine.target[1::2], wine_prob.argmax(1))
multi_case("wine", wine.target[1::2], wine_prob)

diab = datasets.load_diabetes()
lr = LinearRegression().fit(diab.data[:300], diab.target[:300])
reg_case("diabetes", diab.target[300:], lr.predict(diab.data[300:]))
reg_case("diabetes_weighted", diab.target[300:], lr.predict(diab.data[300:]), sw=rng.uniform(0.1, 2, 142))
reg_case("diabetes_2out", np.stack([diab.target[300:], diab.data[300:, 0]], 1),
         np.stack([lr.predict(diab.data[300:]), diab.data[300:, 0] * 0.5 + 0.01], 1))

# ---- edge cases ----
# A class present in y_true that is never predicted, and a predicted class absent from y_true.
clf_case("absent_class", [0, 0, 1, 1, 2, 2, 0, 1], [0, 1, 1, 1, 3, 3, 0, 0])
# Every prediction is one class.
clf_case("all_one_class", [0, 1, 2, 1, 0, 2, 2], [1, 1, 1, 1, 1, 1, 1])
# Binary, nothing predicted positive: precision is 0/0.
clf_case("binary_no_positive", [0, 1, 1, 0, 1], [0, 0, 0, 0, 0])
# y_true has a single class.
clf_case("single_true_class", [1, 1, 1, 1], [1, 0, 1, 1])
# Labels other than 0..K-1.
clf_case("odd_labels", [-3, 5, 5, 10, -3, 10, 10], [-3, 5, 10, 10, 5, 10, -3], names=["neg", "five", "ten"])
# All scores tied; perfect ranking; inverse ranking; labels in {-1, 1}.
bin_case("all_tied", [0, 1, 0, 1, 1], [0.5, 0.5, 0.5, 0.5, 0.5])
bin_case("perfect", [0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9])
bin_case("inverse", [1, 1, 0, 0], [0.1, 0.2, 0.7, 0.8])
bin_case("minus_one", [-1, 1, -1, 1, 1, -1], [-2.0, 3.0, 0.5, 0.5, 1.0, -1.0], probability=False)
bin_case("partial_ties", [0, 1, 1, 0, 1, 0, 1, 1], [0.2, 0.8, 0.8, 0.8, 0.4, 0.1, 0.4, 0.9])
# Probabilities at 0 and 1 exactly: log_loss clipping.
bin_case("extreme_prob", [0, 1, 1, 0], [0.0, 1.0, 0.0, 1e-20])
multi_case("extreme_prob", [0, 1, 2, 2], [[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0], [0, 0, 1]])
reg_case("constant_true_perfect", [3.0, 3.0, 3.0], [3.0, 3.0, 3.0])
reg_case("constant_true_off", [3.0, 3.0, 3.0], [2.0, 3.0, 4.5])
reg_case("negative_r2", [1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 5.0, -1.0])

with open(OUT, "w") as fh:
    fh.write("# Written by tests/gen_sklearn_metrics.py with scikit-learn 1.2.1; do not edit.\n")
    fh.write("\n".join(lines) + "\n")
print("wrote", OUT, os.path.getsize(OUT), "bytes")
