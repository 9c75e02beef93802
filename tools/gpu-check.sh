#!/usr/bin/env bash
# tools/gpu-check.sh: the one script to run on a machine with an NVIDIA GPU (sized for < 8 minutes on a
# 16-core H100, so it can be rerun within a 15-minute GPU budget). From the repository root:
#   tools/gpu-check.sh
# Stages: configure + build with CUDA (all cores) in build/gpu; the CUDA tests (test_cuda, test_cuda_amp and
# the op table's CudaMatchesCpu cases, f32 and f16/bf16); compute-sanitizer (memcheck) on test_cuda; the training benchmark on CUDA
# and CPU. Every stage runs even when an earlier one failed (except that nothing runs without a build),
# and its exit code, duration and last lines go to the results file: $OUT/gpu-check-results.txt when
# OUT is set, else build/gpu/gpu-check-results.txt. Full logs sit next to it. Exit code: 0 only if every
# stage passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build/gpu
mkdir -p "$build"
results_dir=${OUT:-$build}
mkdir -p "$results_dir"
results=$results_dir/gpu-check-results.txt
logs=$results_dir/gpu-check-logs
mkdir -p "$logs"
jobs=$(nproc)
failed=0
start_all=$(date +%s)

{
  echo "kiln gpu-check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi failed"
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo 'not on PATH')"
} >"$results"

# stage NAME TIMEOUT_S CMD...: runs CMD with a time limit, logging to $logs/NAME.log; never exits the script.
stage() {
  local name=$1 limit=$2
  shift 2
  local t0 rc
  t0=$(date +%s)
  echo "[$(date -u +%H:%M:%S)] stage $name: $*" | tee -a "$results"
  set +e
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1
  rc=$?
  set -e
  local secs=$(($(date +%s) - t0))
  if [[ $rc -ne 0 ]]; then
    failed=1
  fi
  echo "[$(date -u +%H:%M:%S)] stage $name: exit $rc after ${secs}s$([[ $rc -eq 124 ]] && echo ' (TIMED OUT)')" |
    tee -a "$results"
  tail -n 15 "$logs/$name.log" | sed 's/^/    /' >>"$results"
  return 0
}

export PATH=/usr/local/cuda/bin:$PATH
stage configure 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON -DKILN_BUILD_TESTS=ON \
  -DKILN_BUILD_BENCH=ON -DKILN_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_ARCHITECTURES="${KILN_CUDA_ARCH:-90}"
stage build 300 cmake --build "$build" -j"$jobs" --target test_cuda test_cuda_amp test_ops kiln_bench_train

if [[ -x $build/tests/test_cuda ]]; then
  export OMP_WAIT_POLICY=passive
  stage test_cuda 60 "$build/tests/test_cuda"
  # f16/bf16 kernels against the CPU reference, the vectorized elementwise path against the strided one.
  stage test_cuda_amp 90 "$build/tests/test_cuda_amp"
  # Every op-table case on CUDA against the CPU (cases for kernels CUDA lacks report themselves skipped).
  stage test_ops_cuda 120 "$build/tests/test_ops" --gtest_filter='*CudaMatchesCpu*' --gtest_brief=1
  if command -v compute-sanitizer >/dev/null; then
    # The error-message test makes CUDA calls fail on purpose (an impossible cudaMalloc), which memcheck
    # would report as API errors; everything else runs under it with API-error reporting on.
    stage sanitizer_test_cuda 150 compute-sanitizer --tool memcheck --error-exitcode 1 "$build/tests/test_cuda" \
      --gtest_filter='-*ErrorsNameTheOp*'
    stage sanitizer_test_cuda_amp 150 compute-sanitizer --tool memcheck --error-exitcode 1 \
      "$build/tests/test_cuda_amp"
    stage sanitizer_racecheck 120 compute-sanitizer --tool racecheck --error-exitcode 1 "$build/tests/test_cuda" \
      --gtest_filter='*Reductions*:*ScatterAdd*'

  else
    echo "compute-sanitizer not found: sanitizer stage skipped" | tee -a "$results"
    failed=1
  fi
  stage bench_train_mlp_cuda 60 "$build/bench/kiln_bench_train" mlp --device cuda --steps 50 --reps 5
  stage bench_train_cnn_cuda 60 "$build/bench/kiln_bench_train" cnn --device cuda --steps 10 --reps 3
  stage bench_train_mlp_cpu 60 "$build/bench/kiln_bench_train" mlp --threads "$jobs" --steps 20 --reps 3
  # The op table's CUDA cases counted, for the summary.
  grep -E "^\[  (PASSED|SKIPPED|FAILED)" "$logs/test_ops_cuda.log" >>"$results" 2>/dev/null || true
else
  echo "no build: test and benchmark stages not run" | tee -a "$results"
  failed=1
fi

echo "total $(($(date +%s) - start_all))s; $([[ $failed -eq 0 ]] && echo 'ALL STAGES PASSED' || echo 'SOME STAGES FAILED')" |
  tee -a "$results"
echo "results: $results (logs in $logs)"
exit $failed
