#!/usr/bin/env bash
# tools/gpu-check.sh: the one script to run on a machine with an NVIDIA GPU. It checks the CUDA backend and
# measures it against PyTorch, within 8 minutes on a 16-core H100 (so it can be rerun inside a 15-minute
# GPU budget). From the repository root:
#   tools/gpu-check.sh
# The GPU image lacks Eigen, GoogleTest and zlib and cannot download: run tools/gpu-deps.sh here first and
# have the device tool carry .gpu-deps (run(command="tools/gpu-check.sh", carry=[".gpu-deps"])).
# Stages, each with its own time limit, all under one overall budget (BUDGET_S, default 450 s; a stage
# that would start past it is recorded as skipped):
#   configure, build  CUDA build in build/gpu with every core; only the targets the stages run: every
#                     tests/test_cuda*.cpp (globbed now), test_ops, kiln_bench_train, kiln_bench_gpu_ops
#                     (where bench/CMakeLists.txt defines it)
#   tests             first cuda_available (is the device usable by kiln, and if not why), then each
#                     test_cuda* binary and the op table's CUDA cases (test_ops --gtest_filter='*Cuda*'); a
#                     test stage in which any test skipped fails (gtest_strict)
#   bench_train_*     the demo MLP and CNN at batch 128 and 1024: kiln eager, kiln with CUDA Graph capture
#                     (--graph) and PyTorch eager (bench/train_torch.py --device cuda), samples/s and peak
#                     device memory
#   gpu_ops_*         GEMM and conv TFLOP/s, kiln (kiln_bench_gpu_ops) and PyTorch (bench/gpu_ops_torch.py),
#                     lines "name TFLOP/s ms"; skipped where either program is absent
#   distributed_nccl  one rank: an NCCL all-reduce and a 1-GPU DDP step (where MPI is installed)
#   sanitizer_*       compute-sanitizer memcheck on test_cuda, racecheck on two short tests. Last, because
#                     their run time is the least predictable: a shortfall costs them, not the numbers.
# Every stage runs even when an earlier one failed (nothing runs without a build). Each stage's exit code,
# duration and last lines go to the results file, $OUT/gpu-check-results.txt when OUT is set, else
# build/gpu/gpu-check-results.txt, which ends with the ratio tables; full logs sit next to it. The PyTorch
# side uses the machine's python3 (PYTHON to override). Exit code: 0 only if every stage passed.
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
python=${PYTHON:-python3}
failed=0
start_all=$(date +%s)
deadline=$((start_all + ${BUDGET_S:-450}))

{
  echo "kiln gpu-check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi failed"
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo 'not on PATH'); $(nproc) cores"
} >"$results"

# stage NAME TIMEOUT_S CMD...: runs CMD with a time limit (cut to what is left of the budget), logging to
# $logs/NAME.log; never exits the script.
stage() {
  local name=$1 limit=$2
  shift 2
  local t0 rc left
  t0=$(date +%s)
  left=$((deadline - t0))
  if ((left < 15)); then
    echo "[$(date -u +%H:%M:%S)] stage $name: SKIPPED (time budget spent)" | tee -a "$results"
    failed=1
    return 0
  fi
  ((limit > left)) && limit=$left
  echo "[$(date -u +%H:%M:%S)] stage $name (limit ${limit}s): $*" | tee -a "$results"
  set +e
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1
  rc=$?
  set -e
  local secs=$(($(date +%s) - t0))
  ((rc != 0)) && failed=1
  echo "[$(date -u +%H:%M:%S)] stage $name: exit $rc after ${secs}s$( ((rc == 124)) && echo ' (TIMED OUT)')" |
    tee -a "$results"
  tail -n 12 "$logs/$name.log" | sed 's/^/    /' >>"$results"
  return 0
}

export PATH=/usr/local/cuda/bin:$PATH
export OMP_WAIT_POLICY=passive
# Cuda.RequiredDeviceIsAvailable fails (instead of skipping) without a usable device.
export KILN_REQUIRE_CUDA=1

