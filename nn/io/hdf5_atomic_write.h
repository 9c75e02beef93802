// kiln/nn/io/hdf5_atomic_write.h: writing a file so that a crash, a kill or a full disk at any moment leaves
// either the old file or the complete new one at `path`, never a torn one. The content is written to a
// temporary file in the same folder (rename is atomic only within one file system), flushed and fsync'ed,
// renamed over `path`, and the folder is fsync'ed so the rename itself survives a power cut.
#pragma once

#include <functional>
#include <string>

namespace kiln::nn::io {

// Calls write(temp_path) to create the content, then publishes it at `path` as described above. If write
// throws, the temporary file is removed and the exception propagates; `path` is untouched. Temporary files
// left by killed writers of the same `path` (their process is gone) are removed after a successful write.
// Throws kiln::Error naming the path and the failed system call.
void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& temp)>& write);

}  // namespace kiln::nn::io
