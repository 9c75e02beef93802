// kiln/nn/io/tflite_builder.cpp: the TFLite file being built (tflite_builder.h).
#include "kiln/nn/io/tflite_builder.h"

#include <algorithm>
#include <numeric>

#include "kiln/tensor/error.h"

namespace kiln::nn::io::tflite_export {

Shape identity_order(size_t rank) {
  Shape s(rank);
  std::iota(s.begin(), s.end(), 0);
  return s;
}

tfl::ActivationFunctionType fused(const std::string& act) {
  if (act.empty()) return tfl::ActivationFunctionType::NONE;
  if (act == "relu") return tfl::ActivationFunctionType::RELU;
  if (act == "relu6") return tfl::ActivationFunctionType::RELU6;
  if (act == "relu_n1_to_1") return tfl::ActivationFunctionType::RELU_N1_TO_1;
  KILN_CHECK(false, "export: unknown fused activation ", act);
  return tfl::ActivationFunctionType::NONE;
}

// The file being built: buffers, tensors, operators and their codes.

ModelBuilder::ModelBuilder() { buffers_.push_back(tfl::CreateBuffer(fbb)); }

int ModelBuilder::tensor(const std::string& name, const Shape& shape, tfl::TensorType type,
                         const std::vector<uint8_t>* data, const QuantParams* q, bool dynamic_batch) {
  uint32_t buffer = 0;
  if (data) {
    fbb.ForceVectorAlignment(data->size(), sizeof(uint8_t), 16);
    auto vec = fbb.CreateVector(*data);
    buffers_.push_back(tfl::CreateBuffer(fbb, vec));
    buffer = static_cast<uint32_t>(buffers_.size() - 1);
  }
  std::vector<int32_t> dims(shape.begin(), shape.end());
  fb::Offset<fb::Vector<int32_t>> signature = 0;
  if (dynamic_batch && !dims.empty()) {
    std::vector<int32_t> sig = dims;
    sig[0] = -1;
    signature = fbb.CreateVector(sig);
  }
  fb::Offset<tfl::QuantizationParameters> quant = 0;
  if (q)
    quant =
        tfl::CreateQuantizationParametersDirect(fbb, nullptr, nullptr, &q->scale, &q->zero_point, q->axis);
  auto shape_vec = fbb.CreateVector(dims);
  auto name_str = fbb.CreateString(name);
  tfl::TensorBuilder tb(fbb);
  tb.add_shape(shape_vec);
  tb.add_type(type);
  tb.add_buffer(buffer);
  tb.add_name(name_str);
  if (q) tb.add_quantization(quant);
  if (dynamic_batch) tb.add_shape_signature(signature);
  tensors_.push_back(tb.Finish());
  return static_cast<int>(tensors_.size()) - 1;
}

void ModelBuilder::op(BuiltinOperator code, int version, const std::vector<int>& inputs,
                      const std::vector<int>& outputs, BuiltinOptions options_type,
                      fb::Offset<void> options) {
  uint32_t index = opcode(code, version);
  ops_.push_back(tfl::CreateOperatorDirect(fbb, index, &inputs, &outputs, options_type, options));
}

std::string ModelBuilder::finish(int input, int output, const std::string& input_name,
                                 const std::string& output_name, const std::string& signature_key) {
  std::vector<fb::Offset<tfl::OperatorCode>> codes;
  for (auto [code, version] : opcodes_) {
    const int8_t deprecated = static_cast<int8_t>(std::min(static_cast<int>(code), 127));
    codes.push_back(tfl::CreateOperatorCode(fbb, deprecated, 0, version, code));
  }
  std::vector<int> ins{input}, outs{output};
  auto subgraph = tfl::CreateSubGraphDirect(fbb, &tensors_, &ins, &outs, &ops_, "main");
  std::vector<fb::Offset<tfl::TensorMap>> sig_in{tfl::CreateTensorMapDirect(fbb, input_name.c_str(), input)};
  std::vector<fb::Offset<tfl::TensorMap>> sig_out{
      tfl::CreateTensorMapDirect(fbb, output_name.c_str(), output)};
  std::vector<fb::Offset<tfl::SignatureDef>> sigs{
      tfl::CreateSignatureDefDirect(fbb, &sig_in, &sig_out, signature_key.c_str(), 0)};
  std::vector<fb::Offset<tfl::SubGraph>> subgraphs{subgraph};
  auto model = tfl::CreateModelDirect(fbb, 3, &codes, &subgraphs, "kiln", &buffers_, nullptr, &sigs);
  tfl::FinishModelBuffer(fbb, model);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

uint32_t ModelBuilder::opcode(BuiltinOperator code, int version) {
  for (size_t i = 0; i < opcodes_.size(); ++i)
    if (opcodes_[i].first == code) {
      opcodes_[i].second = std::max(opcodes_[i].second, version);
      return static_cast<uint32_t>(i);
    }
  opcodes_.emplace_back(code, version);
  return static_cast<uint32_t>(opcodes_.size() - 1);
}

}  // namespace kiln::nn::io::tflite_export
