// nn/io/export_file.cpp: atomic file replacement with POSIX calls.
#include "kiln/nn/io/export_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kiln/tensor/error.h"

namespace kiln::nn::io {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  KILN_CHECK(!path.empty(), "export: empty output path");
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  KILN_CHECK(fs::is_directory(dir), "export: ", path, ": the folder ", dir.string(), " does not exist");
  std::string tmp = (dir / ("." + target.filename().string() + ".tmpXXXXXX")).string();
  int fd = mkstemp(tmp.data());
  KILN_CHECK(fd >= 0, "export: ", path, ": cannot create a temporary file in ", dir.string(), ": ",
             std::strerror(errno));
  auto fail = [&](const char* what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    KILN_CHECK(false, "export: ", path, ": ", what, ": ", std::strerror(e));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("write failed");
    done += static_cast<size_t>(w);
  }
  if (::fchmod(fd, 0644) != 0) fail("chmod failed");
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    KILN_CHECK(false, "export: ", path, ": close failed: ", std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    KILN_CHECK(false, "export: ", path, ": rename failed: ", std::strerror(e));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace kiln::nn::io
