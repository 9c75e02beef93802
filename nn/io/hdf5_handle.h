// kiln/nn/io/hdf5_handle.h: the thin layer over the HDF5 C API that the nn/io files share (internal; not
// part of the public API, and only included by .cpp files, so hdf5.h stays out of user programs).
//   - Handle: an owning hid_t that closes itself with the right H5?close.
//   - hdf5_check / hdf5_fail: turn a failed call into a kiln::Error carrying the file name, what kiln was
//     doing, and the innermost messages of HDF5's error stack (HDF5's own printing is switched off).
//   - hdf5_lock: the serial HDF5 library is not thread-safe, so every entry point of nn/io holds it.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace kiln::nn::io::detail {

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) reset(), id_ = std::exchange(o.id_, H5I_INVALID_HID), close_ = o.close_;
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  // Closes now and reports whether HDF5 closed it cleanly (a file close flushes and may fail).
  bool close() {
    if (id_ < 0) return true;
    const bool ok = close_(std::exchange(id_, H5I_INVALID_HID)) >= 0;
    return ok;
  }

 private:
  void reset() {
    if (id_ >= 0) close_(std::exchange(id_, H5I_INVALID_HID));
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// An owning POSIX file descriptor.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept {
    if (this != &o) reset(), fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~FileDescriptor() { reset(); }
  int get() const { return fd_; }

 private:
  void reset();
  int fd_ = -1;
};

// Holds the process-wide HDF5 lock; the first one also silences HDF5's automatic error printing.
std::unique_lock<std::recursive_mutex> hdf5_lock();

// Throws kiln::Error "<path>: <what>: <HDF5's messages>" and clears HDF5's error stack.
[[noreturn]] void hdf5_fail(const std::string& path, const std::string& what);
// Returns `id` when it is valid (>= 0), else hdf5_fail.
hid_t hdf5_check(hid_t id, const std::string& path, const std::string& what);
inline Handle hdf5_own(hid_t id, Handle::Closer close, const std::string& path, const std::string& what) {
  return Handle(hdf5_check(id, path, what), close);
}

}  // namespace kiln::nn::io::detail
