// The CPU block cache (see cpu_allocator.h). Sanitizer builds bypass it, so that a use after free is
// still caught.
#include "kiln/tensor/cpu_allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "kiln/tensor/error.h"

namespace kiln::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheEnabled = false;
#else
constexpr bool kCacheEnabled = true;
#endif
constexpr size_t kMinCachedBlock = size_t{1} << 20;  // smaller blocks come from glibc's free lists
constexpr size_t kMaxCachedBytes = size_t{1} << 30;  // beyond this, freed blocks go back to the system

size_t rounded(size_t nbytes) { return nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64; }

class BlockCache {
 public:
  void* take(size_t size) {
    std::lock_guard lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    cached_ -= size;
    return p;
  }
  bool keep(void* p, size_t size) {
    std::lock_guard lock(mutex_);
    if (cached_ + size > kMaxCachedBytes) return false;
    free_.emplace(size, p);
    cached_ += size;
    return true;
  }
  void release_all() {
    std::lock_guard lock(mutex_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    cached_ = 0;
  }
  int64_t cached() {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(cached_);
  }

 private:
  std::mutex mutex_;
  std::unordered_multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

// Never destroyed: storages that outlive static destruction still return their blocks safely.
BlockCache& cache() {
  static BlockCache* c = new BlockCache;
  return *c;
}

}  // namespace

void* cpu_allocate(size_t nbytes, int) {
  size_t size = rounded(nbytes);
  if (kCacheEnabled && size >= kMinCachedBlock) {
    if (void* p = cache().take(size)) return p;
  }
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr && kCacheEnabled) {  // the cache may be holding what the system needs
    cache().release_all();
    p = std::aligned_alloc(64, size);
  }
  KILN_CHECK(p != nullptr, "out of CPU memory allocating ", nbytes, " bytes");
  return p;
}

void cpu_deallocate(void* p, size_t nbytes, int) {
  size_t size = rounded(nbytes);
  if (kCacheEnabled && size >= kMinCachedBlock && cache().keep(p, size)) return;
  std::free(p);
}

int64_t cpu_cached_bytes() { return cache().cached(); }
void cpu_empty_cache() { cache().release_all(); }

}  // namespace kiln::detail
