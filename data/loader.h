// kiln/data/loader.h: DataLoader, which turns a dataset into an epoch of batches: sampling (sequential,
// shuffled, or a Sampler), batching with drop_last, custom collate, a per-batch transform, and background
// prefetch on worker threads. Depends on dataset.h, sampler.h, transforms.h and tensor/state_dict.h.
//
//   data::DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 42, .num_workers = 2});
//   for (auto& batch : loader) { ... batch.x (B, ...), batch.y (B) ... }
//
// Determinism: an epoch's order comes from the sampler with (seed, epoch), and a random transform's seed
// from (seed, epoch, batch number), so batches are identical for any num_workers. Each `for` over the
// loader is a new epoch (epoch 0, 1, ...) with a new order, unless manual_seed() or set_epoch() rewinds
// it. state_dict() records (seed, epoch, batches delivered); a loader that loads it continues that epoch
// at the next batch, in the same order.
//
// Pinning: with pin_memory, batches arrive in pinned host memory (see LoaderOptions::pin_memory).
//
// Prefetch: with num_workers > 0, that many threads prepare batches ahead, at most
// num_workers * prefetch_factor of them, and hand them over in order; the training step waits only when
// preparing a batch is slower than the step. An exception in a worker (a kiln::Error, or another
// exception wrapped in one) is rethrown by the iterating thread when it reaches that batch. Leaving the
// loop early stops and joins the workers (when the iterator is destroyed). One epoch at a time: starting
// a new `for` over a loader ends the previous one's workers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/data/sampler.h"
#include "kiln/data/transforms.h"
#include "kiln/tensor/state_dict.h"

namespace kiln::data {

using CollateFn = std::function<Batch(const std::vector<Example>& examples)>;

struct LoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;  // a new random permutation each epoch (RandomSampler)
  // Seed of the order and of random transforms; unset takes one from kiln's default generator (so
  // kiln::manual_seed makes it reproducible).
  std::optional<uint64_t> seed = std::nullopt;
  bool drop_last = false;   // drop the last batch if it has fewer than batch_size examples
  int num_workers = 0;      // 0: batches are made on the iterating thread when asked for
  int prefetch_factor = 2;  // batches prepared ahead per worker
  std::shared_ptr<const Sampler> sampler = nullptr;  // instead of shuffle (which must then be false)
  // Builds a batch from the examples (dataset.get each); unset uses dataset.get_batch (one gather).
  CollateFn collate = nullptr;
  Transform transform = nullptr;  // applied to batch.x on the worker
  // Copy each batch (x and y) into page-locked host memory on the worker (PyTorch's pin_memory), so that
  // batch.x.to(Device::cuda()) returns before the transfer ends and overlaps the step. Needs a CUDA
  // device; without one the option is ignored (a one-time note on stderr says so).
  bool pin_memory = false;
};

namespace detail {
struct EpochRun;
}

class DataLoader {
 public:
  DataLoader(DatasetPtr dataset, LoaderOptions options = {});
  template <DatasetType D>
  DataLoader(D&& dataset, LoaderOptions options = {})
      : DataLoader(share(std::forward<D>(dataset)), std::move(options)) {}
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  struct Sentinel {};
  class Iterator {
   public:
    Batch& operator*() { return current_; }
    Batch* operator->() { return &current_; }
    Iterator& operator++();
    friend bool operator==(const Iterator& it, Sentinel) { return it.done_; }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, std::shared_ptr<detail::EpochRun> run);
    void fetch();
    DataLoader* loader_;
    std::shared_ptr<detail::EpochRun> run_;
    Batch current_;
    bool done_ = false;
  };

  Iterator begin();  // starts (or resumes) an epoch
  Sentinel end() { return {}; }

  int64_t size() const;  // batches per epoch
  const DatasetPtr& dataset() const { return dataset_; }
  uint64_t seed() const { return seed_; }
  int64_t epoch() const { return epoch_; }  // of the current or last epoch; -1 before the first

  // Rewinds to epoch 0 with a new seed.
  void manual_seed(uint64_t seed);
  // The next `for` runs epoch `epoch` (as DistributedSampler.set_epoch in PyTorch).
  void set_epoch(int64_t epoch);

  // {"seed", "epoch", "position"} as 0-d i64 tensors; position = batches of `epoch` delivered so far.
  StateDict state_dict() const;
  // Throws kiln::Error naming a missing or malformed entry.
  void load_state_dict(const StateDict& state);

 private:
  std::vector<int64_t> epoch_indices(int64_t epoch) const;
  DatasetPtr dataset_;
  LoaderOptions options_;
  std::shared_ptr<const Sampler> sampler_;
  uint64_t seed_ = 0;
  int64_t epoch_ = -1;
  int64_t position_ = 0;
  bool resume_ = false;
  std::weak_ptr<detail::EpochRun> live_;
};

}  // namespace kiln::data
