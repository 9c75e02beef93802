// data/idx.cpp: the IDX reader and writer (see idx.h for the format and contracts).
// Depends on tensor/ (empty, copy_, data_ptr) and zlib for gzip-compressed files.
#include "kiln/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

namespace kiln::data {
namespace {

constexpr int kMaxDims = 8;
// Reads and writes go through buffers of this size, so memory beyond the tensor itself stays small.
constexpr size_t kChunk = size_t{1} << 20;

struct IdxType {
  uint8_t code;
  const char* name;
  size_t bytes;  // per element in the file
  DType dtype;   // per element in the tensor (wider than the file for i8 and i16)
};
constexpr IdxType kTypes[] = {
    {0x08, "u8", 1, DType::u8},   {0x09, "i8", 1, DType::i32},  {0x0B, "i16", 2, DType::i32},
    {0x0C, "i32", 4, DType::i32}, {0x0D, "f32", 4, DType::f32}, {0x0E, "f64", 8, DType::f64},
};
constexpr const char* kTypeList = "0x08 (u8), 0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32) or 0x0E (f64)";

const IdxType* find_type(uint8_t code) {
  for (const IdxType& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

std::string hex_bytes(const uint8_t* p, size_t n) {
  std::string out = "0x";
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += buf;
  }
  return out;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reverses the byte order of each `width`-byte element in place (IDX is big-endian; hosts mostly not).
void swap_to_host(uint8_t* p, size_t n_bytes, size_t width) {
  if constexpr (std::endian::native == std::endian::big) return;
  if (width == 1) return;
  for (size_t i = 0; i < n_bytes; i += width) std::reverse(p + i, p + i + width);
}

// A file opened for reading, raw or gzip (told by its first two bytes, never by its name).
class Source {
 public:
  explicit Source(const std::string& path) : path_(path) {
    struct stat st {};
    KILN_CHECK(::stat(path.c_str(), &st) == 0, "read_idx: cannot open '", path, "': ", std::strerror(errno));
    KILN_CHECK(!S_ISDIR(st.st_mode), "read_idx: '", path, "' is a directory, not an IDX file");
    file_ = std::fopen(path.c_str(), "rb");
    KILN_CHECK(file_ != nullptr, "read_idx: cannot open '", path, "': ", std::strerror(errno));
    uint8_t magic[2] = {0, 0};
    size_t n = std::fread(magic, 1, 2, file_);
    if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      std::fclose(file_);
      file_ = nullptr;
      gz_ = gzopen(path.c_str(), "rb");
      KILN_CHECK(gz_ != nullptr, "read_idx: cannot open gzip file '", path, "': ", std::strerror(errno));
      gzbuffer(gz_, 256 * 1024);
    } else {
      std::rewind(file_);
      size_ = static_cast<uint64_t>(st.st_size);
    }
  }
  ~Source() {
    if (file_) std::fclose(file_);
    if (gz_) gzclose(gz_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  bool gzip() const { return gz_ != nullptr; }
  // The total size of a raw file (unknown for gzip until it is decompressed).
  std::optional<uint64_t> size() const { return size_; }
  // True once the gzip stream has ended before its trailer (a cut-off download).
  bool gzip_truncated() const { return gzip_truncated_; }

  // Reads up to n bytes; fewer only at the end of the data. Throws on an I/O error or corrupt gzip.
  size_t read(void* buf, size_t n) {
    auto* p = static_cast<uint8_t*>(buf);
    size_t got = 0;
    while (got < n) {
      size_t want = std::min(n - got, kChunk);
      size_t r = gz_ ? gz_read(p + got, want) : std::fread(p + got, 1, want, file_);
      if (!gz_)
        KILN_CHECK(!std::ferror(file_), "read_idx: error reading '", path_, "': ", std::strerror(errno));
      if (r == 0) break;
      got += r;
    }
    return got;
  }

  // Reads and discards the rest of the data, returning how many bytes there were.
  uint64_t skip_rest() {
    std::vector<uint8_t> sink(64 * 1024);
    uint64_t total = 0;
    while (size_t r = read(sink.data(), sink.size())) total += r;
    return total;
  }

 private:
  size_t gz_read(uint8_t* p, size_t n) {
    int r = gzread(gz_, p, static_cast<unsigned>(n));
    int errnum = Z_OK;
    const char* msg = gzerror(gz_, &errnum);
    // zlib reports a stream that stops early as Z_BUF_ERROR but still returns what it decoded.
    if (errnum == Z_BUF_ERROR) {
      gzip_truncated_ = true;
    } else {
      KILN_CHECK(r >= 0 && errnum == Z_OK, "read_idx: '", path_,
                 "': corrupt gzip stream (zlib: ", errnum == Z_ERRNO ? std::strerror(errno) : msg, ")");
    }
    return r > 0 ? static_cast<size_t>(r) : 0;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  std::optional<uint64_t> size_;
  bool gzip_truncated_ = false;
};

struct Header {
  const IdxType* type;
  Shape shape;
  uint64_t header_bytes;
  uint64_t data_bytes;
};

Header read_header(Source& src, const std::string& path) {
  const char* gz_note = src.gzip() ? " after gzip decompression" : "";
  uint8_t magic[4] = {0, 0, 0, 0};
  size_t got = src.read(magic, 4);
  KILN_CHECK(got == 4, "read_idx: '", path, "': truncated file: expected at least 4 header bytes", gz_note,
             ", got ", got);
  KILN_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: '", path, "': bad magic ", hex_bytes(magic, 4),
             ": an IDX file starts with two zero bytes (is this an IDX file?)");
  const IdxType* type = find_type(magic[2]);
  KILN_CHECK(type != nullptr, "read_idx: '", path, "': bad type code ", hex_bytes(magic + 2, 1),
             "; expected ", kTypeList);
  const int ndim = magic[3];
  KILN_CHECK(ndim >= 1 && ndim <= kMaxDims, "read_idx: '", path, "': bad number of dims ", ndim,
             "; expected 1 to ", kMaxDims);

  uint8_t dims[4 * kMaxDims];
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndim);
  got = src.read(dims, 4 * ndim);
  KILN_CHECK(got == 4u * ndim, "read_idx: '", path, "': truncated file: expected ", header_bytes,
             " header bytes for ", ndim, " dims", gz_note, ", got ", 4 + got);

  Shape shape;
  uint64_t data_bytes = type->bytes;
  // The same product with zero dims counted as 1: a zero dim makes the data empty, but the other dims
  // still enter the tensor's strides, which must not overflow either (found by fuzz_idx).
  uint64_t span_bytes = type->bytes;
  bool overflow = false;
  for (int i = 0; i < ndim; ++i) {
    shape.push_back(load_be32(dims + 4 * i));
    // 2^48 bytes is far beyond any real file, and keeps every later size computation in range.
    overflow |= __builtin_mul_overflow(data_bytes, static_cast<uint64_t>(shape.back()), &data_bytes) ||
                data_bytes > (uint64_t{1} << 48);
    overflow |= __builtin_mul_overflow(span_bytes, std::max<uint64_t>(shape.back(), 1), &span_bytes) ||
                span_bytes > (uint64_t{1} << 48);
  }
  KILN_CHECK(!overflow, "read_idx: '", path, "': dims ", shape_str(shape), " of ", type->name,
             " are too large (corrupt header?)");
  return {type, shape, header_bytes, data_bytes};
}

std::string truncated_message(const std::string& path, const Header& h, uint64_t got, bool gzip) {
  return detail::cat_message("read_idx: '", path, "': truncated file: expected ",
                             h.header_bytes + h.data_bytes, " bytes (", h.header_bytes, "-byte header + ",
                             h.data_bytes, " data bytes for ", shape_str(h.shape), " of ", h.type->name, ")",
                             gzip ? " after gzip decompression" : "", ", got ", got);
}

std::string trailing_message(const std::string& path, const Header& h, uint64_t got) {
  const uint64_t expected = h.header_bytes + h.data_bytes;
  return detail::cat_message("read_idx: '", path, "': ", got - expected,
                             " trailing bytes after the data: expected ", expected, " bytes for ",
                             shape_str(h.shape), " of ", h.type->name, ", got ", got);
}

// Reads the data of a gzip file into memory first: its size is unknown until decompressed, so a header
// that claims terabytes costs only what the stream really holds before the size check fails.
std::vector<uint8_t> read_gzip_data(Source& src, const Header& h) {
  std::vector<uint8_t> buf;
  while (buf.size() < h.data_bytes) {
    size_t old = buf.size();
    buf.resize(old + std::min<uint64_t>(kChunk, h.data_bytes - old));
    size_t r = src.read(buf.data() + old, buf.size() - old);
    buf.resize(old + r);
    if (r == 0) break;
  }
  return buf;
}

// Copies `n` file elements of `type` at `src` (big-endian) into the tensor's storage at `dst`.
void store(const IdxType& type, const uint8_t* src, uint64_t n, void* dst) {
  if (n == 0) return;
  if (type.code == 0x09) {  // i8 -> i32
    auto* out = static_cast<int32_t*>(dst);
    for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<int8_t>(src[i]);
  } else if (type.code == 0x0B) {  // i16 -> i32
    auto* out = static_cast<int32_t*>(dst);
    for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>((src[2 * i] << 8) | src[2 * i + 1]);
  } else {
    if (src != dst) std::memcpy(dst, src, n * type.bytes);
    swap_to_host(static_cast<uint8_t*>(dst), n * type.bytes, type.bytes);
  }
}

}  // namespace

Tensor read_idx(const std::string& path) {
  Source src(path);
  const Header h = read_header(src, path);
  const uint64_t expected = h.header_bytes + h.data_bytes;
  const uint64_t n = h.data_bytes / h.type->bytes;

  if (auto size = src.size()) {
    // Raw file: its size is known, so check it before allocating anything.
    KILN_CHECK(*size >= expected, truncated_message(path, h, *size, false));
    KILN_CHECK(*size == expected, trailing_message(path, h, *size));
    Tensor out = empty(h.shape, {.dtype = h.type->dtype});
    // Elements are read straight into the tensor, except i8 / i16, which are widened from a buffer.
    std::vector<uint8_t> packed;
    uint8_t* dst = static_cast<uint8_t*>(out.data_ptr());
    if (h.type->bytes != dtype_size(h.type->dtype)) {
      packed.resize(h.data_bytes);
      dst = packed.data();
    }
    size_t got = src.read(dst, h.data_bytes);
    // The file shrank between stat() and read() (another process is writing it).
    KILN_CHECK(got == h.data_bytes, truncated_message(path, h, h.header_bytes + got, false));
    store(*h.type, dst, n, out.data_ptr());
    return out;
  }

  std::vector<uint8_t> buf = read_gzip_data(src, h);
  KILN_CHECK(buf.size() == h.data_bytes, truncated_message(path, h, h.header_bytes + buf.size(), true),
             src.gzip_truncated() ? " (the gzip stream itself is cut off)" : "");
  uint64_t trailing = src.skip_rest();
  KILN_CHECK(trailing == 0, trailing_message(path, h, expected + trailing), " after gzip decompression");
  KILN_CHECK(!src.gzip_truncated(), "read_idx: '", path,
             "': truncated gzip stream: the data is complete but the gzip trailer is missing");
  Tensor out = empty(h.shape, {.dtype = h.type->dtype});
  store(*h.type, buf.data(), n, out.data_ptr());
  return out;
}

void write_idx(const std::string& path, const Tensor& t) {
  KILN_CHECK(t.defined(), "write_idx: '", path, "': the tensor is undefined");
  KILN_CHECK(t.device().is_cpu(), "write_idx: '", path, "': the tensor is on ", t.device(),
             "; move it to the CPU first");
  const IdxType* type = nullptr;
  for (const IdxType& c : kTypes)
    if (c.dtype == t.dtype() && c.bytes == dtype_size(c.dtype)) type = &c;
  KILN_CHECK(type != nullptr, "write_idx: '", path, "': IDX has no type for dtype ", t.dtype(),
             "; convert to u8, i32, f32 or f64 first");
  KILN_CHECK(t.dim() >= 1 && t.dim() <= kMaxDims, "write_idx: '", path, "': IDX needs 1 to ", kMaxDims,
             " dims, got shape ", shape_str(t.shape()));
  for (int64_t d : t.shape())
    KILN_CHECK(d <= int64_t{UINT32_MAX}, "write_idx: '", path, "': dim ", d, " of shape ",
               shape_str(t.shape()), " does not fit IDX's 32-bit sizes");

  // A strided view is written in row-major order, as it reads.
  Tensor c = t;
  if (!t.is_contiguous()) {
    c = empty(t.shape(), {.dtype = t.dtype()});
    c.copy_(t);
  }

  std::vector<uint8_t> header = {0, 0, type->code, static_cast<uint8_t>(t.dim())};
  for (int64_t d : t.shape())
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(static_cast<uint8_t>(d >> shift));

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  KILN_CHECK(f != nullptr, "write_idx: cannot create '", tmp, "': ", std::strerror(errno));
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  const auto* src = static_cast<const uint8_t*>(c.data_ptr());
  const uint64_t total = static_cast<uint64_t>(c.numel()) * type->bytes;
  std::vector<uint8_t> buf;
  for (uint64_t pos = 0; ok && pos < total; pos += kChunk) {
    const size_t len = std::min<uint64_t>(kChunk, total - pos);
    buf.assign(src + pos, src + pos + len);      // kChunk is a multiple of every element width
    swap_to_host(buf.data(), len, type->bytes);  // the swap is its own inverse: host -> big-endian
    ok = std::fwrite(buf.data(), 1, len, f) == len;
  }
  int write_errno = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {  // a full disk often shows only when the buffer is flushed here
    ok = false;
    write_errno = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    KILN_CHECK(false, "write_idx: error writing '", tmp, "': ", std::strerror(write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(tmp.c_str());
    KILN_CHECK(false, "write_idx: cannot rename '", tmp, "' to '", path, "': ", std::strerror(rename_errno));
  }
}

}  // namespace kiln::data
