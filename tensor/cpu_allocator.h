// kiln/tensor/cpu_allocator.h: the CPU allocator behind Storage (internal to tensor/).
// Blocks are 64-byte aligned. Large blocks are cached after free and reused by exact size: a training
// loop allocates the same sizes every step, and glibc serves each large allocation with a fresh mmap
// whose pages fault in again on first touch (16M-element ops ran at 4-9 GB/s instead of ~40).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::detail {

void* cpu_allocate(size_t nbytes, int device_index);
void cpu_deallocate(void* ptr, size_t nbytes, int device_index);
int64_t cpu_cached_bytes();
void cpu_empty_cache();

}  // namespace kiln::detail
