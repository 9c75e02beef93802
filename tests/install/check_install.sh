#!/usr/bin/env bash
# tests/install/check_install.sh BUILD_DIR WORK_DIR: installs the build into WORK_DIR/prefix, checks that
# the installed headers are the public ones and complete, then configures, builds and runs a consumer
# project against it with find_package(kiln), with Eigen and nlohmann_json unfindable (they are private
# to kiln's libraries, so the package must not need them).
set -euo pipefail
build=$1 work=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
include=$work/prefix/include
private=$(find "$include" -name '*_detail.h')
if [[ -n $private ]]; then
  echo "install_package: private headers were installed:"$'\n'"$private" >&2
  exit 1
fi
# Every kiln header an installed header includes must be installed too.
missing=0
while IFS= read -r header; do
  while IFS= read -r target; do
    if [[ ! -f $include/$target ]]; then
      echo "install_package: ${header#"$include"/} includes $target, which is not installed" >&2
      missing=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\(kiln\/[^>"]*\)[>"].*/\1/p' "$header")
done < <(find "$include" -name '*.h')
((missing == 0)) || exit 1
cmake -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"
