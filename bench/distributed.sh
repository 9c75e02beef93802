#!/usr/bin/env bash
# bench/distributed.sh [BUILD_DIR]: data-parallel scaling (1 vs 2 processes, 1 thread each) of the demo MLP
# and a wide MLP with overlap on and off, and all-reduce bandwidth next to raw MPI_Allreduce.
set -euo pipefail
build=${1:-build/cpu}
bin=$build/bench/kiln_bench_distributed
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=passive)
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
for model in demo wide; do
  for np in 1 2; do "${mpirun[@]}" -np $np "$bin" train $model; done
done
"${mpirun[@]}" -np 2 "$bin" allreduce
