// kiln/nn/io/export_file.h: writing an exported file atomically: a temporary file in the same folder,
// fsync, rename over the target, fsync the folder. A crash leaves the old file or the new one, never
// half of one. Depends on nothing.
#pragma once

#include <string>
#include <string_view>

namespace kiln::nn::io {

// Throws kiln::Error naming the path and the system error on failure (the temporary file is removed).
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace kiln::nn::io
