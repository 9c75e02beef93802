# kiln developer entry points. `make test` installs missing packages, builds the release preset, checks
# formatting, creates the test validators' virtual environment (scripts/test-venv.sh) and runs the test
# suite; `make test-cpu` does the same for the CPU-only preset (no CUDA backend); `make demo` builds the
# Fashion-MNIST demo (and only what it links) and runs it; `make test-bad-inputs-asan` runs the
# hostile-input suite under ASan + UBSan. `.ci/run` is CI: all of these checks, timed per stage.
# The real build lives in CMake (see CMakePresets.json); this file only sequences it.

JOBS ?= $(shell nproc)

.DEFAULT_GOAL := build
.PHONY: deps build build-cpu test test-cpu demo bench test-asan test-bad-inputs-asan format clean

deps:
	scripts/install-deps.sh

build: deps
	cmake --preset release
	cmake --build --preset release -j$(JOBS)

build-cpu: deps
	cmake --preset cpu
	cmake --build --preset cpu -j$(JOBS)

test: build
	scripts/check-format.sh
	scripts/test-venv.sh >/dev/null
	ctest --preset release

test-cpu: build-cpu
	scripts/test-venv.sh >/dev/null
	ctest --preset cpu

test-bad-inputs-asan: deps
	scripts/asan-bad-inputs.sh

demo: deps
	cmake --preset release
	cmake --build --preset release -j$(JOBS) --target fashion_mnist_demo tabular
	scripts/test-venv.sh >/dev/null  # LiteRT and ONNX Runtime check the demo's exported files
	build/release/examples/fashion_mnist_demo
	build/release/examples/tabular

bench: build
	bench/run.sh

test-asan: deps
	cmake --preset asan
	cmake --build --preset asan -j$(JOBS)
	ctest --preset asan

format:  # same file set as scripts/check-format.sh: tracked, plus untracked files git does not ignore
	git ls-files -z --cached --others --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh' | xargs -0 -r clang-format -i

clean:
	rm -rf build
