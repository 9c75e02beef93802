// kiln/tensor/random.h: the seeded, counter-based random stream (Philox-4x32-10).
// Every random draw takes a block of counters from the default generator; element e of a draw uses
// Philox(seed, counter = offset + e / 2) and two of the four words it returns. Values depend only on the
// seed and the element's position, never on the thread count or the device. Depends on nothing.
#pragma once

#include <array>
#include <cstdint>

namespace kiln {

// Sets the seed of the default generator and rewinds its stream. Call it once for a reproducible run.
void manual_seed(uint64_t seed);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(uint64_t seed) { seed_ = seed, offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves the counters for `n_elements` elements and returns the first counter.
  uint64_t advance(uint64_t n_elements);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};
Generator& default_generator();

// The Philox-4x32-10 block function: four 32-bit words for (key = seed, counter).
std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter);

}  // namespace kiln
