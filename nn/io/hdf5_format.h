// kiln/nn/io/hdf5_format.h: the envelope every kiln HDF5 file shares (internal to nn/io). The root carries
// the attributes
//   format = "kiln-hdf5", format_version = 1, kiln_version, created (ISO 8601 UTC),
//   content = "weights" | "checkpoint" | "estimator", model_summary (the model's printed tree)
// and the groups that content defines. Writing goes through write_file_atomically, so a published file is
// always complete.
#pragma once

#include <functional>
#include <string>

#include "kiln/nn/io/hdf5_tensor.h"

namespace kiln::nn::io::detail {

inline constexpr const char* kFormatName = "kiln-hdf5";
inline constexpr int64_t kFormatVersion = 1;

// Creates the file at `path` atomically: root attributes first, then fill(out), then a checked close.
void write_kiln_file(const std::string& path, const std::string& content, const std::string& summary,
                     const std::function<void(const H5Out& out)>& fill);

// Opens a file for reading and checks its envelope: a kiln file must have a format_version this build
// reads and, when `content` is given, that content (a checkpoint may be read where weights are expected).
// Files without the kiln marker (written by h5py from PyTorch) are accepted as foreign.
H5In open_kiln_file(const std::string& path, const std::string& what);

}  // namespace kiln::nn::io::detail
