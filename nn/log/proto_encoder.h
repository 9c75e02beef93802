// kiln/nn/log/proto_encoder.h: a protocol-buffer wire-format encoder, enough for TensorBoard's messages.
//
// Why by hand rather than libprotobuf: kiln only ever *writes* about a dozen small messages (Event,
// Summary, HistogramProto, TensorProto, the HParams and PR-curve plugin data), whose field numbers are
// fixed by TensorBoard's published .proto files. The encoder is ~100 lines with no parsing of untrusted
// input, where libprotobuf would add protoc code generation, vendored .proto files, a second heavy
// dependency for the installed package and its version-skew problems. Messages are built inside out:
// encode the inner message into its own ProtoEncoder, then add its bytes as a length-delimited field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kiln::logs {

class ProtoEncoder {
 public:
  // Scalar fields; proto3 omits fields that hold their default value, and so do these (the readers
  // treat a missing field as the default), except with `always`: a member of a oneof must be written
  // even when it is zero, or the reader sees no member at all.
  void add_varint(int field, uint64_t value, bool always = false);
  void add_int64(int field, int64_t value) { add_varint(field, static_cast<uint64_t>(value)); }
  void add_bool(int field, bool value, bool always = false) { add_varint(field, value ? 1 : 0, always); }
  void add_double(int field, double value, bool always = false);
  void add_float(int field, float value, bool always = false);
  // Length-delimited: strings, bytes and nested messages (written even when empty: a present but empty
  // sub-message differs from an absent one, e.g. TensorShapeProto of a scalar).
  void add_bytes(int field, std::string_view bytes);
  void add_message(int field, const ProtoEncoder& message) { add_bytes(field, message.bytes()); }
  // Packed repeated fields (proto3's encoding for repeated numbers).
  void add_packed_doubles(int field, std::span<const double> values);
  void add_packed_floats(int field, std::span<const float> values);

  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void put_tag(int field, int wire_type);
  void put_varint(uint64_t value);
  void put_fixed32(uint32_t bits);
  void put_fixed64(uint64_t bits);
  std::string out_;
};

}  // namespace kiln::logs
