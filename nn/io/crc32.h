// kiln/nn/io/crc32.h: zlib's CRC-32 (the checksum every kiln dataset carries), at memory speed (internal to
// nn/io).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::nn::io::detail {

// zlib's CRC-32, continued from `crc` (0 to start): Python's zlib.crc32 gives the same value. On x86-64
// CPUs with carry-less multiplication it folds 64 bytes per step (about 5x zlib's own table loop, which
// is slower than reading the page cache and would cap every load); elsewhere it is zlib's crc32_z.
uint32_t crc32_of(const void* data, size_t n, uint32_t crc = 0);

// The ways crc32_of can compute it (it picks the fastest this CPU runs), each callable on its own so tests
// check every one against zlib.
enum class Crc32Method { kZlib, kFolding128, kFolding256 };
bool crc32_available(Crc32Method method);
// Precondition: crc32_available(method).
uint32_t crc32_by(Crc32Method method, const void* data, size_t n, uint32_t crc = 0);

}  // namespace kiln::nn::io::detail
