#!/usr/bin/python3
# bench/tabular_vs_sklearn.py: examples/tabular.cpp's workflow in scikit-learn on the very rows kiln used
# (OUT/split.csv), compared with kiln's results (OUT/summary.csv, OUT/test_<model>.csv,
# OUT/report_<model>.txt). Per model: scikit-learn's test ROC-AUC with the same preprocessing, grid,
# scorer and 5-fold StratifiedKFold(shuffle, random_state=0) on the training rows (the folds differ: kiln's
# shuffle stream is its own), within 0.01 of kiln's; and scikit-learn's classification_report of kiln's own
# test predictions, which must equal kiln's report byte for byte. The network is scikit-learn's
# MLPClassifier (adam, the same widths, lr, epochs and batch size; it has no class_weight, where kiln's
# network uses "balanced"). The SMOTE variant needs imbalanced-learn, which Debian does not package; its
# report is still checked.
# Usage: bench/tabular_vs_sklearn.py CSV OUT; prints one line per model and exits 1 when a check fails.
import sys
import time
import warnings

import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

warnings.filterwarnings("ignore")
csv_path, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(csv_path)
split = pd.read_csv(f"{out}/split.csv")
rows = {p: split[split.part == p].row.to_numpy() for p in ("train", "val", "test")}
X, y = df.drop(columns="churned"), (df.churned == "yes").astype(int).to_numpy()
X["paperless"] = X["paperless"].astype(float)  # kiln reads booleans as numbers

pre = make_column_transformer(
    (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), make_column_selector(dtype_include="number")),
    (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
     make_column_selector(dtype_include=object)))
models = {
    "logistic_regression": (LogisticRegression(class_weight="balanced", max_iter=500), {"C": [0.1, 1.0, 10.0]}),
    "random_forest": (RandomForestClassifier(n_estimators=100, min_samples_leaf=5, class_weight="balanced",
                                             random_state=0, n_jobs=2), {"max_depth": [6, 12]}),
    "hist_gradient_boosting": (HistGradientBoostingClassifier(max_iter=100, class_weight="balanced",
                                                              random_state=0), {"learning_rate": [0.03, 0.1]}),
    "neural_net": (MLPClassifier(max_iter=30, batch_size=64, random_state=0),
                   {"learning_rate_init": [1e-3, 3e-3], "hidden_layer_sizes": [(16,), (64,)]}),
}
kiln = pd.read_csv(f"{out}/summary.csv").set_index("model")
failed = 0
print(f"{'model':26s} {'kiln AUC':>9s} {'sklearn':>9s} {'diff':>7s} {'sk fit s':>8s}  report")
for name in kiln.index:
    pred = pd.read_csv(f"{out}/test_{name}.csv").pred.to_numpy()
    with open(f"{out}/report_{name}.txt") as f:
        same_report = f.read() == classification_report(y[rows["test"]], pred, target_names=["no", "yes"], digits=4)
    failed += not same_report
    line = f"{name:26s} {kiln.test_auc[name]:9.4f} "
    if name in models:
        est, grid = models[name]
        start = time.perf_counter()
        step = type(est).__name__.lower()
        search = GridSearchCV(make_pipeline(pre, est), {f"{step}__{k}": v for k, v in grid.items()},
                              scoring="roc_auc", cv=StratifiedKFold(5, shuffle=True, random_state=0), n_jobs=2)
        search.fit(X.iloc[rows["train"]], y[rows["train"]])
        seconds = time.perf_counter() - start
        auc = roc_auc_score(y[rows["test"]], search.predict_proba(X.iloc[rows["test"]])[:, 1])
        diff = kiln.test_auc[name] - auc
        failed += abs(diff) > 0.01
        line += f"{auc:9.4f} {diff:+7.4f} {seconds:8.2f}"
    else:
        line += f"{'-':>9s} {'-':>7s} {'-':>8s}"
    print(line + ("  identical" if same_report else "  DIFFERENT"))
sys.exit(1 if failed else 0)
