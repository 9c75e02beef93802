// data/loader.cpp: DataLoader and its epoch runner (see loader.h). Workers claim batch numbers in order
// from a shared counter and park finished batches in a map keyed by batch number; the iterating thread
// takes them out strictly in order, so the result never depends on which worker was faster.
// Depends on dataset.h, sampler.h, transforms.h, rng.h, the kernel table (pinned staging through the CUDA
// backend's pin_memory entry, so data stays above tensor/ only) and the standard thread library.
#include "kiln/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "kiln/data/rng.h"
#include "kiln/tensor/backend.h"

namespace kiln::data {
namespace {

// Whether pin_memory can be honoured; the first time it cannot, says so once per process.
bool pinning_available() {
  if (has_backend(DeviceType::cuda)) return true;
  static std::once_flag noted;
  std::call_once(noted, [] {
    std::fprintf(stderr,
                 "note: DataLoader pin_memory ignored: no CUDA device (batches stay in pageable "
                 "host memory)\n");
  });
  return false;
}

}  // namespace

namespace detail {

struct EpochRun {
  DatasetPtr dataset;
  CollateFn collate;
  Transform transform;
  bool pin = false;                           // pin_memory asked for and a CUDA backend present
  std::vector<std::vector<int64_t>> batches;  // the whole epoch's batches; delivery starts at `next`
  uint64_t seed = 0;
  int64_t epoch = 0;

  std::mutex mutex;
  std::condition_variable produced, consumed;
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Slot> ready;
  int64_t next = 0;        // the next batch to hand to the iterating thread
  int64_t next_claim = 0;  // the next batch a worker will make
  int64_t window = 0;      // batches that may be made ahead of `next`
  bool stop = false;
  std::vector<std::thread> workers;

  int64_t count() const { return static_cast<int64_t>(batches.size()); }

  Batch make(int64_t b) const {
    const std::vector<int64_t>& idx = batches[static_cast<size_t>(b)];
    Batch batch;
    if (collate) {
      std::vector<Example> examples;
      examples.reserve(idx.size());
      for (int64_t i : idx) examples.push_back(dataset->get(i));
      batch = collate(examples);
    } else {
      batch = dataset->get_batch(idx);
    }
    if (transform) batch.x = transform(batch.x, mix_seed(mix_seed(seed, static_cast<uint64_t>(epoch)), b));
    if (pin) {
      const Backend& cuda = backend(Device::cuda());
      if (batch.x.defined()) batch.x = cuda.pin_memory(batch.x);
      if (batch.y.defined()) batch.y = cuda.pin_memory(batch.y);
    }
    return batch;
  }

  void work() {
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mutex);
        consumed.wait(lock, [&] { return stop || next_claim >= count() || next_claim < next + window; });
        if (stop || next_claim >= count()) return;
        b = next_claim++;
      }
      Slot slot;
      try {
        slot.batch = make(b);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(b, std::move(slot));
      }
      produced.notify_all();
    }
  }

  void start(int num_workers, int prefetch_factor) {
    next_claim = next;
    window = static_cast<int64_t>(num_workers) * prefetch_factor;
    try {
      for (int w = 0; w < num_workers; ++w) workers.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {  // the threads started so far are joined by the destructor
      KILN_CHECK(false, "DataLoader: could not start worker thread ", workers.size() + 1, " of ", num_workers,
                 ": ", e.what(), "; use fewer num_workers");
    }
  }

  // The next batch in order; false at the end of the epoch.
  bool take(Batch& out) {
    if (next >= count()) return false;
    KILN_CHECK(!stopped(),
               "DataLoader: this epoch's iteration was ended (a newer `for` over the loader, or "
               "load_state_dict, stopped it); iterate one epoch at a time");
    if (workers.empty()) {
      try {
        out = make(next++);
      } catch (...) {
        rethrow(std::current_exception(), next - 1);
      }
      return true;
    }
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(mutex);
      produced.wait(lock, [&] { return stop || ready.count(next) != 0; });
      KILN_CHECK(!stop, "DataLoader: this epoch's iteration was ended while waiting for batch ", next);
      auto it = ready.find(next);
      slot = std::move(it->second);
      ready.erase(it);
      ++next;
    }
    consumed.notify_all();
    if (slot.error) rethrow(slot.error, next - 1);
    out = std::move(slot.batch);
    return true;
  }

  [[noreturn]] void rethrow(const std::exception_ptr& error, int64_t b) const {
    try {
      std::rethrow_exception(error);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      KILN_CHECK(false, "DataLoader: a worker failed making batch ", b, " of epoch ", epoch, ": ", e.what());
    } catch (...) {
      KILN_CHECK(false, "DataLoader: a worker failed making batch ", b, " of epoch ", epoch,
                 " (unknown exception)");
    }
    std::abort();  // unreachable
  }

  bool stopped() {
    std::lock_guard<std::mutex> lock(mutex);
    return stop;
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    consumed.notify_all();
    produced.notify_all();
    for (std::thread& t : workers)
      if (t.joinable()) t.join();
    workers.clear();
  }

  ~EpochRun() { shutdown(); }
};

}  // namespace detail

