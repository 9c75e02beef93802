// kiln/data/rng.h: the small deterministic random stream that data/ uses for shuffles, splits, samplers
// and random transforms. A stream is keyed by (seed, stream id) and draws Philox-4x32-10 blocks
// (tensor/random.h) at consecutive counters, so values depend only on the key and the draw's position:
// never on thread counts, and never on kiln's default generator. Depends on tensor/random.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor/random.h"

namespace kiln::data {

// A 64-bit mix of two values (SplitMix64 finalizer over a combination), for deriving stream keys.
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : key_(mix_seed(seed, stream)) {}
  uint64_t next_u64() {
    if (used_ == 2) {
      auto w = philox4x32(key_, counter_++);
      block_[0] = (uint64_t{w[0]} << 32) | w[1];
      block_[1] = (uint64_t{w[2]} << 32) | w[3];
      used_ = 0;
    }
    return block_[used_++];
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's multiply-and-reject).
  int64_t below(int64_t n) {
    const uint64_t range = static_cast<uint64_t>(n);
    for (;;) {
      unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * range;
      uint64_t low = static_cast<uint64_t>(m);
      if (low >= range || low >= (-range) % range) return static_cast<int64_t>(m >> 64);
    }
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
  uint64_t block_[2] = {0, 0};
  int used_ = 2;
};

// Fisher-Yates shuffle of `v` with `rng`.
template <class T>
void shuffle_in_place(std::vector<T>& v, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.below(i + 1)]);
}

// A random permutation of 0..n-1, determined by (seed, stream).
inline std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Rng rng(seed, stream);
  shuffle_in_place(p, rng);
  return p;
}

}  // namespace kiln::data
