#!/usr/bin/env bash
# Creates (or updates) the ONE virtual environment that holds the test-time validators from PyPI: the
# real TensorBoard, MLflow, LiteRT and ONNX Runtime interpreters, ONNX's checker, h5py and NumPy. Pinned,
# idempotent (a stamp of this file's pins skips pip when nothing changed), called by `make test`.
# Prints the environment's python on its last line. Tests find it as KILN_TEST_PYTHON (set by CMake).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=${KILN_TEST_VENV:-.venv/test}

pins=(
  numpy==2.4.6
  h5py==3.16.0
  tensorboard==2.21.0
  mlflow==3.18.0
  onnx==1.23.2
  onnxruntime==1.32.0
  ai-edge-litert==2.3.0
)

stamp="$venv/.kiln-pins"
want=$(printf '%s\n' "${pins[@]}")
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "test-venv: up to date ($venv)" >&2
  echo "$PWD/$venv/bin/python"
  exit 0
fi

# Debian's interpreter (python3-venv comes from scripts/install-deps.sh), not whatever python3 is first on PATH.
/usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
printf '%s\n' "$want" > "$stamp"
echo "test-venv: installed ${pins[*]} into $venv" >&2
echo "$PWD/$venv/bin/python"
