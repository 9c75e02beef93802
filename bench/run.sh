#!/usr/bin/env bash
# bench/run.sh: runs kiln's benchmarks (already built by `make bench`) and writes $BUILD_DIR/bench-results/
# (build/release by default): raw Google Benchmark JSON, logs and summary.md.
#   - kiln_bench_gemm --check first (kiln's GEMM results against OpenBLAS's);
#   - the GEMM benchmark, kiln and OpenBLAS interleaved REPS times (default 5), the order alternating,
#     2 threads each (THREADS); OpenBLAS runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for its
#     command only, so it picks its best (AVX-512) kernels; the table gives per-shape medians;
#   - kiln_bench_ops once;
#   - kiln_bench_op_table once (every op-table case, forward and forward+backward), when built: its
#     table goes to op_table.txt only, as it has a line per case.
# Environment: REPS, THREADS, BUILD_DIR (default build/release), MIN_TIME (seconds per benchmark, 0.5),
# IDLE_WAIT (up to this many seconds before each repetition waiting for other processes to go idle; 0),
# RT_PRIORITY (run the benchmarks under `chrt -f RT_PRIORITY`, ahead of other processes: needs root or
# CAP_SYS_NICE; for shared machines that never go idle).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPS=${REPS:-5}
THREADS=${THREADS:-2}
MIN_TIME=${MIN_TIME:-0.5}
IDLE_WAIT=${IDLE_WAIT:-0}
BUILD_DIR=${BUILD_DIR:-build/release}
gemm=$BUILD_DIR/bench/kiln_bench_gemm
ops=$BUILD_DIR/bench/kiln_bench_ops
out=$BUILD_DIR/bench-results

for exe in "$gemm" "$ops"; do
  if [[ ! -x "$exe" ]]; then
    echo "bench: $exe not found; build first (make bench), with KILN_BUILD_BENCH=ON in $BUILD_DIR" >&2
    exit 1
  fi
done
rm -rf "$out"
mkdir -p "$out"

have_openblas=0
if [[ -n "$("$gemm" --benchmark_list_tests --benchmark_filter=openblas)" ]]; then have_openblas=1; fi

launch=()
if [[ -n "${RT_PRIORITY:-}" ]]; then
  launch=(chrt -f "$RT_PRIORITY")
  if ! "${launch[@]}" true 2>/dev/null; then
    echo "bench: cannot use chrt -f $RT_PRIORITY here (needs root or CAP_SYS_NICE)" >&2
    exit 1
  fi
  echo "realtime priority $RT_PRIORITY" >"$out/priority.txt"
fi

common=(--benchmark_min_time="$MIN_TIME" --benchmark_out_format=json)

run_kiln() {  # $1: rep
  KILN_BENCH_THREADS=$THREADS "${launch[@]}" "$gemm" --benchmark_filter=kiln "${common[@]}" \
    --benchmark_out="$out/gemm-kiln-$1.json" >>"$out/gemm.log" 2>&1
}
run_openblas() {  # $1: rep. The env -u applies to this command only.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" KILN_BENCH_THREADS="$THREADS" \
    "${launch[@]}" "$gemm" --benchmark_filter=openblas "${common[@]}" --benchmark_out="$out/gemm-openblas-$1.json" \
    >>"$out/gemm.log" 2>&1
}

echo "bench: checking kiln's GEMM results"
if ! KILN_BENCH_THREADS=$THREADS "$gemm" --check >"$out/gemm-check.txt"; then
  cat "$out/gemm-check.txt"
  echo "bench: kiln's GEMM gives wrong results; not timing it" >&2
  exit 1
fi

# Other processes on the machine skew every number here. Before each repetition, while nothing of ours
# runs, the machine's busy CPUs over one second (0 = idle, 2 = both of 2 CPUs busy) go into summary.md.
other_cpu_busy() {
  local a b
  read -ra a < <(head -1 /proc/stat)
  sleep 1
  read -ra b < <(head -1 /proc/stat)
  awk -v u="$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7]))" \
    -v i="$((b[4] + b[5] - a[4] - a[5]))" -v n="$(nproc)" 'BEGIN { printf "%.2f\n", (u + i > 0) ? n * u / (u + i) : 0 }'
}

