// kiln/nn/io/tflite_builder.h: the TFLite file being built (internal to nn/io's TFLite export): its buffers,
// tensors, operators and operator codes, over the FlatBuffers builder and kiln's schema (tflite_schema.fbs).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kiln/nn/io/quantize_params.h"
#include "kiln/tensor/tensor.h"
#include "tflite_schema_generated.h"

namespace kiln::nn::io::tflite_export {

namespace fb = flatbuffers;
namespace tfl = kiln::tflite;
using tfl::BuiltinOperator;
using tfl::BuiltinOptions;

inline const Shape kNHWC{0, 2, 3, 1};  // physical position i holds kiln axis kNHWC[i]

Shape identity_order(size_t rank);

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The fused activation TFLite names for kiln's ("" for none).
tfl::ActivationFunctionType fused(const std::string& act);

// The file being built: buffers, tensors, operators and their codes.
class ModelBuilder {
 public:
  fb::FlatBufferBuilder fbb{1 << 16};

  ModelBuilder();  // buffer 0: the empty sentinel

  int tensor(const std::string& name, const Shape& shape, tfl::TensorType type,
             const std::vector<uint8_t>* data, const QuantParams* q = nullptr, bool dynamic_batch = false);
  void op(BuiltinOperator code, int version, const std::vector<int>& inputs, const std::vector<int>& outputs,
          BuiltinOptions options_type = BuiltinOptions::NONE, fb::Offset<void> options = 0);
  std::string finish(int input, int output, const std::string& input_name, const std::string& output_name,
                     const std::string& signature_key);

 private:
  uint32_t opcode(BuiltinOperator code, int version);
  std::vector<fb::Offset<tfl::Buffer>> buffers_;
  std::vector<fb::Offset<tfl::Tensor>> tensors_;
  std::vector<fb::Offset<tfl::Operator>> ops_;
  std::vector<std::pair<BuiltinOperator, int>> opcodes_;
};

}  // namespace kiln::nn::io::tflite_export
