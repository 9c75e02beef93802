#!/usr/bin/env bash
# tests/layering/includes_resolve.sh SOURCE_DIR: every `#include <kiln/...>` in the tree resolves from the
# tree alone, through include/ (the committed links include/kiln/<folder> -> ../../<folder>), as an editor
# or any tool given `-Iinclude` (compile_flags.txt) resolves it before a build.
set -euo pipefail
root=$1
cd "$root"
status=0
for folder in tensor autograd nn optim data classic kernels; do
  link=include/kiln/$folder
  if [[ ! -L $link || $(readlink "$link") != "../../$folder" ]]; then
    echo "includes_resolve: $link must be a relative link to ../../$folder" >&2
    status=1
  fi
done
while IFS=: read -r file line target; do
  if [[ ! -f include/$target ]]; then
    echo "includes_resolve: $file:$line includes $target, which include/ does not resolve" >&2
    status=1
  fi
done < <(grep -rnoE --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' \
  '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]kiln/[^>"]+' \
  tensor autograd nn optim data classic kernels include tests examples bench |
  sed -E 's/#[[:space:]]*include[[:space:]]*[<"]//; s/^([^:]*:[^:]*):[[:space:]]*/\1:/')
exit $status
