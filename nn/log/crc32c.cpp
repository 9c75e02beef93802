#include "kiln/nn/log/crc32c.h"

#include <array>

namespace kiln::logs {
namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial. Event files are small next to the cost
// of producing their contents, so the table form is fast enough and portable (no SSE4.2 dependency).
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

}  // namespace kiln::logs