# gtest_strict BIN ARGS...: runs a GoogleTest program; exit 1 if it fails or if any test skipped. On this
# machine a skip means kiln could not use the GPU (every CUDA test skips without a device), so a stage
# whose tests all skipped must not count as passed. Tests that skip because a device IS present ("a CUDA
# device is present": the no-device error paths) are the one expected kind.
gtest_strict() {
  local out rc skipped expected
  out=$(mktemp)
  set +e
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  skipped=$(grep -cE '^\[  SKIPPED \] [A-Za-z_0-9/.]+ \(' "$out" || true)
  expected=$(grep -c 'a CUDA device is present' "$out" || true)
  rm -f "$out"
  if ((skipped > expected)); then
    echo "gtest_strict: $((skipped - expected)) test(s) skipped; on the GPU machine a skip fails the stage"
    return 1
  fi
  return "$rc"
}
export -f gtest_strict

# ---- configure and build ----
cuda_tests=()
for src in tests/test_cuda*.cpp; do
  [[ -e $src ]] && cuda_tests+=("$(basename "$src" .cpp)")
done
targets=("${cuda_tests[@]}" test_ops kiln_bench_train)
grep -q 'kiln_bench_gpu_ops' bench/CMakeLists.txt 2>/dev/null && targets+=(kiln_bench_gpu_ops)
echo "CUDA test programs: ${cuda_tests[*]}" >>"$results"
# What the GPU image lacks comes from .gpu-deps (tools/gpu-deps.sh, carried by the device tool): Eigen,
# GoogleTest's sources, zlib. cuDNN comes from the toolkit or, failing that, PyTorch's nvidia-cudnn wheel.
deps_args=()
if [[ -d .gpu-deps ]]; then
  deps_args+=(-DCMAKE_PREFIX_PATH="$root/.gpu-deps" -DKILN_GTEST_SOURCE_DIR="$root/.gpu-deps/googletest"
    -DZLIB_INCLUDE_DIR="$root/.gpu-deps/include" -DZLIB_LIBRARY="$root/.gpu-deps/lib/libz.a")
fi
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
  cudnn_dir=$("$python" -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
    "$python" -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null || true)
  cudnn_lib=$(ls "$cudnn_dir"/lib/libcudnn.so* 2>/dev/null | head -1 || true)
  if [[ -n $cudnn_lib && -f $cudnn_dir/include/cudnn.h ]]; then
    deps_args+=(-DKILN_CUDNN_INCLUDE_DIR="$cudnn_dir/include" -DKILN_CUDNN_LIBRARY="$cudnn_lib")
    export LD_LIBRARY_PATH="$cudnn_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  echo "cuDNN: ${cudnn_lib:-not found (convolutions use the im2col fallback)}" >>"$results"
fi
stage configure 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON -DKILN_BUILD_TESTS=ON \
  -DKILN_BUILD_BENCH=ON -DKILN_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_ARCHITECTURES="${KILN_CUDA_ARCH:-90}" \
  "${deps_args[@]}"
# kiln::distributed's GPU check (an NCCL all-reduce and a 1-GPU DDP step) where MPI was found.
if grep -q '^KILN_MPI:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null && command -v mpirun >/dev/null; then
  targets+=(mpi_scenarios)
fi
stage build 330 cmake --build "$build" -j"$jobs" --target "${targets[@]}"

if [[ ! -x $build/tests/test_cuda ]]; then
  echo "no build: test and benchmark stages not run" | tee -a "$results"
  echo "total $(($(date +%s) - start_all))s; SOME STAGES FAILED" | tee -a "$results"
  exit 1
fi

# ---- tests ----
# First: can kiln use the GPU at all? If not, say why (the driver's answer and kiln's error) before the
# other stages fail one by one.
stage cuda_available 30 bash -c 'gtest_strict "$0" --gtest_filter=Cuda.RequiredDeviceIsAvailable' \
  "$build/tests/test_cuda"
