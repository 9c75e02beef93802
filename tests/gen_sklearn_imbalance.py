#!/usr/bin/env python3
# tests/gen_sklearn_imbalance.py: writes tests/fixtures/sklearn_imbalance.txt, the reference for the SMOTE
# accuracy band in tests/test_classic_imbalance.cpp, plus scikit-learn's compute_class_weight /
# compute_sample_weight values.
#
# imbalanced-learn is not packaged in Debian, so this generator runs in a throwaway virtual environment
# that adds it to Debian's scikit-learn 1.2.1 (run by hand, never by the test suite):
#   /usr/bin/python3 -m venv --system-site-packages /tmp/imblearn-venv
#   /tmp/imblearn-venv/bin/pip install imbalanced-learn==0.10.1     # from PyPI; keeps sklearn 1.2.1
#   /tmp/imblearn-venv/bin/python tests/gen_sklearn_imbalance.py
# Deterministic: rerunning it reproduces the file byte for byte.
#
# Data: scikit-learn's bundled copy of the Wisconsin breast cancer data set (UCI Machine Learning
# Repository, see tests/data/README), first 10 features, made imbalanced by keeping 25 of the 212
# malignant rows (label 0) and all 357 benign ones. Stratified 5-fold assignment fixed in the file.
# Case "smote_band": X, y, fold; baseline = mean balanced accuracy over the folds of StandardScaler + 5-NN;
# smote = the same with imbalanced-learn's SMOTE(k_neighbors=5) between them, averaged over 10 seeds.
import os

import imblearn
import numpy as np
import sklearn
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn import datasets
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

assert sklearn.__version__ == "1.2.1", sklearn.__version__
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sklearn_imbalance.txt")
lines = []


def tensor(label, x):
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        dtype, vals = "i64", ["%d" % v for v in x.astype(np.int64).reshape(-1).tolist()]
    else:
        dtype, vals = "f64", [repr(v) for v in x.astype(np.float64).reshape(-1).tolist()]
    lines.append(" ".join(["tensor", label, dtype, str(x.ndim)] + [str(d) for d in x.shape] + vals))


rng = np.random.RandomState(0)
bc = datasets.load_breast_cancer()
malignant = np.flatnonzero(bc.target == 0)
keep = np.sort(np.r_[rng.choice(malignant, 25, replace=False), np.flatnonzero(bc.target == 1)])
X, y = bc.data[keep, :10], bc.target[keep]
fold = np.zeros(len(y), np.int64)
for k, (_, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
    fold[te] = k


def cv_score(make):
    scores = []
    for k in range(5):
        tr, te = fold != k, fold == k
        model = make().fit(X[tr], y[tr])
        scores.append(balanced_accuracy_score(y[te], model.predict(X[te])))
    return np.mean(scores)


baseline = cv_score(lambda: Pipeline([("scale", StandardScaler()), ("knn", KNeighborsClassifier(5))]))
smote = np.mean([cv_score(lambda: Pipeline([("scale", StandardScaler()),
                                             ("smote", SMOTE(k_neighbors=5, random_state=seed)),
                                             ("knn", KNeighborsClassifier(5))])) for seed in range(10)])
lines.append("case smote_band")
tensor("X", X)
tensor("y", y)
tensor("fold", fold)
tensor("baseline_balanced_accuracy", np.float64(baseline))
tensor("smote_balanced_accuracy", np.float64(smote))
lines.append("end")

yw = np.array([2, 2, 5, 5, 5, 5, 9, 2, 5, 5], np.int64)
lines.append("case class_weight")
tensor("y", yw)
tensor("classes", np.array([2, 5, 9], np.int64))
tensor("balanced", compute_class_weight("balanced", classes=np.array([2, 5, 9]), y=yw))
tensor("sample_balanced", compute_sample_weight("balanced", yw))
tensor("sample_dict", compute_sample_weight({2: 0.5, 9: 3.0}, yw))
lines.append("end")

with open(OUT, "w") as fh:
    fh.write("# Written by tests/gen_sklearn_imbalance.py with scikit-learn %s and imbalanced-learn %s; "
             "do not edit.\n" % (sklearn.__version__, imblearn.__version__))
    fh.write("\n".join(lines) + "\n")
print("wrote", OUT, os.path.getsize(OUT), "bytes; baseline %.4f smote %.4f" % (baseline, smote))
