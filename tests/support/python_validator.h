// Runs the real validators (TensorBoard, MLflow, LiteRT, ONNX Runtime, h5py, PyTorch) from tests. The
// interpreter is the project's test virtual environment (scripts/test-venv.sh, created by `make test`),
// or Debian's /usr/bin/python3 for the packages that come from Debian (python3-torch, python3-h5py).
// A validator that is missing is a failure with its reason, never a silent pass.
#pragma once

#include <string>
#include <vector>

namespace kiln::test {

struct PythonResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// The test environment's python (KILN_TEST_PYTHON at build time, or $KILN_TEST_PYTHON), or "" when it
// does not exist. `reason` then says how to create it.
std::string test_python(std::string* reason = nullptr);

// Runs `python -c script args...` and returns its exit code and output. `python` defaults to the test
// environment's interpreter; pass "/usr/bin/python3" for Debian's.
PythonResult run_python(const std::string& script, const std::vector<std::string>& args = {},
                        std::string python = {});

// True when `python` can import every module in `modules`; otherwise false with the import error in
// `reason`. Use as: `if (!python_has({"h5py"}, &why)) FAIL() << why;`
bool python_has(const std::vector<std::string>& modules, std::string* reason, std::string python = {});

}  // namespace kiln::test