if ! grep -q '^\[  PASSED  \] 1 test' "$logs/cuda_available.log"; then
  echo "kiln cannot use a CUDA device here: $(grep -m1 -E 'no usable|Failure|error' "$logs/cuda_available.log" || echo 'see cuda_available.log')" |
    tee -a "$results"
fi
for t in "${cuda_tests[@]}"; do
  if [[ -x $build/tests/$t ]]; then
    stage "$t" 90 bash -c 'gtest_strict "$@"' _ "$build/tests/$t"
  else
    echo "stage $t: not built" | tee -a "$results"
    failed=1
  fi
done
stage test_ops_cuda 120 bash -c 'gtest_strict "$@"' _ "$build/tests/test_ops" --gtest_filter='*Cuda*' \
  --gtest_brief=0
if [[ -x $build/tests/mpi/mpi_scenarios ]]; then
  stage distributed_nccl 60 mpirun --allow-run-as-root -np 1 "$build/tests/mpi/mpi_scenarios" gpu
else
  echo "stage distributed_nccl: skipped (no MPI on this machine, or kiln built without it)" | tee -a "$results"
fi

# ---- benchmarks ----
torch_ok=0
if "$python" -c 'import torch; assert torch.cuda.is_available(), "torch.cuda.is_available() is False"' \
  >"$logs/torch_import.log" 2>&1; then
  torch_ok=1
  echo "PyTorch: $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')" >>"$results"
else
  echo "PyTorch NOT usable with $python ($(tail -1 "$logs/torch_import.log")): PyTorch stages skipped" |
    tee -a "$results"
  failed=1
fi
for model in mlp cnn; do
  for batch in 128 1024; do
    steps=$([[ $model == mlp ]] && echo 50 || echo 20)
    common=("$model" --device cuda --batch "$batch" --steps "$steps" --reps 5)
    stage "bench_train_${model}_${batch}_kiln" 60 "$build/bench/kiln_bench_train" "${common[@]}"
    stage "bench_train_${model}_${batch}_kiln_graph" 60 "$build/bench/kiln_bench_train" "${common[@]}" --graph
    ((torch_ok)) && stage "bench_train_${model}_${batch}_torch" 90 "$python" bench/train_torch.py "${common[@]}"
  done
done
if [[ -x $build/bench/kiln_bench_gpu_ops && -f bench/gpu_ops_torch.py ]]; then
  stage gpu_ops_kiln 90 "$build/bench/kiln_bench_gpu_ops"
  ((torch_ok)) && stage gpu_ops_torch 90 "$python" bench/gpu_ops_torch.py
else
  echo "gpu_ops stages skipped: kiln_bench_gpu_ops or bench/gpu_ops_torch.py absent" | tee -a "$results"
fi

# ---- sanitizers ----
if command -v compute-sanitizer >/dev/null; then
  # The error-message test makes CUDA calls fail on purpose (an impossible cudaMalloc), which memcheck
  # would report as API errors; everything else runs under it.
  stage sanitizer_memcheck_test_cuda 150 compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$build/tests/test_cuda" --gtest_filter='-*ErrorsNameTheOp*' --gtest_brief=1
  stage sanitizer_racecheck 60 compute-sanitizer --tool racecheck --error-exitcode 1 "$build/tests/test_cuda" \
    --gtest_filter='*Reductions*' --gtest_brief=1
  # The batch-norm kernels' shared-memory block sums (tests/test_cuda_batch_norm.cpp, its short cases).
  stage sanitizer_racecheck_batch_norm 60 compute-sanitizer --tool racecheck --error-exitcode 1 \
    "$build/tests/test_cuda_batch_norm" --gtest_filter='*RunningStatistics*:*SecondOrder*' --gtest_brief=1