for ((r = 1; r <= REPS; r++)); do
  echo "bench: gemm repetition $r/$REPS (log: $out/gemm.log)"
  busy=$(other_cpu_busy)
  for ((waited = 0; waited < IDLE_WAIT; waited++)); do  # IDLE_WAIT: seconds to wait for an idle machine
    awk -v b="$busy" 'BEGIN { exit !(b > 0.2) }' || break
    busy=$(other_cpu_busy)
  done
  echo "$busy" >>"$out/other-busy.txt"
  if ((have_openblas == 0)); then
    run_kiln "$r"
  elif ((r % 2 == 1)); then
    run_kiln "$r"
    run_openblas "$r"
  else
    run_openblas "$r"
    run_kiln "$r"
  fi
done

echo "bench: elementwise and reductions"
KILN_BENCH_THREADS=$THREADS "${launch[@]}" "$ops" "${common[@]}" --benchmark_out="$out/ops.json" >"$out/ops.log" 2>&1
op_table=$BUILD_DIR/bench/kiln_bench_op_table
if [[ -x "$op_table" ]]; then
  KILN_BENCH_THREADS=$THREADS "${launch[@]}" "$op_table" --benchmark_min_time=0.05 >"$out/op_table.txt" 2>&1
fi

python3 - "$out" "$THREADS" "$REPS" <<'EOF'
import glob, json, os, statistics, sys

out, threads, reps = sys.argv[1], sys.argv[2], sys.argv[3]
TARGET = 0.75  # kiln / OpenBLAS at the MLP shapes


def load(pattern):
    """{benchmark name: [value per file]} for every JSON file matching pattern, plus the first context."""
    values, context = {}, None
    for path in sorted(glob.glob(os.path.join(out, pattern))):
        with open(path) as f:
            doc = json.load(f)
        context = context or doc.get("context", {})
        for b in doc["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            key = "GFLOP/s" if "GFLOP/s" in b else "GB/s"
            values.setdefault(b["name"].removesuffix("/real_time"), []).append((b.get(key), b["real_time"], b["time_unit"]))
    return values, context or {}


def median(vals):
    return statistics.median(v[0] for v in vals) if vals else None


def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"


kiln, ctx = load("gemm-kiln-*.json")
blas, blas_ctx = load("gemm-openblas-*.json")
shapes = []
for name in kiln:
    family, shape = name.split("/", 1)
    if shape not in shapes:
        shapes.append(shape)

lines = []
cpu = f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
lines.append(f"## GEMM (f32), median of {reps} interleaved runs, {threads} threads, {cpu}")
try:
    with open(os.path.join(out, "other-busy.txt")) as f:
        busy = [float(x) for x in f.read().split()]
    rt = os.path.exists(os.path.join(out, "priority.txt"))
    note = ""
    if max(busy) > 0.2:
        note = (" (run at real-time priority, ahead of them: expect some noise)" if rt
                else " (the machine was not idle: the numbers are unreliable)")
    lines.append(f"CPUs kept busy by other processes (sampled 1 s before each repetition): "
                 f"{min(busy):.2f} to {max(busy):.2f}{note}")
except (OSError, ValueError):
    pass
if blas_ctx.get("openblas"):
    lines.append(f"OpenBLAS: `{blas_ctx['openblas']}`")
lines.append("")
lines.append("| shape | kiln GFLOP/s (matmul) | kiln GFLOP/s (raw gemm) | OpenBLAS GFLOP/s | ratio | raw ratio |")
lines.append("|---|---:|---:|---:|---:|---:|")
for shape in shapes:
    k = median(kiln.get("BM_kiln_gemm/" + shape, []))
    kr = median(kiln.get("BM_kiln_gemm_raw/" + shape, []))
    o = median(blas.get("BM_openblas_sgemm/" + shape, []))
    ratio = k / o if k and o else None
    raw_ratio = kr / o if kr and o else None
    flag = ""
    if ratio is not None and shape.startswith("fc"):
        flag = " ok" if ratio >= TARGET else f" below {TARGET}"
    lines.append(f"| {shape} | {fmt(k)} | {fmt(kr)} | {fmt(o)} | {fmt(ratio, 2)}{flag} | {fmt(raw_ratio, 2)} |")
if not blas:
    lines.append("")
    lines.append("(built without OpenBLAS: no comparison)")

ops, _ = load("ops.json")
lines.append("")
lines.append(f"## Elementwise and reductions (f32), {threads} threads")
lines.append("")
lines.append("| benchmark | GB/s | µs per call |")
lines.append("|---|---:|---:|")
for name, vals in ops.items():
    gbs, t, unit = vals[0]
    us = t * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]
    lines.append(f"| {name} | {fmt(gbs)} | {us:.1f} |")

text = "\n".join(lines) + "\n"
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(text)
print()
print(text, end="")
print(f"\n(written to {os.path.join(out, 'summary.md')})")
EOF
