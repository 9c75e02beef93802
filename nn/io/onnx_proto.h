// kiln/nn/io/onnx_proto.h: a protocol-buffers writer for the few ONNX messages kiln emits (ModelProto,
// GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto). The wire format needs four
// encodings (varint, 64-bit, length-delimited, 32-bit) and writing is all kiln does, so this is ~100 lines
// instead of a protobuf library, a protoc build step and a copy of onnx.proto; onnx.checker validates the
// result in the tests. Field numbers are ONNX's (onnx/onnx.proto). Depends on nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::nn::io::onnx {

// One message being written: fields are appended in the order given.
class Message {
 public:
  Message& varint(int field, uint64_t v);
  Message& int64(int field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
  Message& float32(int field, float v);
  Message& bytes(int field, std::string_view b);
  Message& string(int field, std::string_view s) { return bytes(field, s); }
  Message& message(int field, const Message& m) { return bytes(field, m.data_); }
  Message& packed_int64(int field, const std::vector<int64_t>& v);
  const std::string& data() const { return data_; }

 private:
  void key(int field, int wire_type);
  void raw_varint(uint64_t v);
  std::string data_;
};

// ONNX enums (TensorProto.DataType, AttributeProto.AttributeType).
enum DataType : int { FLOAT = 1, INT8 = 3, INT32 = 6, INT64 = 7, FLOAT16 = 10 };
enum AttributeType : int { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_FLOATS = 6, ATTR_INTS = 7 };

// Builders of the messages (field numbers from onnx.proto).
Message tensor(const std::string& name, DataType type, const std::vector<int64_t>& dims,
               std::string_view raw);
Message attr_int(const std::string& name, int64_t v);
Message attr_float(const std::string& name, float v);
Message attr_ints(const std::string& name, const std::vector<int64_t>& v);
Message node(const std::string& op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs, const std::string& name,
             const std::vector<Message>& attrs);
// A float tensor value's type and shape; an empty dim_param gives a fixed dim.
Message value_info(const std::string& name, DataType type, const std::vector<int64_t>& dims,
                   const std::vector<std::string>& dim_params);

}  // namespace kiln::nn::io::onnx
