// tests/fuzz/fuzz_checkpoint.cpp: libFuzzer target for the HDF5 checkpoint reader (nn/io): the input is
// written to a file and read as load_checkpoint reads one: the envelope (format, version, content), every
// group of the root and every dataset in it through the checked tensor reader, string datasets and the
// root's string attributes. Seeds are real kiln checkpoints (tests/fuzz/corpus/checkpoint). Oracles: the
// only exception is kiln::Error, nothing crashes or hangs, no allocation passes -malloc_limit_mb, and a
// tensor that reads is consistent (element count matches shape; ASan sees every byte touched). Built and
// run by tests/fuzz/run.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiln/nn/io/hdf5_format.h"
#include "kiln/nn/io/hdf5_tensor.h"
#include "kiln/tensor/error.h"

namespace {

void touch(const kiln::Tensor& t) {
  if (t.numel() != kiln::shape_numel(t.shape()) || !t.is_contiguous()) {
    std::fprintf(stderr, "fuzz_checkpoint: tensor %s is inconsistent\n", kiln::shape_str(t.shape()).c_str());
    std::abort();
  }
  static volatile uint8_t sink = 0;
  uint8_t acc = 0;
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  const int64_t n = t.numel() * static_cast<int64_t>(kiln::dtype_size(t.dtype()));
  for (int64_t i = 0; i < n; ++i) acc ^= p[i];
  sink = acc;
}

void read_everything(const std::string& path) {
  namespace d = kiln::nn::io::detail;
  auto lock = d::hdf5_lock();
  d::H5In in = d::open_kiln_file(path, "");
  for (const char* attr : {"kiln_version", "created", "content", "model_summary"})
    (void)d::read_string_attr(in, in.file, attr);
  for (const std::string& name : d::list_group(in, in.file, "")) {
    d::Handle g = d::open_group(in, in.file, name, name);
    if (g.get() < 0) continue;
    for (const std::string& entry : d::list_group(in, g, name)) {
      const std::string shown = name + "/" + entry;
      try {
        if (d::is_string_dataset(in, g, entry))
          (void)d::read_string_dataset(in, g, entry, shown);
        else
          touch(d::read_tensor(in, g, entry, shown));
      } catch (const kiln::Error&) {
        // One bad entry: the next ones are still read, as a loader reporting every problem would.
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = "/tmp/kiln_fuzz_checkpoint_" + std::to_string(::getpid()) + ".h5";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    read_everything(path);
  } catch (const kiln::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
