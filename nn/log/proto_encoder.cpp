#include "kiln/nn/log/proto_encoder.h"

#include <bit>
#include <cstring>

namespace kiln::logs {
namespace {
// Wire types of the protobuf encoding.
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
}  // namespace

void ProtoEncoder::put_varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

// Fixed-width fields are little-endian on the wire whatever the host order.
void ProtoEncoder::put_fixed32(uint32_t bits) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}
void ProtoEncoder::put_fixed64(uint64_t bits) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

void ProtoEncoder::put_tag(int field, int wire_type) {
  put_varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtoEncoder::add_varint(int field, uint64_t value, bool always) {
  if (value == 0 && !always) return;
  put_tag(field, kVarint);
  put_varint(value);
}

void ProtoEncoder::add_double(int field, double value, bool always) {
  uint64_t bits = std::bit_cast<uint64_t>(value);
  if (bits == 0 && !always) return;  // +0.0 is the default; -0.0 has a sign bit and is kept
  put_tag(field, kFixed64);
  put_fixed64(bits);
}

void ProtoEncoder::add_float(int field, float value, bool always) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if (bits == 0 && !always) return;
  put_tag(field, kFixed32);
  put_fixed32(bits);
}

void ProtoEncoder::add_bytes(int field, std::string_view bytes) {
  put_tag(field, kLengthDelimited);
  put_varint(bytes.size());
  out_.append(bytes.data(), bytes.size());
}

void ProtoEncoder::add_packed_doubles(int field, std::span<const double> values) {
  if (values.empty()) return;
  put_tag(field, kLengthDelimited);
  put_varint(values.size() * 8);
  for (double v : values) put_fixed64(std::bit_cast<uint64_t>(v));
}

void ProtoEncoder::add_packed_floats(int field, std::span<const float> values) {
  if (values.empty()) return;
  put_tag(field, kLengthDelimited);
  put_varint(values.size() * 4);
  for (float v : values) put_fixed32(std::bit_cast<uint32_t>(v));
}

}  // namespace kiln::logs
