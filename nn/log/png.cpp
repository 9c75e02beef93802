#include "kiln/nn/log/png.h"

#include <zlib.h>

#include "kiln/tensor/error.h"

namespace kiln::logs {
namespace {

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A chunk: length, type, data, CRC-32 (zlib's) over type and data.
void put_chunk(std::string& out, const char type[5], const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  put_be32(out, static_cast<uint32_t>(
                    crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(const uint8_t* pixels, int64_t height, int64_t width, int channels) {
  KILN_CHECK(height > 0 && width > 0 && height < (1 << 24) && width < (1 << 24), "encode_png: bad size ",
             height, "x", width);
  KILN_CHECK(channels >= 1 && channels <= 4, "encode_png: ", channels, " channels (1 to 4 supported)");
  static constexpr uint8_t kColorType[5] = {0, 0, 4, 2, 6};  // gray, gray+alpha, RGB, RGBA

  // Each scanline starts with its filter type; "Sub" (1) predicts a byte from the pixel to its left,
  // which shrinks smooth images well and costs one subtraction.
  const size_t row = static_cast<size_t>(width) * channels;
  std::string raw;
  raw.resize(static_cast<size_t>(height) * (row + 1));
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* src = pixels + y * row;
    char* dst = raw.data() + y * (row + 1);
    dst[0] = 1;
    for (size_t i = 0; i < row; ++i)
      dst[1 + i] = static_cast<char>(i < static_cast<size_t>(channels) ? src[i] : src[i] - src[i - channels]);
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(compressed_size, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
                     reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6);
  KILN_CHECK(rc == Z_OK, "encode_png: zlib compress2 failed (", rc, ")");
  compressed.resize(compressed_size);

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  put_be32(header, static_cast<uint32_t>(width));
  put_be32(header, static_cast<uint32_t>(height));
  header += static_cast<char>(8);  // bit depth
  header += static_cast<char>(kColorType[channels]);
  header += std::string("\0\0\0", 3);  // deflate, adaptive filtering, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", compressed);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace kiln::logs
