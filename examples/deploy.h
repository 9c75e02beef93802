// examples/deploy.h: the demo's last step. Exports a trained model for deployment (float32 and full-integer
// int8 TFLite, ONNX), prints each file's size and, where the project's test environment holds the real
// interpreters (scripts/test-venv.sh), the test accuracy LiteRT and ONNX Runtime measure on each file.
#pragma once

#include <string>

#include <kiln/kiln.h>

// stem: the output path without extension (e.g. "out/mlp"); calibration: training images for int8;
// test_x / test_y: the whole test set (f32 images, i64 labels); kiln_accuracy: kiln's own on it.
void export_for_deployment(kiln::nn::Module& model, const std::string& stem, const kiln::Tensor& calibration,
                           const kiln::Tensor& test_x, const kiln::Tensor& test_y, double kiln_accuracy);
