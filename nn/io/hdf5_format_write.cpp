// kiln/nn/io/hdf5_format_write.cpp: writing the kiln HDF5 envelope (hdf5_format.h).
#include "kiln/nn/io/hdf5_format.h"

#include <ctime>

#include "kiln/nn/io/hdf5_atomic_write.h"
#include "kiln/tensor/error.h"

#ifndef KILN_VERSION_STRING
#define KILN_VERSION_STRING "unknown"
#endif

namespace kiln::nn::io::detail {

namespace {
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

void write_kiln_file(const std::string& path, const std::string& content, const std::string& summary,
                     const std::function<void(const H5Out& out)>& fill) {
  auto lock = hdf5_lock();
  write_file_atomically(path, [&](const std::string& temp) {
    H5Out out = create_file(temp, path);
    write_string_attr(out, out.file, "format", kFormatName);
    write_int_attr(out, out.file, "format_version", kFormatVersion);
    write_string_attr(out, out.file, "kiln_version", KILN_VERSION_STRING);
    write_string_attr(out, out.file, "created", utc_now());
    write_string_attr(out, out.file, "content", content);
    // An attribute over 64 KiB would need the heap storage kiln avoids (hdf5_write.cpp); a summary that
    // long is cut.
    constexpr size_t kMaxSummary = 60000;
    write_string_attr(out, out.file, "model_summary",
                      summary.size() <= kMaxSummary ? summary : summary.substr(0, kMaxSummary) + "\n...");
    fill(out);
    if (!out.file.close()) hdf5_fail(path, "cannot finish writing the file (disk full?)");
  });
}

}  // namespace kiln::nn::io::detail
