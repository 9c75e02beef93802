// kiln/nn/io/hdf5_format_read.cpp: checking the kiln HDF5 envelope of a file being read (hdf5_format.h).
#include "kiln/nn/io/hdf5_format.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

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