else
  echo "compute-sanitizer not found: sanitizer stages skipped" | tee -a "$results"
  failed=1
fi

# ---- summary tables ----
# field LOG SED_REGEX: the first capture of the regex in the log's result line, or "-".
field() {
  local line
  line=$(grep -E '^(kiln|torch) ' "$1" 2>/dev/null | tail -1 || true)
  [[ -z $line ]] && { echo "-"; return; }
  grep -q 'FAILED:' <<<"$line" && { echo "FAILED"; return; }
  local v
  v=$(sed -nE "s/$2/\1/p" <<<"$line")
  echo "${v:--}"
}
# mem LOG: "whole (step)" from a result line's "peak device memory W MiB (step S MiB)".
mem() {
  local v
  v=$(field "$1" '.*peak device memory ([0-9.]+) MiB \(step ([0-9.-]+) MiB\).*')
  [[ $v == - || $v == FAILED ]] && { echo "$v"; return; }
  sed -nE 's/.*peak device memory ([0-9.]+) MiB \(step ([0-9.-]+) MiB\).*/\1 (\2)/p' \
    <<<"$(grep -E '^(kiln|torch) ' "$1" | tail -1)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
{
  echo
  echo "## Training step on the GPU (samples/s; kiln / PyTorch eager; peak device memory, MiB: whole / step)"
  echo "| model | batch | kiln | kiln graph | PyTorch | kiln/torch | graph/torch | kiln peak (step) | torch peak (step) | graph capture |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  rate='.*: ([0-9]+) samples\/s.*'
  for model in mlp cnn; do
    for batch in 128 1024; do
      k=$(field "$logs/bench_train_${model}_${batch}_kiln.log" "$rate")
      g=$(field "$logs/bench_train_${model}_${batch}_kiln_graph.log" "$rate")
      t=$(field "$logs/bench_train_${model}_${batch}_torch.log" "$rate")
      km=$(mem "$logs/bench_train_${model}_${batch}_kiln.log")
      tm=$(mem "$logs/bench_train_${model}_${batch}_torch.log")
      gs=$(field "$logs/bench_train_${model}_${batch}_kiln_graph.log" '.*graph: ([a-z ]+),.*')
      timed=$(field "$logs/bench_train_${model}_${batch}_kiln.log" '.*timed ([^,]+),.*')
      echo "| $model | $batch | $k | $g | $t | $(ratio "$k" "$t") | $(ratio "$g" "$t") | $km | $tm | $gs; kiln timed $timed |"
    done
  done
  if [[ -f $logs/gpu_ops_kiln.log ]]; then
    echo
    echo "## GPU ops (TFLOP/s; kiln / PyTorch)"
    echo "| op | kiln TFLOP/s | kiln ms | PyTorch TFLOP/s | PyTorch ms | kiln/torch |"
    echo "|---|---|---|---|---|---|"
    awk 'NF == 3 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ { print $1, $2, $3 }' "$logs/gpu_ops_kiln.log" |
      while read -r name tf ms; do
        read -r ttf tms < <(awk -v n="$name" 'NF == 3 && $1 == n { print $2, $3 }' "$logs/gpu_ops_torch.log" \
          2>/dev/null || true)
        echo "| $name | $tf | $ms | ${ttf:--} | ${tms:--} | $(ratio "$tf" "${ttf:-0}") |"
      done
  fi
  echo
  echo "## CUDA test counts"
  for t in "${cuda_tests[@]}" test_ops_cuda; do
    echo "$t: $(grep -E '^\[ +(PASSED|SKIPPED|FAILED) +\] [0-9]+ test' "$logs/$t.log" 2>/dev/null | tr '\n' ' ')"
  done
} >>"$results"

echo "total $(($(date +%s) - start_all))s; $([[ $failed -eq 0 ]] && echo 'ALL STAGES PASSED' || echo 'SOME STAGES FAILED')" |
  tee -a "$results"
echo "results: $results (logs in $logs)"
exit $failed
