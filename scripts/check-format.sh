#!/usr/bin/env bash
# Checks that every C++/CUDA source tracked by git (or untracked but not ignored) is clang-formatted.
# Prints the offending files and exits 1 if any are not; fix them with `make format`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v clang-format >/dev/null 2>&1; then
  echo "check-format: clang-format not found; run scripts/install-deps.sh" >&2
  exit 1
fi

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh' | sort -u)

bad=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue  # deleted in the working tree but still in the index
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done

if [[ ${#bad[@]} -gt 0 ]]; then
  echo "format: ${#bad[@]} file(s) need clang-format (run 'make format'):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files clean"
