// kiln/nn/train/atomic_file.h: writing a whole file so that readers see the old or the new contents,
// never a torn one: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
// Depends on nothing.
#pragma once

#include <string>
#include <string_view>

namespace kiln::nn::train {

// Throws kiln::Error naming the path and the system's reason when any step fails (the temporary file is
// removed then).
void write_file_atomically(const std::string& path, std::string_view contents);

// The whole file; throws kiln::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace kiln::nn::train
