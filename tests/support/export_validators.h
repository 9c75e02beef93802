// The real interpreters behind the export tests: LiteRT (ai-edge-litert) and ONNX Runtime + onnx.checker,
// run in the test environment's python on files kiln wrote. A missing validator is a test failure with
// its reason (python_validator.h).
#pragma once

#include <string>

#include <kiln/kiln.h>

namespace kiln::test {

struct InterpreterResult {
  bool ok = false;
  std::string output;    // the validator's output (the error, when !ok)
  double max_abs = -1;   // max |interpreter - expected| when expected was given
  double accuracy = -1;  // argmax accuracy when labels were given
};

// Runs the .tflite at `model` (loaded from bytes, so the flatbuffer verifier runs; one thread) on x
// (float32; quantized with the file's input parameters when its input is int8), resizing its batch to
// `chunk` images at a time, and compares with `expected` and/or `labels` (undefined to skip).
InterpreterResult run_litert(const std::string& model, const Tensor& x, const Tensor& expected,
                             const Tensor& labels, int64_t chunk = 1000);

// onnx.checker.check_model(full_check=True), then ONNX Runtime (CPU, one thread) on x vs expected and/or
// labels (undefined to skip).
InterpreterResult run_onnxruntime(const std::string& model, const Tensor& x, const Tensor& expected,
                                  const Tensor& labels = {});

}  // namespace kiln::test
