// tests/test_idx.cpp: the IDX reader/writer (data/idx.h) and the Fashion-MNIST / MNIST loaders
// (data/fashion_mnist.h). Files are built byte by byte here, so the reader is checked against the format
// itself rather than only against the writer. Depends on GoogleTest, zlib and kiln::kiln.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <kiln/data/fashion_mnist.h>
#include <kiln/data/idx.h>
#include <kiln/tensor/tensor.h>

namespace fs = std::filesystem;
using kiln::DType;
using kiln::Tensor;
using Bytes = std::vector<uint8_t>;

namespace {

// An IDX file's bytes: header for `dims`, then `payload` as given (already big-endian).
Bytes idx_bytes(uint8_t type_code, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type_code, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes be32(std::initializer_list<uint32_t> words) {
  Bytes b;
  for (uint32_t w : words)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(w >> shift));
  return b;
}

void write_file(const fs::path& p, const Bytes& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_gzip(const fs::path& p, const Bytes& bytes) {
  gzFile g = gzopen(p.c_str(), "wb");
  ASSERT_NE(g, nullptr) << p;
  ASSERT_EQ(gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(g), Z_OK);
}

// Runs f and expects a kiln::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a kiln::Error";
  } catch (const kiln::Error& e) {
    const std::string msg = e.what();
    for (const std::string& part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << "message lacks \"" << part << "\":\n  " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a kiln::Error, got another exception: " << e.what();
  }
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("kiln_test_idx_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// ---- round trips, with the bytes on disk checked against the format ----

TEST_F(IdxTest, RoundTripU8ThreeDims) {
  std::vector<uint8_t> values(2 * 3 * 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint8_t>(i * 37 % 256);
  Tensor t = kiln::from_vector(values, kiln::Shape{2, 3, 4});
  const std::string p = path("u8.idx");
  kiln::data::write_idx(p, t);

  Bytes expected = idx_bytes(0x08, {2, 3, 4}, Bytes(values.begin(), values.end()));
  EXPECT_EQ(read_file(p), expected);
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  Tensor r = kiln::data::read_idx(p);
  EXPECT_EQ(r.dtype(), DType::u8);
  EXPECT_EQ(r.shape(), (kiln::Shape{2, 3, 4}));
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(r.to_vector<uint8_t>(), values);
}

TEST_F(IdxTest, RoundTripF32IsBigEndianOnDisk) {
  std::vector<float> values = {1.0f, -2.5f, 0.1f, 3.4e38f, -0.0f, 1e-30f};
  Tensor t = kiln::from_vector(values, kiln::Shape{3, 2});
  const std::string p = path("f32.idx");
  kiln::data::write_idx(p, t);

  Bytes bytes = read_file(p);
  ASSERT_EQ(bytes.size(), 4u + 2 * 4 + 6 * 4);
  EXPECT_EQ(bytes[2], 0x0D);
  // 1.0f is 0x3f800000: most significant byte first.
  EXPECT_EQ((Bytes(bytes.begin() + 12, bytes.begin() + 16)), (Bytes{0x3f, 0x80, 0x00, 0x00}));

  Tensor r = kiln::data::read_idx(p);
  EXPECT_EQ(r.dtype(), DType::f32);
  EXPECT_EQ(r.shape(), (kiln::Shape{3, 2}));
  std::vector<float> got = r.to_vector<float>();
  ASSERT_EQ(got.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i)  // bitwise, so -0.0 and exact bits count
    EXPECT_EQ(std::memcmp(&got[i], &values[i], sizeof(float)), 0) << "element " << i;
}

TEST_F(IdxTest, RoundTripI32FourDims) {
  std::vector<int32_t> values(2 * 1 * 3 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int32_t>(i * 123456789u) - 7;
  values[0] = INT32_MIN;
  values[1] = INT32_MAX;
  Tensor t = kiln::from_vector(values, kiln::Shape{2, 1, 3, 2});
  const std::string p = path("i32.idx");
  kiln::data::write_idx(p, t);
  const Bytes bytes = read_file(p);  // the header is 4 + 4 * 4 bytes; INT32_MIN comes first
  ASSERT_EQ(bytes.size(), 20u + 12 * 4);
  EXPECT_EQ((Bytes(bytes.begin() + 20, bytes.begin() + 24)), (Bytes{0x80, 0, 0, 0}));

  Tensor r = kiln::data::read_idx(p);
  EXPECT_EQ(r.dtype(), DType::i32);
  EXPECT_EQ(r.shape(), (kiln::Shape{2, 1, 3, 2}));
  EXPECT_EQ(r.to_vector<int32_t>(), values);
}

TEST_F(IdxTest, RoundTripF64OneDim) {
  std::vector<double> values = {3.141592653589793, -1e300, 2.0, 5e-324};
  const std::string p = path("f64.idx");
  kiln::data::write_idx(p, kiln::from_vector(values));
  Tensor r = kiln::data::read_idx(p);
  EXPECT_EQ(r.dtype(), DType::f64);
  EXPECT_EQ(r.shape(), (kiln::Shape{4}));
  EXPECT_EQ(r.to_vector<double>(), values);
}

TEST_F(IdxTest, WritesStridedViewsInRowMajorOrder) {
  Tensor t = kiln::from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, kiln::Shape{2, 3});
  Tensor transposed = kiln::as_strided(t, {3, 2}, {1, 3}, 0);  // t^T: [[1, 4], [2, 5], [3, 6]]
  ASSERT_FALSE(transposed.is_contiguous());
  const std::string p = path("strided.idx");
  kiln::data::write_idx(p, transposed);
  Tensor r = kiln::data::read_idx(p);
  EXPECT_EQ(r.shape(), (kiln::Shape{3, 2}));
  EXPECT_EQ(r.to_vector<int32_t>(), (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST_F(IdxTest, WriteRejectsDtypesIdxCannotHold) {
  const std::string p = path("i64.idx");
  expect_error(
      [&] {
        kiln::data::write_idx(p, kiln::from_vector(std::vector<int64_t>{1, 2}));
      },
      {p, "i64", "convert to"});
  EXPECT_FALSE(fs::exists(p));
  EXPECT_FALSE(fs::exists(p + ".tmp"));
}

TEST_F(IdxTest, WriteRejectsMissingFolder) {
  const std::string p = path("no/such/folder/x.idx");
  expect_error([&] { kiln::data::write_idx(p, kiln::from_vector(std::vector<uint8_t>{1})); },
               {p + ".tmp", "cannot create"});
}

// ---- reading files built by hand ----

TEST_F(IdxTest, ReadsBigEndianSignedAndNarrowTypes) {
  const std::string p32 = path("i32.idx");
  write_file(p32, idx_bytes(0x0C, {2}, be32({1, 0xFFFFFFFE})));
  EXPECT_EQ(kiln::data::read_idx(p32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2}));

  // i8 and i16 have no kiln dtype: they widen to i32, exactly.
  const std::string p8 = path("i8.idx");
  write_file(p8, idx_bytes(0x09, {3}, {0x7F, 0x80, 0xFF}));
  Tensor r8 = kiln::data::read_idx(p8);
  EXPECT_EQ(r8.dtype(), DType::i32);
  EXPECT_EQ(r8.to_vector<int32_t>(), (std::vector<int32_t>{127, -128, -1}));

  const std::string p16 = path("i16.idx");
  write_file(p16, idx_bytes(0x0B, {1, 3}, {0x01, 0x02, 0x80, 0x00, 0xFF, 0xFE}));
  Tensor r16 = kiln::data::read_idx(p16);
  EXPECT_EQ(r16.dtype(), DType::i32);
  EXPECT_EQ(r16.shape(), (kiln::Shape{1, 3}));
  EXPECT_EQ(r16.to_vector<int32_t>(), (std::vector<int32_t>{258, -32768, -2}));

  const std::string p64 = path("f64.idx");  // 1.5 is 0x3FF8000000000000
  write_file(p64, idx_bytes(0x0E, {1}, {0x3F, 0xF8, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(kiln::data::read_idx(p64).to_vector<double>(), (std::vector<double>{1.5}));
}

TEST_F(IdxTest, ReadsGzipByContentNotName) {
  Bytes payload;
  for (int i = 0; i < 5 * 7; ++i) payload.push_back(static_cast<uint8_t>(255 - i));
  const Bytes file = idx_bytes(0x08, {5, 7}, payload);
  for (const std::string name : {"images-idx3-ubyte.gz", "no-extension"}) {
    const std::string p = path(name);
    write_gzip(p, file);
    ASSERT_EQ(read_file(p).at(0), 0x1f) << "the test did not write a gzip file";
    Tensor r = kiln::data::read_idx(p);
    EXPECT_EQ(r.shape(), (kiln::Shape{5, 7})) << name;
    EXPECT_EQ(r.to_vector<uint8_t>(), std::vector<uint8_t>(payload.begin(), payload.end())) << name;
  }
  // Multi-byte elements are decompressed, then converted from big-endian.
  const std::string pf = path("f32.gz");
  write_gzip(pf, idx_bytes(0x0D, {2}, be32({0x3f800000, 0xc0000000})));
  EXPECT_EQ(kiln::data::read_idx(pf).to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
}

// ---- malformed files: each error names the file and the problem ----

TEST_F(IdxTest, TruncatedDataSaysExpectedAndGotBytes) {
  const std::string p = path("short.idx");
  write_file(p, idx_bytes(0x08, {2, 3}, {1, 2, 3, 4}));  // 6 data bytes promised, 4 present
  expect_error([&] { kiln::data::read_idx(p); }, {p, "truncated", "expected 18 bytes", "got 16"});

  const std::string pg = path("short.gz");
  write_gzip(pg, idx_bytes(0x0C, {3}, be32({1, 2})));  // 12 data bytes promised, 8 present
  expect_error([&] { kiln::data::read_idx(pg); }, {pg, "truncated", "expected 20 bytes", "got 16"});
}

TEST_F(IdxTest, TruncatedHeader) {
  const std::string p = path("tiny.idx");
  write_file(p, {0, 0});
  expect_error([&] { kiln::data::read_idx(p); }, {p, "truncated", "got 2"});

  const std::string pd = path("dims.idx");
  write_file(pd, {0, 0, 0x08, 3, 0, 0, 0, 2});  // three dims announced, one present
  expect_error([&] { kiln::data::read_idx(pd); }, {pd, "truncated", "expected 16 header bytes", "got 8"});
}

TEST_F(IdxTest, EmptyFile) {
  const std::string p = path("empty.idx");
  write_file(p, {});
  expect_error([&] { kiln::data::read_idx(p); }, {p, "truncated", "got 0"});
}

TEST_F(IdxTest, CutOffGzipStream) {
  Bytes payload(1000);
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<uint8_t>(i * 7919 % 251);  // varied bytes
  const Bytes file = idx_bytes(0x08, {1000}, payload);
  const std::string full = path("full.gz");
  write_gzip(full, file);
  Bytes gz = read_file(full);
  const std::string p = path("cut.gz");
  write_file(p, Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  expect_error([&] { kiln::data::read_idx(p); }, {p, "truncated"});
}

TEST_F(IdxTest, CorruptGzipStream) {
  const std::string p = path("corrupt.gz");
  write_file(p, {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0x12});
  expect_error([&] { kiln::data::read_idx(p); }, {p, "gzip"});
}

TEST_F(IdxTest, WrongMagic) {
  const std::string p = path("magic.idx");
  write_file(p, {0x01, 0x02, 0x08, 0x01, 0, 0, 0, 1, 42});
  expect_error([&] { kiln::data::read_idx(p); }, {p, "bad magic", "0x01020801"});

  const std::string text = path("notes.txt");
  write_file(text, {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_error([&] { kiln::data::read_idx(text); }, {text, "bad magic"});
}

TEST_F(IdxTest, BadTypeCode) {
  const std::string p = path("type.idx");
  write_file(p, idx_bytes(0x0A, {1}, {0}));
  expect_error([&] { kiln::data::read_idx(p); }, {p, "bad type code 0x0a", "0x08 (u8)"});
}

TEST_F(IdxTest, BadNumberOfDims) {
  const std::string p0 = path("dims0.idx");
  write_file(p0, {0, 0, 0x08, 0});
  expect_error([&] { kiln::data::read_idx(p0); }, {p0, "bad number of dims 0", "1 to 8"});
  const std::string p9 = path("dims9.idx");
  write_file(p9, idx_bytes(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {5}));
  expect_error([&] { kiln::data::read_idx(p9); }, {p9, "bad number of dims 9"});
}

TEST_F(IdxTest, HugeDimsFailCleanly) {
  // 8 dims of 2^32 - 1 would overflow any size computation; the reader must say so, not allocate.
  const std::string p = path("huge.idx");
  write_file(p, idx_bytes(0x0E, std::vector<uint32_t>(8, 0xFFFFFFFF), {}));
  expect_error([&] { kiln::data::read_idx(p); }, {p, "too large"});

  // Large but representable: a truncation error from the file size, before any allocation.
  const std::string pl = path("large.idx");
  write_file(pl, idx_bytes(0x0E, {100000, 100000}, {1, 2, 3}));
  expect_error([&] { kiln::data::read_idx(pl); }, {pl, "truncated", "expected 80000000012 bytes"});
  const std::string pg = path("large.gz");
  write_gzip(pg, idx_bytes(0x0E, {100000, 100000}, {1, 2, 3}));
  expect_error([&] { kiln::data::read_idx(pg); }, {pg, "truncated", "got 15"});

  // A zero dim empties the data, but huge other dims would still overflow the strides (found by fuzz_idx).
  const std::string pz = path("zero_and_huge.idx");
  write_file(pz, idx_bytes(0x0D, {0, 0x02036302, 0x0363C003, 0x000001C9, 0xC9C90B03}, {}));
  expect_error([&] { kiln::data::read_idx(pz); }, {pz, "too large"});
  // Zero dims with small other dims are a valid empty tensor.
  const std::string pe = path("empty_dims.idx");
  write_file(pe, idx_bytes(0x0B, {0, 7}, {}));
  EXPECT_EQ(kiln::data::read_idx(pe).shape(), (kiln::Shape{0, 7}));
}

TEST_F(IdxTest, TrailingBytes) {
  const std::string p = path("trailing.idx");
  write_file(p, idx_bytes(0x08, {2}, {1, 2, 3, 4, 5}));
  expect_error([&] { kiln::data::read_idx(p); }, {p, "3 trailing bytes", "expected 10 bytes", "got 13"});

  const std::string pg = path("trailing.gz");
  write_gzip(pg, idx_bytes(0x08, {2}, {1, 2, 3}));
  expect_error([&] { kiln::data::read_idx(pg); }, {pg, "1 trailing bytes"});
}

TEST_F(IdxTest, MissingFileAndDirectory) {
  const std::string p = path("does-not-exist.idx");
  expect_error([&] { kiln::data::read_idx(p); }, {p, "cannot open", "No such file"});
  expect_error([&] { kiln::data::read_idx(dir_.string()); }, {dir_.string(), "directory"});
}

// ---- the MNIST-layout loaders, on small synthetic files ----

// Writes the four files of an MNIST-layout folder: n_train / n_test images whose labels are i % 10.
void write_fake_mnist(const fs::path& dir, int64_t n_train, int64_t n_test, int64_t n_test_labels) {
  auto split = [&](const std::string& prefix, int64_t n_images, int64_t n_labels) {
    std::vector<uint8_t> pixels(static_cast<size_t>(n_images * 28 * 28));
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 256);
    std::vector<uint8_t> labels(static_cast<size_t>(n_labels));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
    // The images unpacked (no .gz), the labels gzip-compressed: the loaders accept both.
    kiln::data::write_idx((dir / (prefix + "-images-idx3-ubyte")).string(),
                          kiln::from_vector(pixels, kiln::Shape{n_images, 28, 28}));
    Bytes label_file =
        idx_bytes(0x08, {static_cast<uint32_t>(n_labels)}, Bytes(labels.begin(), labels.end()));
    write_gzip(dir / (prefix + "-labels-idx1-ubyte.gz"), label_file);
  };
  split("train", n_train, n_train);
  split("t10k", n_test, n_test_labels);
}

// Sets an environment variable for one scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(IdxTest, FashionMnistLoadsFromArgumentAndEnvironment) {
  write_fake_mnist(dir_, 20, 10, 10);
  auto check = [](const std::pair<kiln::data::LabeledImages, kiln::data::LabeledImages>& d) {
    EXPECT_EQ(d.first.images.shape(), (kiln::Shape{20, 28, 28}));
    EXPECT_EQ(d.first.images.dtype(), DType::u8);
    EXPECT_EQ(d.first.labels.shape(), (kiln::Shape{20}));
    EXPECT_EQ(d.first.labels.dtype(), DType::i64);
    EXPECT_EQ(d.second.size(), 10);
    EXPECT_EQ(d.first.labels.to_vector<int64_t>()[13], 3);
    EXPECT_EQ(d.first.images.to_vector<uint8_t>()[300], 300 % 256);
  };
  check(kiln::data::FashionMNIST::load(dir_.string()));
  check(kiln::data::MNIST::load(dir_.string()));
  {
    ScopedEnv env(kiln::data::FashionMNIST::kDirEnvVar, dir_.string());
    EXPECT_EQ(kiln::data::FashionMNIST::find_dir(), dir_.string());
    check(kiln::data::FashionMNIST::load());
  }
}

TEST_F(IdxTest, FashionMnistMissingFolderGivesInstallHint) {
  const std::string missing = path("nowhere");
  expect_error(
      [&] { kiln::data::FashionMNIST::load(missing); },
      {missing, "train-images-idx3-ubyte", "apt-get install dataset-fashion-mnist", "install-deps.sh"});
  ScopedEnv env(kiln::data::FashionMNIST::kDirEnvVar, missing);
  expect_error([&] { kiln::data::FashionMNIST::load(); },
               {missing, "KILN_FASHION_MNIST_DIR", "apt-get install"});
  expect_error([&] { kiln::data::MNIST::load(""); }, {"MNIST", "folder"});
}

TEST_F(IdxTest, LoaderChecksCountsAndLabels) {
  write_fake_mnist(dir_, 20, 10, 9);
  expect_error([&] { kiln::data::MNIST::load(dir_.string()); },
               {"10 images", "9 labels", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"});

  write_fake_mnist(dir_, 20, 10, 10);
  const std::string labels = (dir_ / "train-labels-idx1-ubyte.gz").string();
  Bytes bad(20, 1);
  bad[17] = 10;
  write_gzip(labels, idx_bytes(0x08, {20}, bad));
  expect_error([&] { kiln::data::MNIST::load(dir_.string()); }, {labels, "label 10 at index 17", "0..9"});
}

// ---- the real data set, where the Debian package is installed ----

TEST(FashionMnistPackage, ShapesLabelsAndClassBalance) {
  const fs::path dir = kiln::data::FashionMNIST::kDefaultDir;
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " not found: install the dataset-fashion-mnist package (scripts/install-deps.sh)";
  auto [train, test] = kiln::data::FashionMNIST::load(dir.string());
  EXPECT_EQ(train.images.shape(), (kiln::Shape{60000, 28, 28}));
  EXPECT_EQ(test.images.shape(), (kiln::Shape{10000, 28, 28}));
  EXPECT_EQ(train.labels.shape(), (kiln::Shape{60000}));
  EXPECT_EQ(test.labels.shape(), (kiln::Shape{10000}));
  EXPECT_EQ(train.images.dtype(), DType::u8);
  EXPECT_EQ(train.labels.dtype(), DType::i64);

  for (const auto* split : {&train, &test}) {
    std::array<int64_t, 10> counts{};
    for (int64_t y : split->labels.to_vector<int64_t>()) {
      ASSERT_GE(y, 0);
      ASSERT_LT(y, 10);
      ++counts[static_cast<size_t>(y)];
    }
    for (int64_t c : counts) EXPECT_EQ(c, split->size() / 10);  // both splits are exactly balanced
  }
  // Real images, not zeros: pixels span the full range and the first training image is an ankle boot.
  std::vector<uint8_t> pixels = train.images.to_vector<uint8_t>();
  EXPECT_EQ(*std::max_element(pixels.begin(), pixels.end()), 255);
  EXPECT_EQ(train.labels.to_vector<int64_t>()[0], 9);
}

}  // namespace
