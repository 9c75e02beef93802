#!/usr/bin/python3
# tests/gen_sklearn_tabular.py: writes tests/fixtures/sklearn_scorers.txt, scikit-learn's named scorers
# (sklearn.metrics.get_scorer(name)(estimator, X, y)) on an estimator with fixed predictions, which
# tests/test_tabular_scoring.cpp compares classic::get_scorer against (to 1e-12).
#
# Run by hand, never by the test suite: `tests/gen_sklearn_tabular.py` (Debian's python3-sklearn, installed
# by scripts/install-deps.sh --fixtures, is visible only to /usr/bin/python3). Deterministic.
#
# Data: probabilities of a scikit-learn LogisticRegression fitted on every 4th-row-held-out split of the
# bundled breast cancer (binary) and iris (3 classes) data (tests/data), scored on the held-out rows; the
# labels are shifted (+3) so that no scorer may assume labels 0..K-1.
# Format: tests/support/fixture.h. Each case: y_true (i64), y_prob (N, K) f64, classes (i64) and one 0-d
# tensor per scorer, labelled by the scorer's name.
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.preprocessing import StandardScaler

from sklearn_fixture_writer import Writer, load, split_every_4th


class FixedClassifier(ClassifierMixin, BaseEstimator):
    """Returns stored probabilities (for the rows scored); predict is their argmax."""

    def __init__(self, classes, proba):
        self.classes_, self.proba = classes, proba

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes_[np.argmax(self.proba, axis=1)]


BINARY = ["accuracy", "balanced_accuracy", "f1", "f1_macro", "f1_micro", "f1_weighted", "precision",
          "precision_macro", "precision_micro", "precision_weighted", "recall", "recall_macro",
          "recall_micro", "recall_weighted", "roc_auc", "average_precision", "neg_log_loss"]
MULTI = ["accuracy", "balanced_accuracy", "f1_macro", "f1_micro", "f1_weighted", "precision_macro",
         "precision_weighted", "recall_macro", "recall_weighted", "roc_auc_ovr", "roc_auc_ovr_weighted",
         "neg_log_loss"]

w = Writer("scikit-learn get_scorer values on fixed predictions, written by tests/gen_sklearn_tabular.py")
for name, scorers, shift in [("breast_cancer", BINARY, 0), ("iris", MULTI, 3)]:
    X, y = load(name)
    tr, te = split_every_4th(len(y))
    scaler = StandardScaler().fit(X[tr])
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(X[tr]), y[tr])
    proba = model.predict_proba(scaler.transform(X[te]))
    classes = model.classes_ + shift
    est = FixedClassifier(classes, proba)
    y_true = y[te] + shift
    values = {s: float(get_scorer(s)(est, X[te], y_true)) for s in scorers}
    w.case(name, y_true=y_true, y_prob=proba, classes=classes, **{k: np.float64(v) for k, v in values.items()})
w.save("sklearn_scorers.txt")
