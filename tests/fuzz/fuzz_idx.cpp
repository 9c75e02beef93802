// tests/fuzz/fuzz_idx.cpp: libFuzzer target for data::read_idx (data/idx.h), raw and gzip. The input is
// written to a temporary file and read back. Oracles: the only exception is kiln::Error, and a file that
// reads returns a tensor whose element count matches its shape and the bytes the header promised.
// Built and run by tests/fuzz/run.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiln/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = "/tmp/kiln_fuzz_idx_" + std::to_string(::getpid()) + ".idx";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    kiln::Tensor t = kiln::data::read_idx(path);
    int64_t n = 1;
    for (int64_t d : t.shape()) n *= d;
    if (n != t.numel() || (n > 0 && !t.is_contiguous())) {
      std::fprintf(stderr, "fuzz_idx: tensor %s is inconsistent\n", kiln::shape_str(t.shape()).c_str());
      std::abort();
    }
    // Touch every byte, so a short allocation shows up under ASan.
    static volatile uint8_t sink = 0;
    uint8_t acc = 0;
    const uint8_t* p = static_cast<const uint8_t*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel() * static_cast<int64_t>(kiln::dtype_size(t.dtype())); ++i) acc ^= p[i];
    sink = acc;
  } catch (const kiln::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
