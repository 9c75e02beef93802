// Storage allocation through per-device allocators, with live-byte statistics for leak tests.
#include "kiln/tensor/storage.h"

#include <array>
#include <cstdlib>

#include "kiln/tensor/cpu_allocator.h"
#include "kiln/tensor/error.h"

namespace kiln {
namespace {

struct Stats {
  std::atomic<int64_t> allocated{0}, peak{0}, live{0};
};
std::array<Stats, kNumDeviceTypes> g_stats;
std::array<Allocator, kNumDeviceTypes> g_allocators = {
    Allocator{detail::cpu_allocate, detail::cpu_deallocate}, Allocator{nullptr, nullptr}};

void count(Device d, int64_t bytes, int64_t storages) {
  auto& s = g_stats[static_cast<int>(d.type)];
  int64_t now = s.allocated.fetch_add(bytes) + bytes;
  s.live.fetch_add(storages);
  int64_t peak = s.peak.load();
  while (now > peak && !s.peak.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

StorageImpl::StorageImpl(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  const Allocator& a = g_allocators[static_cast<int>(device.type)];
  KILN_CHECK(a.allocate != nullptr, "no allocator for device ", device,
             " (was kiln built with that backend? see KILN_CUDA)");
  data_ = a.allocate(nbytes, device.index);
  count(device, static_cast<int64_t>(nbytes), 1);
}

StorageImpl::StorageImpl(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), owned_(false), deleter_(std::move(deleter)) {}

StorageImpl::~StorageImpl() {
  if (!owned_) {
    if (deleter_) deleter_(data_);
    return;
  }
  g_allocators[static_cast<int>(device_.type)].deallocate(data_, nbytes_, device_.index);
  count(device_, -static_cast<int64_t>(nbytes_), -1);
}

MemoryStats memory_stats(Device device) {
  const auto& s = g_stats[static_cast<int>(device.type)];
  const Allocator& a = g_allocators[static_cast<int>(device.type)];
  int64_t cached = device.is_cpu() ? detail::cpu_cached_bytes() : a.cached_bytes ? a.cached_bytes() : 0;
  return {s.allocated.load(), s.peak.load(), s.live.load(), cached};
}

void empty_cache(Device device) {
  const Allocator& a = g_allocators[static_cast<int>(device.type)];
  if (device.is_cpu())
    detail::cpu_empty_cache();
  else if (a.empty_cache)
    a.empty_cache();
}

void register_allocator(DeviceType type, Allocator allocator) {
  g_allocators[static_cast<int>(type)] = allocator;
}

}  // namespace kiln
