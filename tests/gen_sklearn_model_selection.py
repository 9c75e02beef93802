#!/usr/bin/python3
# tests/gen_sklearn_model_selection.py: scikit-learn 1.2.1 references for classic/ model selection —
# unshuffled KFold / StratifiedKFold folds, cross_val_score with named scorers, and GridSearchCV results —
# on the real data sets in tests/data/. Run by hand (deterministic); writes
# tests/fixtures/sklearn_model_selection.txt, read by tests/test_classic_model_selection.cpp.
import sys
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from sklearn_fixture_writer import Writer, load, standardize  # noqa: E402

warnings.simplefilter("error")
w = Writer("""tests/fixtures/sklearn_model_selection.txt: written by tests/gen_sklearn_model_selection.py
(scikit-learn 1.2.1); do not edit. Inputs are rebuilt by the C++ test from tests/data/*.csv.
fold_of: the test fold of every row.""")


def fold_of(splitter, X, y):
    out = np.full(len(X), -1, dtype=np.int64)
    for f, (_, test) in enumerate(splitter.split(X, y)):
        out[test] = f
    return out


# ---- folds ----
for ds, k in [("iris", 5), ("wine", 3), ("breast_cancer", 5), ("diabetes", 7), ("digits", 10)]:
    X, y = load(ds)
    w.case(f"kfold_{ds}_{k}", fold_of=fold_of(KFold(k), X, y))
    if ds != "diabetes":
        w.case(f"skfold_{ds}_{k}", fold_of=fold_of(StratifiedKFold(k), X, y))
# An imbalanced, interleaved target: breast cancer's first 200 rows with labels as they come.
X, y = load("breast_cancer")
w.case("skfold_bc200_4", fold_of=fold_of(StratifiedKFold(4), X[:200], y[:200]), y=y[:200])

# ---- cross_val_score (default cv: StratifiedKFold(5) for classifiers, KFold(5) for regressors) ----
cases = [
    ("logistic_iris_accuracy", "iris", False, LogisticRegression(tol=1e-10, max_iter=10000), "accuracy"),
    ("logistic_wine_scaled_neg_log_loss", "wine", True, LogisticRegression(tol=1e-10, max_iter=10000), "neg_log_loss"),
    ("knn_wine_f1_macro", "wine", False, KNeighborsClassifier(n_neighbors=7), "f1_macro"),
    ("knn_bc_f1", "breast_cancer", False, KNeighborsClassifier(n_neighbors=5), "f1"),
    ("gnb_bc_balanced_accuracy", "breast_cancer", False, GaussianNB(), "balanced_accuracy"),
    ("gnb_digits_f1_weighted", "digits", False, GaussianNB(), "f1_weighted"),
    ("gnb_iris_default", "iris", False, GaussianNB(), None),
    ("ridge_diabetes_r2", "diabetes", False, Ridge(alpha=0.1), "r2"),
    ("ridge_diabetes_neg_mse", "diabetes", False, Ridge(alpha=0.1), "neg_mean_squared_error"),
    ("knnreg_diabetes_neg_mae", "diabetes", False, KNeighborsRegressor(n_neighbors=9), "neg_mean_absolute_error"),
    ("knnreg_diabetes_neg_rmse", "diabetes", False, KNeighborsRegressor(n_neighbors=9), "neg_root_mean_squared_error"),
    ("ridge_diabetes_explained_variance", "diabetes", False, Ridge(alpha=1.0), "explained_variance"),
]
for name, ds, scaled, est, scoring in cases:
    X, y = load(ds)
    if scaled:
        X = standardize(X)
    w.case("cvs_" + name, scores=cross_val_score(est, X, y, scoring=scoring))

# ---- GridSearchCV ----
X, y = load("breast_cancer")
gs = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5, 7, 9, 11, 15, 21], "weights": ["uniform", "distance"],
                                          "p": [1, 2]}, scoring="accuracy").fit(X, y)
w.case("grid_knn_bc", best_index=np.array([gs.best_index_]), best_score=np.array([gs.best_score_]),
       mean_test_score=gs.cv_results_["mean_test_score"], std_test_score=gs.cv_results_["std_test_score"],
       rank_test_score=gs.cv_results_["rank_test_score"].astype(np.int64),
       best_n_neighbors=np.array([gs.best_params_["n_neighbors"]]))
X, y = load("diabetes")
gs = GridSearchCV(Ridge(), {"alpha": [1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 10.0]}, scoring="r2", cv=10).fit(X, y)
w.case("grid_ridge_diabetes", best_index=np.array([gs.best_index_]), best_score=np.array([gs.best_score_]),
       mean_test_score=gs.cv_results_["mean_test_score"], std_test_score=gs.cv_results_["std_test_score"],
       rank_test_score=gs.cv_results_["rank_test_score"].astype(np.int64))
X, y = load("wine")
X = standardize(X)
gs = GridSearchCV(LogisticRegression(tol=1e-10, max_iter=10000), {"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
                  scoring="neg_log_loss", return_train_score=True).fit(X, y)
w.case("grid_logistic_wine", best_index=np.array([gs.best_index_]), best_score=np.array([gs.best_score_]),
       mean_test_score=gs.cv_results_["mean_test_score"], mean_train_score=gs.cv_results_["mean_train_score"],
       rank_test_score=gs.cv_results_["rank_test_score"].astype(np.int64))

w.save("sklearn_model_selection.txt")
