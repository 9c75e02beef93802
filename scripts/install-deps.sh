#!/usr/bin/env bash
# Installs the Debian packages kiln needs to build, test, benchmark and run its demo. Idempotent: only
# missing packages are installed. With --fixtures it also installs PyTorch, NumPy, scikit-learn and
# pandas, which are needed only to regenerate the test fixtures and run the peer comparisons by hand.
set -euo pipefail

# Build and test: toolchain, Eigen, GoogleTest/Benchmark, zlib; the data set; HDF5 (checkpoints; h5dump
# for the file-tree check); FlatBuffers (TFLite export); libcurl + nlohmann-json (MLflow client); OpenMPI
# (distributed); rsvg-convert (renders the SVG plots in tests); clang (libFuzzer); python3-venv (the test
# validators' virtual environment, scripts/test-venv.sh); Debian's h5py and torch (checkpoint interop test);
# iproute2 (`ip netns`: the distributed tests' two network namespaces joined by a veth pair).
packages=(cmake g++ make libeigen3-dev libgtest-dev libgmock-dev googletest libbenchmark-dev zlib1g-dev
          dataset-fashion-mnist libopenblas-dev clang-format git python3 ccache
          libhdf5-dev hdf5-tools flatbuffers-compiler libflatbuffers-dev libcurl4-openssl-dev
          nlohmann-json3-dev libopenmpi-dev openmpi-bin librsvg2-bin clang python3-venv
          python3-h5py python3-torch python3-numpy iproute2)

for arg in "$@"; do
  case "$arg" in
    --fixtures) packages+=(python3-torch python3-numpy python3-sklearn python3-pandas) ;;
    -h|--help) echo "usage: $0 [--fixtures]"; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg' (usage: $0 [--fixtures])" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
