// kiln/nn/log/crc32c.h: CRC-32C (Castagnoli), the checksum of TFRecord framing, and its "masked" form.
#pragma once

#include <cstdint>
#include <string_view>

namespace kiln::logs {

uint32_t crc32c(std::string_view bytes);

// TFRecord stores CRCs rotated and offset, so that a CRC computed over data that itself contains CRCs
// does not degenerate (TensorFlow's crc32c::Mask).
inline uint32_t masked_crc32c(std::string_view bytes) {
  uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace kiln::logs
