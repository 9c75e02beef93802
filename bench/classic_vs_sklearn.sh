#!/usr/bin/env bash
# bench/classic_vs_sklearn.sh: classic/ estimators against scikit-learn, side by side in one run.
# RandomForestClassifier (100 trees, THREADS threads / n_jobs) and LogisticRegression, fit and predict
# times and test accuracy, on breast cancer (tests/data, 75/25 split) and on a 10,000-image Fashion-MNIST
# subset (predicting the 10,000 test images); data and models in bench/bench_classic.cpp's header.
# kiln (build/release/bench/kiln_bench_classic, built by `make bench` or
# `cmake --build --preset release --target kiln_bench_classic`) and scikit-learn (bench/classic_vs_sklearn.py
# under /usr/bin/python3) run interleaved, REPS times each (default 3), the order alternating; the summary
# gives medians and kiln's speed-ups. Writes $BUILD_DIR/bench-results/classic/{results.txt,summary.md}.
# Environment: REPS, THREADS (default 2), BUILD_DIR (default build/release), MODELS (default "rf logreg"),
# DATASETS (default "breast_cancer fashion").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPS=${REPS:-3}
THREADS=${THREADS:-2}
BUILD_DIR=${BUILD_DIR:-build/release}
MODELS=${MODELS:-rf logreg}
DATASETS=${DATASETS:-breast_cancer fashion}
exe=$BUILD_DIR/bench/kiln_bench_classic
out=$BUILD_DIR/bench-results/classic
results=$out/results.txt

if [[ ! -x "$exe" ]]; then
  echo "classic_vs_sklearn: $exe not found; build it first (cmake --build --preset release --target kiln_bench_classic)" >&2
  exit 1
fi
if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
  echo "classic_vs_sklearn: /usr/bin/python3 has no scikit-learn (apt-get install python3-sklearn)" >&2
  exit 1
fi
mkdir -p "$out"
: >"$results"

run_kiln() {  # model data
  OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive "$exe" --model "$1" --data "$2" --threads "$THREADS" |
    grep -E '^RESULT' >>"$results"
}
run_sklearn() {  # model data
  OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS \
    /usr/bin/python3 bench/classic_vs_sklearn.py --model "$1" --data "$2" --threads "$THREADS" >>"$results"
}

for data in $DATASETS; do
  for model in $MODELS; do
    for ((r = 1; r <= REPS; r++)); do
      echo "classic_vs_sklearn: $model on $data, repetition $r/$REPS"
      if ((r % 2 == 1)); then
        run_kiln "$model" "$data"
        run_sklearn "$model" "$data"
      else
        run_sklearn "$model" "$data"
        run_kiln "$model" "$data"
      fi
    done
  done
done

{
  echo "## classic/ vs scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)'), $THREADS threads, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  /usr/bin/python3 bench/classic_vs_sklearn.py --summarize "$results"
} >"$out/summary.md"
cat "$out/summary.md"
echo "(written to $out/summary.md)"
