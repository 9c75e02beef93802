#!/usr/bin/env bash
# Installs the Debian packages kiln needs to build, test, benchmark and run its demo. Idempotent: only
# missing packages are installed. With --fixtures it also installs PyTorch, NumPy, scikit-learn and
# pandas, which are needed only to regenerate the test fixtures and run the peer comparisons by hand.
set -euo pipefail

packages=(cmake g++ make libeigen3-dev libgtest-dev libgmock-dev googletest libbenchmark-dev zlib1g-dev
          dataset-fashion-mnist libopenblas-dev clang-format git python3 ccache)

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