DataLoader::DataLoader(DatasetPtr dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  KILN_CHECK(dataset_ != nullptr, "DataLoader: null dataset");
  KILN_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  KILN_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", options_.num_workers);
  // Workers are threads of this process: far more than the machine's cores only adds contention, and
  // tens of thousands exhaust the process's thread limit.
  const int max_workers = std::max(64, 8 * static_cast<int>(std::thread::hardware_concurrency()));
  KILN_CHECK(options_.num_workers <= max_workers, "DataLoader: num_workers = ", options_.num_workers,
             " is more than this machine can usefully run (at most ", max_workers, ", 8 per core)");
  KILN_CHECK(options_.prefetch_factor <= 1024, "DataLoader: prefetch_factor must be <= 1024, got ",
             options_.prefetch_factor);
  KILN_CHECK(options_.prefetch_factor >= 1, "DataLoader: prefetch_factor must be >= 1, got ",
             options_.prefetch_factor);
  KILN_CHECK(!(options_.sampler && options_.shuffle),
             "DataLoader: sampler and shuffle = true exclude each other (the sampler decides the order)");
  sampler_ = options_.sampler   ? options_.sampler
             : options_.shuffle ? std::shared_ptr<const Sampler>(std::make_shared<RandomSampler>())
                                : std::shared_ptr<const Sampler>(std::make_shared<SequentialSampler>());
  if (options_.seed) {
    seed_ = *options_.seed;
  } else {
    Generator& g = default_generator();
    seed_ = mix_seed(g.seed(), g.advance(1));
  }
}

DataLoader::~DataLoader() {
  if (auto run = live_.lock()) run->shutdown();
}

std::vector<int64_t> DataLoader::epoch_indices(int64_t epoch) const {
  return sampler_->indices(dataset_->size(), seed_, epoch);
}

int64_t DataLoader::size() const {
  const int64_t n = static_cast<int64_t>(epoch_indices(std::max<int64_t>(epoch_, 0)).size());
  const int64_t b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

DataLoader::Iterator DataLoader::begin() {
  if (auto old = live_.lock()) old->shutdown();
  if (!resume_ || epoch_ < 0 || position_ >= size()) {
    epoch_ += 1;
    position_ = 0;
  }
  resume_ = false;
  auto run = std::make_shared<detail::EpochRun>();
  run->dataset = dataset_;
  run->collate = options_.collate;
  run->transform = options_.transform;
  run->pin = options_.pin_memory && pinning_available();
  run->seed = seed_;
  run->epoch = epoch_;
  std::vector<int64_t> order = epoch_indices(epoch_);
  const size_t b = static_cast<size_t>(options_.batch_size);
  for (size_t at = 0; at < order.size(); at += b) {
    if (options_.drop_last && at + b > order.size()) break;
    run->batches.emplace_back(order.begin() + at, order.begin() + std::min(order.size(), at + b));
  }
  run->next = std::min<int64_t>(position_, run->count());
  run->start(options_.num_workers, options_.prefetch_factor);
  live_ = run;
  return Iterator(this, std::move(run));
}

DataLoader::Iterator::Iterator(DataLoader* loader, std::shared_ptr<detail::EpochRun> run)
    : loader_(loader), run_(std::move(run)) {
  fetch();
}

void DataLoader::Iterator::fetch() {
  if (!run_->take(current_)) {
    done_ = true;
    current_ = Batch();
    run_->shutdown();
    return;
  }
  loader_->position_ = run_->next;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  fetch();
  return *this;
}

void DataLoader::manual_seed(uint64_t seed) {
  seed_ = seed;
  epoch_ = -1;
  position_ = 0;
  resume_ = false;
}

void DataLoader::set_epoch(int64_t epoch) {
  KILN_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be >= 0, got ", epoch);
  epoch_ = epoch - 1;
  position_ = 0;
  resume_ = false;
}

namespace {

Tensor i64_scalar(int64_t v) {
  Tensor t = empty({}, {.dtype = DType::i64});
  *t.data<int64_t>() = v;
  return t;
}

int64_t read_i64(const StateDict& state, const std::string& key) {
  KILN_CHECK(state.contains(key), "DataLoader::load_state_dict: no entry '", key,
             "' (expected seed, epoch and position)");
  const Tensor& t = state.at(key);
  KILN_CHECK(t.defined() && t.dtype() == DType::i64 && t.numel() == 1, "DataLoader::load_state_dict: '", key,
             "' must be a single i64 value, got ",
             t.defined() ? shape_str(t.shape()) : "an undefined tensor");
  return t.item<int64_t>();
}

}  // namespace

StateDict DataLoader::state_dict() const {
  StateDict s;
  s.insert("seed", i64_scalar(static_cast<int64_t>(seed_)));
  s.insert("epoch", i64_scalar(epoch_));
  s.insert("position", i64_scalar(position_));
  return s;
}

void DataLoader::load_state_dict(const StateDict& state) {
  const int64_t seed = read_i64(state, "seed"), epoch = read_i64(state, "epoch"),
                position = read_i64(state, "position");
  KILN_CHECK(epoch >= -1 && position >= 0, "DataLoader::load_state_dict: epoch ", epoch, " and position ",
             position, " must be >= -1 and >= 0");
  if (auto old = live_.lock()) old->shutdown();
  seed_ = static_cast<uint64_t>(seed);
  epoch_ = epoch;
  position_ = position;
  resume_ = true;
}

}  // namespace kiln::data
