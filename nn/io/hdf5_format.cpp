// kiln/nn/io/hdf5_format.cpp: the kiln HDF5 envelope (hdf5_format.h).
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
    write_string_attr(out, out.file, "model_summary", summary);
    fill(out);
    if (!out.file.close()) hdf5_fail(path, "cannot finish writing the file (disk full?)");
  });
}

H5In open_kiln_file(const std::string& path, const std::string& what) {
  H5In in = open_file(path);
  if (!in.kiln_file) return in;
  const auto format = read_string_attr(in, in.file, "format");
  KILN_CHECK(format == kFormatName, path, ": the root attribute 'format' is '", format.value_or(""),
             "', not '", kFormatName, "'");
  const auto version = read_int_attr(in, in.file, "format_version");
  KILN_CHECK(version.has_value() && *version >= 1 && *version <= kFormatVersion, path, ": format_version ",
             version ? std::to_string(*version) : std::string("(missing)"),
             " is not one this kiln reads (1..", kFormatVersion, "); a newer kiln wrote it?");
  const auto content = read_string_attr(in, in.file, "content").value_or("");
  KILN_CHECK(what.empty() || content == what || (what == "weights" && content == "checkpoint"), path,
             ": holds '", content, "', not ", what);
  return in;
}

}  // namespace kiln::nn::io::detail
