// tests/test_checkpoint_crc32.cpp: the CRC-32 every checkpoint dataset carries (nn/io/crc32.h). Each way of
// computing it that this CPU runs must equal zlib's crc32_z (what Python's zlib.crc32 and h5py users
// check) for every length around the folding loops' block sizes, every alignment and any starting value.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "kiln/nn/io/crc32.h"

namespace {

using kiln::nn::io::detail::crc32_available;
using kiln::nn::io::detail::crc32_by;
using kiln::nn::io::detail::crc32_of;
using kiln::nn::io::detail::Crc32Method;

uint32_t zlib_crc(const uint8_t* p, size_t n, uint32_t crc) {
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

std::vector<uint8_t> random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(gen());
  return b;
}

TEST(Crc32, KnownValue) {
  const char* check = "123456789";  // the CRC-32 catalogue's check input
  EXPECT_EQ(crc32_of(check, 9), 0xCBF43926u);
  std::vector<uint8_t> zeros(4096, 0);
  EXPECT_EQ(crc32_of(zeros.data(), zeros.size()), zlib_crc(zeros.data(), zeros.size(), 0));
}

TEST(Crc32, EveryMethodMatchesZlib) {
  const std::vector<uint8_t> data = random_bytes((size_t{1} << 20) + 64, 7);
  std::vector<size_t> lengths = {
      0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 4096, (size_t{1} << 20) + 3};
  for (size_t n = 100; n < 700; n += 37) lengths.push_back(n);
  int checked_methods = 0;
  for (Crc32Method m : {Crc32Method::kZlib, Crc32Method::kFolding128, Crc32Method::kFolding256}) {
    if (!crc32_available(m)) continue;
    ++checked_methods;
    for (size_t n : lengths)
      for (size_t offset : {0, 1, 5, 13})
        for (uint32_t start : {0u, 1u, 0xffffffffu, 0xdeadbeefu})
          ASSERT_EQ(crc32_by(m, data.data() + offset, n, start), zlib_crc(data.data() + offset, n, start))
              << "method " << static_cast<int>(m) << ", " << n << " bytes at offset " << offset << ", start "
              << start;
  }
#if defined(__x86_64__)
  // Every x86-64 machine kiln is built on has PCLMULQDQ; without it the folding code would go untested.
  EXPECT_GE(checked_methods, 2);
#endif
}

TEST(Crc32, PiecesContinueLikeOneCall) {
  // A load checksums a tensor piece by piece; the pieces must chain to the whole's CRC.
  const std::vector<uint8_t> data = random_bytes(3 * 1000 * 1000 + 11, 3);
  const uint32_t whole = zlib_crc(data.data(), data.size(), 0);
  for (size_t piece : {size_t{1} << 20, size_t{4096} + 7, size_t{200}}) {
    uint32_t crc = 0;
    for (size_t at = 0; at < data.size(); at += piece)
      crc = crc32_of(data.data() + at, std::min(piece, data.size() - at), crc);
    EXPECT_EQ(crc, whole) << "pieces of " << piece;
  }
}

TEST(Crc32, DetectsEverySingleBitFlip) {
  std::vector<uint8_t> data = random_bytes(4096, 11);
  const uint32_t good = crc32_of(data.data(), data.size());
  for (size_t bit = 0; bit < data.size() * 8; bit += 61) {
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(crc32_of(data.data(), data.size()), good) << "bit " << bit;
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

}  // namespace
