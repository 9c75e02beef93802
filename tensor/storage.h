// kiln/tensor/storage.h: a ref-counted byte buffer on one device, with a version counter that in-place
// writes bump (autograd uses it to detect tensors modified after being saved for backward).
// Depends on device.h. Allocation goes through the device's allocator (tensor/allocator.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "kiln/tensor/device.h"

namespace kiln {

class StorageImpl {
 public:
  // Allocates nbytes on `device` (uninitialized).
  StorageImpl(size_t nbytes, Device device);
  // Wraps memory owned elsewhere; `deleter` (may be empty) is called on destruction.
  StorageImpl(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool owned_ = true;
  std::function<void(void*)> deleter_;
  std::atomic<uint64_t> version_{0};
};
using Storage = std::shared_ptr<StorageImpl>;

// Allocator statistics per device type: bytes held by live storages (and their peak), and bytes of
// freed blocks the allocator keeps for reuse.
struct MemoryStats {
  int64_t allocated_bytes = 0;
  int64_t peak_allocated_bytes = 0;
  int64_t live_storages = 0;
  int64_t cached_bytes = 0;
};
MemoryStats memory_stats(Device device = Device::cpu());
// Returns the cached free blocks of `device` to the system.
void empty_cache(Device device = Device::cpu());

// One allocator per device type; the CPU one is built in, CUDA registers its own.
struct Allocator {
  void* (*allocate)(size_t nbytes, int device_index);
  void (*deallocate)(void* ptr, size_t nbytes, int device_index);
  // Optional (a caching allocator's): bytes of freed blocks held, and returning them (memory_stats and
  // empty_cache for a non-CPU device go through these).
  int64_t (*cached_bytes)() = nullptr;
  void (*empty_cache)() = nullptr;
};
void register_allocator(DeviceType type, Allocator allocator);

}  // namespace kiln
