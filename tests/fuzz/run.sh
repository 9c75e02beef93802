#!/usr/bin/env bash
# tests/fuzz/run.sh [BUILD_DIR]: builds the libFuzzer targets for the CSV and IDX readers and the HDF5
# checkpoint reader with clang (-fsanitize=fuzzer,address,undefined) from the kiln_tensor and kiln_data
# sources (and nn/io's HDF5 reader with the system libhdf5, for the checkpoint target), then runs each for
# a bounded time from the committed seed corpus (tests/fuzz/corpus/*, which holds fields of thousands of
# bytes, wide and long tables, UTF-16 text and real checkpoints, so mutations reach the large-field paths).
# ctest runs it as `fuzz_parsers` (a few minutes in all); by hand, `FUZZ_SECONDS=600 tests/fuzz/run.sh`
# fuzzes 600 s per target.
# Exit 77 (ctest's SKIP_RETURN_CODE) when clang++ or its libFuzzer runtime is missing.
# Environment: FUZZ_SECONDS (per target; default 60), FUZZ_MAX_LEN (largest input; default 65536), CXX_FUZZ (default clang++), FUZZ_JOBS (default 1).
# New interesting inputs are kept in BUILD_DIR/corpus-*, never in the committed corpus; crashes are written
# to BUILD_DIR/crash-* and fail the run.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$src/build/fuzz}
seconds=${FUZZ_SECONDS:-60}
max_len=${FUZZ_MAX_LEN:-65536}
cxx=${CXX_FUZZ:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: skipped ($cxx not found; install clang to fuzz the CSV and IDX readers)"
  exit 77
fi
mkdir -p "$build"
probe=$build/probe.cpp
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe"
if ! "$cxx" -fsanitize=fuzzer "$probe" -o "$build/probe" >/dev/null 2>&1; then
  echo "fuzz: skipped ($cxx has no libFuzzer runtime; on Debian install libclang-rt-dev or clang's full package)"
  exit 77
fi

# A private include root that holds only tensor/ and data/, as the library build does.
mkdir -p "$build/include/kiln"
ln -sfn "$src/tensor" "$build/include/kiln/tensor"
ln -sfn "$src/data" "$build/include/kiln/data"
mkdir -p "$build/include/kiln/nn"
ln -sfn "$src/nn/io" "$build/include/kiln/nn/io"
hdf5_flags=$(pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
hdf5_libs=$(pkg-config --libs hdf5 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
# ccache (when installed) makes a fresh build dir cheap after the first build in any checkout.
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(env CCACHE_BASEDIR="$src" ccache); fi
flags=(-std=c++20 -O1 -gline-tables-only -fno-omit-frame-pointer -fopenmp -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -I"$build/include")

# Rebuild the objects when any source or header is newer than the last build.
stamp=$build/.built
sources=("$src"/tensor/*.cpp "$src"/data/csv.cpp "$src"/data/table.cpp "$src"/data/idx.cpp)
# The checkpoint reader alone (the writer needs autograd for device copies).
hdf5_sources=("$src"/nn/io/crc32.cpp "$src"/nn/io/hdf5_handle.cpp "$src"/nn/io/hdf5_types.cpp "$src"/nn/io/hdf5_read.cpp "$src"/nn/io/hdf5_read_tensor.cpp
              "$src"/nn/io/hdf5_format_read.cpp)
if [[ ! -f $stamp ]] || [[ -n $(find "$src/tensor" "$src/data" "$src/nn/io" "$src/tests/fuzz" -newer "$stamp" -type f \
                                    -name '*.[ch]*' | head -1) ]]; then
  echo "fuzz: compiling ${#sources[@]} library sources with $cxx"
  mkdir -p "$build/obj"
  rm -f "$build"/obj/*.o
  pids=()
  for s in "${sources[@]}"; do
    o=$build/obj/$(basename "$(dirname "$s")")_$(basename "${s%.cpp}").o
    "${launcher[@]}" "$cxx" "${flags[@]}" -c "$s" -o "$o" &
    pids+=($!)
    if (( ${#pids[@]} >= 2 )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  mkdir -p "$build/obj-hdf5"
  rm -f "$build"/obj-hdf5/*.o
  for s in "${hdf5_sources[@]}"; do
    "${launcher[@]}" "$cxx" "${flags[@]}" $hdf5_flags -c "$s" -o "$build/obj-hdf5/$(basename "${s%.cpp}").o" &
    pids+=($!)
    if (( ${#pids[@]} >= 2 )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for target in fuzz_csv fuzz_idx; do
    "$cxx" "${flags[@]}" -fsanitize=fuzzer "$src/tests/fuzz/$target.cpp" "$build"/obj/*.o -lz -o "$build/$target"
  done
  "$cxx" "${flags[@]}" $hdf5_flags -fsanitize=fuzzer "$src/tests/fuzz/fuzz_checkpoint.cpp" "$build"/obj/*.o \
    "$build"/obj-hdf5/*.o $hdf5_libs -lz -o "$build/fuzz_checkpoint"
  touch "$stamp"
fi

status=0
for target in fuzz_csv fuzz_idx fuzz_checkpoint; do
  corpus=$build/corpus-${target#fuzz_}
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds} s"
  if ! (cd "$build" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        LSAN_OPTIONS=suppressions="$src/tests/fuzz/lsan_hdf5.supp" \
        "./$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -dict="$src/tests/fuzz/$target.dict" \
        "$corpus" "$src/tests/fuzz/corpus/${target#fuzz_}" >"$build/$target.log" 2>&1); then
    echo "fuzz: $target FAILED; the end of $build/$target.log:"
    tail -40 "$build/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$target.log" | sed "s/^/fuzz: $target /"
  fi
done
exit $status
