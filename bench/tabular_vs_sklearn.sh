#!/usr/bin/env bash
# bench/tabular_vs_sklearn.sh: examples/tabular.cpp against scikit-learn on the same splits — ROC-AUC of
# each tuned model on the test rows (within 0.01) and classification reports of kiln's predictions
# (byte-identical), with kiln's and scikit-learn's run times. kiln: $BUILD_DIR/examples/tabular (built by
# `make build`, or `cmake --build --preset release --target tabular`); scikit-learn: Debian's, under
# /usr/bin/python3 (scripts/install-deps.sh --fixtures), as bench/classic_vs_sklearn.sh. Writes
# $BUILD_DIR/bench-results/tabular/. Environment: BUILD_DIR (default build/release), THREADS (default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
THREADS=${THREADS:-2}
exe=$BUILD_DIR/examples/tabular
out=$BUILD_DIR/bench-results/tabular
csv=examples/data/churn.csv

fail() { echo "tabular_vs_sklearn: $*" >&2; exit 1; }
[[ -x "$exe" ]] || fail "$exe not found; build it first (cmake --build --preset release --target tabular)"
/usr/bin/python3 -c "import sklearn, pandas" 2>/dev/null ||
  fail "/usr/bin/python3 has no scikit-learn or pandas (scripts/install-deps.sh --fixtures)"
mkdir -p "$out"
start=$(date +%s.%N)
OMP_NUM_THREADS=$THREADS "$exe" "$csv" --out "$out" >"$out/kiln.txt"
end=$(date +%s.%N)
echo "kiln: examples/tabular in $(echo "$end - $start" | bc) s (all five searches; output in $out/kiln.txt)"
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS /usr/bin/python3 bench/tabular_vs_sklearn.py "$csv" "$out" |
  tee "$out/summary.txt"
