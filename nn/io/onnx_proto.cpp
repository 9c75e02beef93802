// nn/io/onnx_proto.cpp: the protobuf wire format (varint keys, little-endian fixed32, length-delimited
// bytes) and the ONNX messages built on it.
#include "kiln/nn/io/onnx_proto.h"

#include <cstring>

namespace kiln::nn::io::onnx {

void Message::raw_varint(uint64_t v) {
  while (v >= 0x80) {
    data_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  data_.push_back(static_cast<char>(v));
}
void Message::key(int field, int wire_type) { raw_varint((static_cast<uint64_t>(field) << 3) | wire_type); }

Message& Message::varint(int field, uint64_t v) {
  key(field, 0);
  raw_varint(v);
  return *this;
}
Message& Message::float32(int field, float v) {
  key(field, 5);
  char b[4];
  std::memcpy(b, &v, 4);  // protobuf fixed32 is little-endian, as is every machine kiln builds for
  data_.append(b, 4);
  return *this;
}
Message& Message::bytes(int field, std::string_view b) {
  key(field, 2);
  raw_varint(b.size());
  data_.append(b);
  return *this;
}
Message& Message::packed_int64(int field, const std::vector<int64_t>& v) {
  Message body;
  for (int64_t x : v) body.raw_varint(static_cast<uint64_t>(x));
  return bytes(field, body.data_);
}

Message tensor(const std::string& name, DataType type, const std::vector<int64_t>& dims,
               std::string_view raw) {
  Message t;
  t.packed_int64(1, dims).int64(2, type).string(8, name).bytes(9, raw);  // dims, data_type, name, raw_data
  return t;
}

namespace {
Message attr_head(const std::string& name, AttributeType type) {
  Message a;
  a.string(1, name).int64(20, type);  // name, type
  return a;
}
}  // namespace
Message attr_int(const std::string& name, int64_t v) { return attr_head(name, ATTR_INT).int64(3, v); }
Message attr_float(const std::string& name, float v) { return attr_head(name, ATTR_FLOAT).float32(2, v); }
Message attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  return attr_head(name, ATTR_INTS).packed_int64(8, v);
}

Message node(const std::string& op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs, const std::string& name,
             const std::vector<Message>& attrs) {
  Message n;
  for (const auto& i : inputs) n.string(1, i);
  for (const auto& o : outputs) n.string(2, o);
  n.string(3, name).string(4, op_type);
  for (const auto& a : attrs) n.message(5, a);
  return n;
}

Message value_info(const std::string& name, DataType type, const std::vector<int64_t>& dims,
                   const std::vector<std::string>& dim_params) {
  Message shape;
  for (size_t i = 0; i < dims.size(); ++i) {
    Message d;
    if (i < dim_params.size() && !dim_params[i].empty())
      d.string(2, dim_params[i]);  // dim_param
    else
      d.int64(1, dims[i]);  // dim_value
    shape.message(1, d);
  }
  Message tensor_type;
  tensor_type.int64(1, type).message(2, shape);  // elem_type, shape
  Message type_proto;
  type_proto.message(1, tensor_type);  // tensor_type
  Message v;
  v.string(1, name).message(2, type_proto);
  return v;
}

}  // namespace kiln::nn::io::onnx
