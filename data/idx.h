// kiln/data/idx.h: reading and writing IDX files, the format of MNIST and Fashion-MNIST.
// An IDX file is a 4-byte magic (0, 0, type code, number of dims), the dims as big-endian u32, then the
// elements row-major and big-endian. Files may be gzip-compressed (detected by the gzip magic, so the
// name does not matter). Depends on tensor/ (Tensor, empty) and zlib (in idx.cpp only).
#pragma once

#include <string>

#include "kiln/tensor/tensor.h"

namespace kiln::data {

// Reads an IDX file, raw or gzip-compressed, into a new contiguous CPU tensor of its shape.
// Type codes: 0x08 u8 -> u8, 0x09 i8 and 0x0B i16 -> i32 (kiln has no narrower signed type; values are
// widened exactly), 0x0C i32 -> i32, 0x0D f32 -> f32, 0x0E f64 -> f64. Requires 1 to 8 dims and exactly
// as many data bytes as the dims call for. Throws kiln::Error naming the path and the problem for a
// missing or unreadable file, a bad magic or type code, a bad dim count, a truncated file (expected vs
// got bytes), trailing bytes, or a corrupt gzip stream.
Tensor read_idx(const std::string& path);

// Writes `t` (CPU; u8, i32, f32 or f64; 1 to 8 dims, each < 2^32; any strides) as a raw, uncompressed IDX
// file. Writes path + ".tmp" first and renames it over `path`, so readers never see a partial file.
// Throws kiln::Error naming the path for an unsupported tensor or an I/O failure.
void write_idx(const std::string& path, const Tensor& t);

}  // namespace kiln::data
