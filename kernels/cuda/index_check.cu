// CUDA index range checks that never make the host wait, and arange written on the device (the table's
// check_index and arange entries). A check kernel compares every index with its range and, for the first
// bad one since the device's error word was last read, records (check id, value, range) there with one
// atomicCAS; sync_stream (runtime.cpp) reads the word at the next synchronization and throws the message
// registered here under the id. The index kernels themselves skip bad values (reduce_index.cu), so a bad
// index costs an error, never an out-of-bounds access. Depends on strided.cuh.
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kernels/cuda/strided.cuh"

namespace kiln::cuda {
namespace {

__global__ void check_index_kernel(const int64_t* idx, int64_t n, int64_t lo, int64_t hi, bool has_allowed,
                                   int64_t allowed, int check_id, IndexErrorWord* word) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t v = idx[e];
    if ((v >= lo && v < hi) || (has_allowed && v == allowed)) continue;
    if (atomicCAS(&word->flag, 0, 1) == 0) {
      // Only the winner writes the rest; the host reads it after the stream has drained.
      word->check_id = check_id, word->value = v, word->lo = lo, word->hi = hi;
    }
    return;
  }
}

template <class T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step_value) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = static_cast<T>(__dadd_rn(start, __dmul_rn(static_cast<double>(i), step_value)));  // no FMA
}

// The registered checks: op and what by content (a few per op in a program), never removed.
struct Registered {
  std::string op, what;
  bool has_allowed = false;
  int64_t allowed = 0;
};
std::mutex g_registry_mutex;
std::vector<Registered>& registry() {
  static auto* r = new std::vector<Registered>();  // never destroyed: read while throwing at exit too
  return *r;
}

}  // namespace

int index_check_id(const IndexCheck& c) {
  std::lock_guard lock(g_registry_mutex);
  std::vector<Registered>& r = registry();
  for (size_t i = 0; i < r.size(); ++i)
    if (r[i].op == c.op && r[i].what == c.what && r[i].has_allowed == c.has_allowed &&
        (!c.has_allowed || r[i].allowed == c.allowed))
      return static_cast<int>(i);
  r.push_back({c.op, c.what, c.has_allowed, c.allowed});
  return static_cast<int>(r.size() - 1);
}

std::string index_check_message(int id, int64_t value, int64_t lo, int64_t hi) {
  Registered entry;
  {
    std::lock_guard lock(g_registry_mutex);
    if (id >= 0 && static_cast<size_t>(id) < registry().size()) entry = registry()[id];
  }
  IndexCheck c{.op = entry.op.empty() ? "index check" : entry.op.c_str(),
               .what = entry.what.empty() ? "a dimension of size" : entry.what.c_str(),
               .lo = lo,
               .hi = hi,
               .has_allowed = entry.has_allowed,
               .allowed = entry.allowed};
  return index_range_message(c, value);
}

void check_index(const Tensor& index, const IndexCheck& check) {
  const int dev = device_of(index, check.op);
  const int64_t n = index.numel();
  if (n == 0) return;
  KILN_ASSERT(index.dtype() == DType::i64, check.op, ": index check on ", index.dtype());
  Tensor dense = index;
  if (!index.is_contiguous()) {  // a device copy: still no host wait
    dense = empty(index.shape(), {.dtype = DType::i64, .device = index.device()});
    copy_on_device(index, dense);
  }
  IndexErrorWord* word = index_error_word(dev);
  const int id = index_check_id(check);
  DeviceGuard guard(dev);
  check_index_kernel<<<grid_for(n), kThreads, 0, stream(dev)>>>(dense.data<int64_t>(), n, check.lo, check.hi,
                                                                check.has_allowed, check.allowed, id, word);
  KILN_CUDA_CHECK_LAUNCH(check.op);
  note_index_checks(dev);
}

void arange(const Tensor& out, double start, double step) {
  KILN_ASSERT(out.is_contiguous(), "arange kernel expects a contiguous output");
  const int dev = device_of(out, "arange");
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_ALL(out.dtype(), "arange", [&] {
    using T = scalar_t;
    arange_kernel<T>
        <<<grid_for(n), kThreads, 0, stream(dev)>>>(static_cast<T*>(out.data_ptr()), n, start, step);
  });
  KILN_CUDA_CHECK_LAUNCH("arange");
}

}  // namespace kiln::cuda
