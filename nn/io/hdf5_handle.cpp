// kiln/nn/io/hdf5_handle.cpp: HDF5 error capture and the process-wide lock (hdf5_handle.h).
#include "kiln/nn/io/hdf5_handle.h"

#include <H5PLpublic.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

void FileDescriptor::reset() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

std::unique_lock<std::recursive_mutex> hdf5_lock() {
  static std::recursive_mutex mutex;
  std::unique_lock<std::recursive_mutex> lock(mutex);
  static const bool silenced = [] {
    // kiln reports HDF5 failures as kiln::Error with the stack's text; HDF5's default handler would also
    // print the whole stack to stderr for every expected failure (a foreign or corrupted file).
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    // A file names its filters by number; HDF5 would load a shared library from its plugin path for an
    // unknown one. A checkpoint needs no plugins, and an untrusted file must not choose code to load.
    H5PLset_loading_state(0);
    return true;
  }();
  (void)silenced;
  return lock;
}

namespace {
herr_t collect(unsigned n, const H5E_error2_t* err, void* data) {
  auto* messages = static_cast<std::vector<std::string>*>(data);
  if (err->desc != nullptr && err->desc[0] != '\0') messages->emplace_back(err->desc);
  return 0;
}
}  // namespace

void hdf5_fail(const std::string& path, const std::string& what) {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &messages);
  H5Eclear2(H5E_DEFAULT);
  std::string detail;
  // The innermost few frames say what was wrong with the file; the outer ones only name API calls.
  const size_t first = messages.size() > 3 ? messages.size() - 3 : 0;
  for (size_t i = first; i < messages.size(); ++i) detail += (detail.empty() ? "" : "; ") + messages[i];
  throw Error(path + ": " + what + (detail.empty() ? "" : " (HDF5: " + detail + ")"));
}

hid_t hdf5_check(hid_t id, const std::string& path, const std::string& what) {
  if (id < 0) hdf5_fail(path, what);
  return id;
}

}  // namespace kiln::nn::io::detail
