# kiln developer entry points. `make test` installs missing packages, builds the release preset, checks
# formatting, creates the test validators' virtual environment (scripts/test-venv.sh) and runs the test
# suite; `make demo` builds and runs the Fashion-MNIST demo. `make test-bad-inputs-asan` runs the
# hostile-input suite under ASan + UBSan (an ASan build of the libraries: too slow for CI's budget yet).
# The real build lives in CMake (see CMakePresets.json); this file only sequences it.

JOBS ?= $(shell nproc)

.DEFAULT_GOAL := build
.PHONY: deps build test demo bench test-asan test-bad-inputs-asan format clean

deps:
	scripts/install-deps.sh

build: deps
	cmake --preset release
	cmake --build --preset release -j$(JOBS)

test: build
	scripts/check-format.sh
	scripts/test-venv.sh >/dev/null
	ctest --preset release

test-bad-inputs-asan: deps
	scripts/asan-bad-inputs.sh

demo: build
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
