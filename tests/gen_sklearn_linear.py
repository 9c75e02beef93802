#!/usr/bin/python3
# tests/gen_sklearn_linear.py: scikit-learn 1.2.1 references for classic/ linear models, logistic
# regression, k-nearest neighbours and Gaussian naive Bayes on the real data sets in tests/data/. Run by
# hand (deterministic); writes tests/fixtures/sklearn_linear.txt, read by tests/test_classic_linear.cpp.
# Inputs are rebuilt in C++ from the same CSV files: "scaled" means standardize() below, "train"/"test" the
# split_every_4th() rows; weights w3 are 1 + (i % 3).
import sys
import warnings

import numpy as np
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from sklearn_fixture_writer import Writer, load, split_every_4th, standardize  # noqa: E402

warnings.simplefilter("error")  # a reference that did not converge is no reference
w = Writer(__doc__ if __doc__ else "sklearn linear fixtures")
w.lines = ["# tests/fixtures/sklearn_linear.txt: written by tests/gen_sklearn_linear.py (scikit-learn 1.2.1);",
           "# do not edit. Inputs are rebuilt by the C++ test from tests/data/*.csv."]


def w3(n):
    return 1.0 + (np.arange(n) % 3)


# ---- LinearRegression / Ridge / Lasso on diabetes ----
X, y = load("diabetes")
for name, est, sw in [
    ("linreg", LinearRegression(), None),
    ("linreg_w3", LinearRegression(), w3(len(y))),
    ("linreg_noint", LinearRegression(fit_intercept=False), None),
    ("ridge_a0.1", Ridge(alpha=0.1), None),
    ("ridge_a1", Ridge(alpha=1.0), None),
    ("ridge_a10_w3", Ridge(alpha=10.0), w3(len(y))),
    ("ridge_noint", Ridge(alpha=1.0, fit_intercept=False), None),
    ("lasso_a0.01", Lasso(alpha=0.01), None),
    ("lasso_a0.1", Lasso(alpha=0.1), None),
    ("lasso_a1", Lasso(alpha=1.0), None),
    ("lasso_a0.1_w3", Lasso(alpha=0.1), w3(len(y))),
    ("lasso_a0.01_tight", Lasso(alpha=0.01, tol=1e-12, max_iter=100000), None),
]:
    est.fit(X, y, sample_weight=sw)
    extra = {"n_iter": np.array([est.n_iter_])} if hasattr(est, "n_iter_") and est.n_iter_ is not None else {}
    w.case("diabetes_" + name, coef=est.coef_, intercept=np.array([est.intercept_]), pred=est.predict(X), **extra)

# ---- LogisticRegression ----
# Two references per case: scikit-learn's lbfgs at its default tol 1e-4 ("lbfgs_*": where its solver
# stopped, which depends on the solver's path), and the optimum itself from newton-cg at tol 1e-8 (Newton steps: converged far
# below that; lbfgs also stops on a 2.2e-9 relative decrease of the loss, so it is no reference for the optimum).
cases = [
    # name, data set, scaled, params, sample weights
    ("bc_scaled", "breast_cancer", True, {}, None),
    ("bc_scaled_C0.1", "breast_cancer", True, {"C": 0.1}, None),
    ("bc_scaled_cw", "breast_cancer", True, {"class_weight": {0: 2.0, 1: 0.5}}, None),
    ("bc_scaled_balanced", "breast_cancer", True, {"class_weight": "balanced"}, None),
    ("iris", "iris", False, {}, None),
    ("iris_w3", "iris", False, {}, "w3"),
    ("iris_ovr", "iris", False, {"multi_class": "ovr"}, None),
    ("iris_noint", "iris", False, {"fit_intercept": False}, None),
    ("wine_scaled", "wine", True, {"C": 0.5}, None),
    ("wine_scaled_balanced", "wine", True, {"class_weight": "balanced"}, None),
    ("wine_scaled_ovr_balanced", "wine", True, {"multi_class": "ovr", "class_weight": "balanced"}, None),
]
for name, ds, scaled, params, sw in cases:
    X, y = load(ds)
    if scaled:
        X = standardize(X)
    weights = w3(len(y)) if sw == "w3" else None
    lb = LogisticRegression(max_iter=1000, **params).fit(X, y, sample_weight=weights)
    for tol in [1e-8, 1e-7, 1e-6]:  # the tightest tol newton-cg reaches (its line search hits rounding)
        try:
            opt = LogisticRegression(solver="newton-cg", tol=tol, max_iter=10000, **params)
            opt.fit(X, y, sample_weight=weights)
            break
        except Warning:
            continue
    print(name, "newton-cg tol", tol)
    # Probabilities on every 4th row keep the file small.
    w.case("logistic_" + name, coef=opt.coef_, intercept=opt.intercept_, proba=opt.predict_proba(X[::4]),
           pred=opt.predict(X), lbfgs_coef=lb.coef_, lbfgs_intercept=lb.intercept_,
           lbfgs_n_iter=np.array([int(lb.n_iter_.max())]))

# ---- k-nearest neighbours (brute force, exact distances) ----
for ds in ["breast_cancer", "wine"]:
    X, y = load(ds)
    tr, te = split_every_4th(len(y))
    for k, weights, p in [(5, "uniform", 2), (7, "distance", 1), (1, "uniform", 2), (10, "distance", 2)]:
        est = KNeighborsClassifier(n_neighbors=k, weights=weights, p=p, algorithm="brute").fit(X[tr], y[tr])
        extra = {}
        if k == 5:  # the neighbours themselves for one setting (all of them would make the file large)
            extra["dist"], extra["ind"] = est.kneighbors(X[te])
        w.case(f"knn_{ds}_k{k}_{weights}_p{p}", proba=est.predict_proba(X[te]), pred=est.predict(X[te]), **extra)
X, y = load("diabetes")
tr, te = split_every_4th(len(y))
for k, weights, p in [(5, "uniform", 2), (9, "distance", 1)]:
    est = KNeighborsRegressor(n_neighbors=k, weights=weights, p=p, algorithm="brute").fit(X[tr], y[tr])
    w.case(f"knnreg_diabetes_k{k}_{weights}_p{p}", pred=est.predict(X[te]))

# ---- Gaussian naive Bayes ----
for name, ds, params, sw in [
    ("iris", "iris", {}, None),
    ("wine", "wine", {}, None),
    ("breast_cancer", "breast_cancer", {}, None),
    ("iris_w3", "iris", {}, "w3"),
    ("wine_priors", "wine", {"priors": [0.2, 0.3, 0.5]}, None),
    ("digits_smooth", "digits", {"var_smoothing": 1e-2}, None),
]:
    X, y = load(ds)
    tr, te = split_every_4th(len(y))
    weights = w3(len(tr)) if sw == "w3" else None
    est = GaussianNB(**params).fit(X[tr], y[tr], sample_weight=weights)
    te_p = te[:60]  # probabilities of the first 60 test rows keep the file small
    w.case("gnb_" + name, theta=est.theta_, var=est.var_, class_prior=est.class_prior_,
           proba=est.predict_proba(X[te_p]), pred=est.predict(X[te]))

w.save("sklearn_linear.txt")
