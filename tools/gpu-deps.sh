#!/usr/bin/env bash
# tools/gpu-deps.sh: gathers, on this development machine, what tools/gpu-check.sh needs on the GPU
# machine and cannot fetch there (that image has nvcc, CMake, PyTorch and cuDNN's Python wheel, but not
# Debian's Eigen, GoogleTest or zlib headers, and nothing can be downloaded on it). It writes .gpu-deps/
# (git-ignored, about 14 MB):
#   include/eigen3, lib/cmake/Eigen3   Eigen's headers and a relocatable package config
#   googletest/                        GoogleTest's sources (built with the tests, no ABI coupling)
#   include/zlib.h, zconf.h, lib/libz.a
# The device tool must carry it: run(command="tools/gpu-check.sh", carry=[".gpu-deps"]).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/.gpu-deps
rm -rf "$out.tmp"
mkdir -p "$out.tmp/include" "$out.tmp/lib/cmake/Eigen3"
cp -r /usr/include/eigen3 "$out.tmp/include/"
version=$(sed -n 's/^#define EIGEN_\(WORLD\|MAJOR\|MINOR\)_VERSION \([0-9]*\)/\2/p' \
  /usr/include/eigen3/Eigen/src/Core/util/Macros.h | paste -sd.)
cat >"$out.tmp/lib/cmake/Eigen3/Eigen3Config.cmake" <<CFG
# Relocatable stand-in for Debian's Eigen3 config (tools/gpu-deps.sh).
get_filename_component(_kiln_eigen_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET Eigen3::Eigen)
  add_library(Eigen3::Eigen INTERFACE IMPORTED)
  set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${_kiln_eigen_prefix}/include/eigen3")
endif()
set(EIGEN3_INCLUDE_DIR "\${_kiln_eigen_prefix}/include/eigen3")
CFG
cat >"$out.tmp/lib/cmake/Eigen3/Eigen3ConfigVersion.cmake" <<CFG
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
CFG
cp -r /usr/src/googletest "$out.tmp/googletest"
cp /usr/include/zlib.h /usr/include/zconf.h "$out.tmp/include/"
cp /usr/lib/x86_64-linux-gnu/libz.a "$out.tmp/lib/"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "gpu-deps: $(du -sh "$out" | cut -f1) in $out (Eigen $version)"
