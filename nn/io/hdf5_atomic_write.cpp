// kiln/nn/io/hdf5_atomic_write.cpp: temp file + fsync + rename + fsync(folder) (hdf5_atomic_write.h).
#include "kiln/nn/io/hdf5_atomic_write.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "kiln/tensor/error.h"

namespace kiln::nn::io {

namespace {

// The marker between the target's name and the writer's pid in a temporary file's name.
constexpr const char* kTempMarker = ".kiln-tmp-";

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string errno_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, int flags, const char* what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  KILN_CHECK(fd >= 0, path, ": cannot open to ", what, ": ", errno_text());
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  KILN_CHECK(rc == 0, path, ": fsync failed while ", what, ": ", errno_text());
}

// Removes "<base>.kiln-tmp-<pid>-..." files in `folder` whose writer process no longer exists.
void remove_stale_temps(const std::string& folder, const std::string& base) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;
  const std::string prefix = base + kTempMarker;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    ::unlink((folder + "/" + name).c_str());
  }
  ::closedir(dir);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  KILN_CHECK(!path.empty() && path.back() != '/', "write_file_atomically: '", path, "' is not a file path");
  static std::atomic<uint64_t> counter{0};
  const std::string folder = folder_of(path), base = base_of(path);
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string temp = folder + "/" + base + kTempMarker + std::to_string(::getpid()) + "-" +
                           std::to_string(counter++) + "-" + std::to_string(now & 0xffffff);
  try {
    write(temp);
    fsync_path(temp, O_RDONLY, "flushing the new file");
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    KILN_CHECK(false, path, ": cannot rename the new file into place: ", why);
  }
  fsync_path(folder, O_RDONLY | O_DIRECTORY, "recording the rename in the folder");
  remove_stale_temps(folder, base);
}

}  // namespace kiln::nn::io
