// kiln/nn/log/png.h: a minimal PNG encoder (8-bit gray, gray+alpha, RGB or RGBA), compressed with zlib.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::logs {

// `pixels` is height x width x channels, row-major, channels in {1, 2, 3, 4}. Returns the PNG file bytes.
std::string encode_png(const uint8_t* pixels, int64_t height, int64_t width, int channels);

}  // namespace kiln::logs
