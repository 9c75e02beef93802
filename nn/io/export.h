// kiln/nn/io/export.h: writing a trained model for deployment, as a TFLite flatbuffer (run by LiteRT on
// phones and microcontrollers) or an ONNX model (ONNX Runtime and the other ONNX back ends). What is
// written is the computation of one forward pass, traced in eval mode on an example input
// (trace_graph.h), so any module built from exportable ops exports, whatever its class. Before writing,
// Dropout is removed, BatchNorm folded into the layer before it, relu/relu6 fused where the format fuses
// activations, constants folded and dead values dropped (export_passes.h). An op a format cannot
// express is a kiln::Error at export time naming the op and the module it ran in, e.g.
// "export: layers.3 (GELU) runs 'gelu', which kiln cannot export". Files are written atomically.
// Depends on nn/module.h.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/nn/module.h"

namespace kiln::nn::io {

enum class TFLiteQuantization {
  float32,       // weights and compute in float32
  float16,       // weights stored as float16, dequantized to float32 at load (half the file size)
  dynamic_int8,  // weights int8 (per-channel for convolutions); activations float, quantized on the fly
  int8,          // full-integer: int8 weights, activations and kernels, calibrated on example data
};

enum class Calibration {
  minmax,      // each activation's range is its min and max over the calibration data
  percentile,  // the `percentile` and 100 - `percentile` quantiles (robust to outliers), batch-averaged
};

enum class Layout { nchw, nhwc };

struct TFLiteOptions {
  TFLiteQuantization quantization = TFLiteQuantization::float32;
  // Layout of the signature's input (and of a 4-D output): kiln's NCHW, or TFLite's native NHWC.
  Layout layout = Layout::nchw;
  // Full-integer int8 only: inputs (N, ...) in kiln's layout, run through the model in batches to find
  // each activation's range. Required for int8.
  Tensor calibration_data{};
  Calibration calibration = Calibration::minmax;
  double percentile = 99.99;
  int64_t calibration_batch = 256;
  // Full-integer int8: the input and output tensors are int8 (scale and zero point in the file), as
  // microcontrollers want; false keeps them float32 with QUANTIZE / DEQUANTIZE inside the model.
  bool int8_input_output = false;
  std::string input_name = "input";
  std::string output_name = "output";
  std::string signature_key = "serving_default";
};

// Writes model (traced on example_input, batch >= 1) as a TFLite model to path. The file's batch
// dimension is dynamic (shape_signature -1): interpreters may resize the input to any batch.
void export_tflite(Module& model, const Tensor& example_input, const std::string& path,
                   const TFLiteOptions& options = {});

struct ONNXOptions {
  int64_t opset = 17;         // 17 to 21
  bool dynamic_batch = true;  // dim 0 of the input and output is the symbolic "batch"
  // int8 in ONNX's QDQ form: per-channel symmetric int8 weights and int32 biases behind DequantizeLinear,
  // and a QuantizeLinear + DequantizeLinear pair after the input and every computed value, with per-tensor
  // asymmetric parameters calibrated on calibration_data (ONNX Runtime fuses these into integer kernels).
  bool int8 = false;
  Tensor calibration_data{};
  Calibration calibration = Calibration::minmax;
  double percentile = 99.99;
  std::string input_name = "input";
  std::string output_name = "output";
};

// Writes model (traced on example_input) as an ONNX model (float32, or QDQ int8) to path.
void export_onnx(Module& model, const Tensor& example_input, const std::string& path,
                 const ONNXOptions& options = {});

}  // namespace kiln::nn::io
