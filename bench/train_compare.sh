#!/usr/bin/env bash
# bench/train_compare.sh: end-to-end training throughput of the demo's MLP and CNN at batch 128 on 2
# threads, kiln (build/release/bench/kiln_bench_train) and PyTorch (bench/train_torch.py) interleaved,
# ROUNDS times each (default 3; MODELS="mlp cnn" by default), so both see the same machine conditions. Prints every run and a
# median-of-rounds summary. Environment: ROUNDS, THREADS (2), BATCH (128), BUILD_DIR (build/release),
# DEVICE (cpu; cuda runs both on the GPU, data already there), PYTHON (/usr/bin/python3; on a GPU machine
# the python3 that has CUDA PyTorch), RT_PRIORITY (run under `chrt -f`, for shared machines; needs root).
# tools/gpu-check.sh runs the GPU comparison at batch 128 and 1024, with CUDA Graph capture too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
BATCH=${BATCH:-128}
BUILD_DIR=${BUILD_DIR:-build/release}
DEVICE=${DEVICE:-cpu}
PYTHON=${PYTHON:-/usr/bin/python3}
kiln=$BUILD_DIR/bench/kiln_bench_train
[[ -x $kiln ]] || { echo "train_compare: $kiln not built (make build)" >&2; exit 1; }
launch=()
[[ -n "${RT_PRIORITY:-}" ]] && launch=(chrt -f "$RT_PRIORITY")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
declare -A results
for model in ${MODELS:-mlp cnn}; do
  for ((r = 0; r < ROUNDS; ++r)); do
    for lib in kiln torch; do
      if [[ $lib == kiln ]]; then
        line=$("${launch[@]}" "$kiln" "$model" --threads "$THREADS" --batch "$BATCH" --device "$DEVICE")
      else
        line=$("${launch[@]}" "$PYTHON" bench/train_torch.py "$model" --threads "$THREADS" --batch "$BATCH" \
          --device "$DEVICE")
      fi
      echo "$line"
      rate=$(sed -E 's/.*: ([0-9]+) samples\/s.*/\1/' <<<"$line")
      rss=$(sed -E 's/.*peak RSS ([0-9.]+) MiB.*/\1/' <<<"$line")
      results[$model,$lib]+="$rate "
      results[$model,$lib,rss]+="$rss "
    done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| model ($DEVICE, batch $BATCH, $THREADS threads) | kiln samples/s | PyTorch samples/s | kiln / PyTorch | kiln peak RSS | PyTorch peak RSS |"
echo "|---|---|---|---|---|---|"
for model in ${MODELS:-mlp cnn}; do
  k=$(median "${results[$model,kiln]}"); t=$(median "${results[$model,torch]}")
  kr=$(median "${results[$model,kiln,rss]}"); tr=$(median "${results[$model,torch,rss]}")
  echo "| $model | $k | $t | $(awk -v a="$k" -v b="$t" 'BEGIN {printf "%.2f", a / b}') | $kr MiB | $tr MiB |"
done
