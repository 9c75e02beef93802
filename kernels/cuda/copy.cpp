// The table's copy on CUDA: device <-> device within one device runs the strided conversion kernel
// (elementwise.cu); host <-> device transfers move the bytes of a dense buffer with cudaMemcpyAsync and
// do any layout or dtype conversion on the side where the data already is. Reading into host memory
// waits for the stream (a read is the only place kiln synchronizes).
#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {
namespace {

// Transfers out of pinned memory still in flight, each with the storage it reads (kept alive until its
// event completes; reaped on later copies).
struct Pending {
  cudaEvent_t done;
  Storage source;
};
std::mutex g_pending_mutex;
std::vector<Pending> g_pending;

// Free pinned host blocks by size (pin_memory's cache; never returned to the driver). Never destroyed: a
// pinned tensor may die during static destruction.
struct PinnedCache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free;
};
PinnedCache& pinned_cache() {
  static auto* c = new PinnedCache();
  return *c;
}

void reap_finished() {
  std::lock_guard lock(g_pending_mutex);
  std::erase_if(g_pending, [](const Pending& p) {
    if (cudaEventQuery(p.done) != cudaSuccess) {
      cudaGetLastError();  // cudaErrorNotReady is an answer, not an error
      return false;
    }
    cudaEventDestroy(p.done);
    return true;
  });
}

bool pinned_pointer(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

size_t bytes_of(const Tensor& t) { return static_cast<size_t>(t.numel()) * dtype_size(t.dtype()); }

// A dense tensor holding t's values in t's dtype on t's device (t itself when it already is).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor d = empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
  if (t.device().is_cpu())
    backend(Device::cpu()).copy(t, d);
  else
    copy_on_device(t, d);
  return d;
}

void host_to_device(const Tensor& src, const Tensor& dst) {
  const int dev = dst.device().index;
  check_not_capturing(dev, "a host-to-device copy (to(cuda) of a CPU tensor)");
  Tensor host = dense(src);
  const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
  Tensor staged = direct ? dst : empty(src.shape(), {.dtype = src.dtype(), .device = dst.device()});
  DeviceGuard guard(dev);
  // From pageable memory the call returns once the bytes are staged, so `host` may be freed right after;
  // from pinned memory the DMA reads `host` later, so its storage is kept until the copy's event.
  reap_finished();
  KILN_CUDA_CHECK(cudaMemcpyAsync(staged.data_ptr(), host.data_ptr(), bytes_of(host), cudaMemcpyHostToDevice,
                                  stream(dev)),
                  "copy (host to device)");
  if (pinned_pointer(host.data_ptr())) {
    cudaEvent_t done = nullptr;
    KILN_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "copy (host to device)");
    KILN_CUDA_CHECK(cudaEventRecord(done, stream(dev)), "copy (host to device)");
    std::lock_guard lock(g_pending_mutex);
    g_pending.push_back({done, host.storage()});
  }
  if (!direct) copy_on_device(staged, dst);
}

void device_to_host(const Tensor& src, const Tensor& dst) {
  const int dev = src.device().index;
  check_not_capturing(dev, "reading a value on the host (item(), to(cpu))");
  Tensor on_device = dense(src);
  const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
  Tensor host = direct ? dst : empty(src.shape(), {.dtype = src.dtype()});
  DeviceGuard guard(dev);
  KILN_CUDA_CHECK(cudaMemcpyAsync(host.data_ptr(), on_device.data_ptr(), bytes_of(on_device),
                                  cudaMemcpyDeviceToHost, stream(dev)),
                  "copy (device to host)");
  sync_stream(dev, "copy (device to host)");
  if (!direct) backend(Device::cpu()).copy(host, dst);
}

}  // namespace

Tensor pin_memory(const Tensor& t) {
  KILN_CHECK(t.device().is_cpu(), "pin_memory: needs a CPU tensor, this one is on ", t.device());
  KILN_CHECK(is_available(), "pin_memory: no CUDA device (pinned memory needs the CUDA driver)");
  const size_t bytes = std::max<size_t>(static_cast<size_t>(t.numel()) * dtype_size(t.dtype()), 1);
  // Freed pinned blocks are kept by exact size and reused: cudaFreeHost waits for the whole device, which
  // would stall the DataLoader's every batch. A block is freed only once no transfer reads it (pending
  // transfers hold its storage), so reuse is safe.
  void* p = nullptr;
  {
    PinnedCache& cache = pinned_cache();
    std::lock_guard lock(cache.mutex);
    auto it = cache.free.find(bytes);
    if (it != cache.free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    }
  }
  if (p == nullptr) KILN_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "pin_memory");
  Tensor out = from_blob(p, t.shape(), t.dtype(), [bytes](void* q) {
    PinnedCache& cache = pinned_cache();
    std::lock_guard lock(cache.mutex);
    cache.free[bytes].push_back(q);
  });
  if (t.numel() > 0) out.copy_(t.detach());
  return out;
}

bool is_pinned(const Tensor& t) {
  return t.device().is_cpu() && t.numel() > 0 && pinned_pointer(t.data_ptr());
}

void copy(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.device().is_cpu()) return host_to_device(src, dst);
  if (dst.device().is_cpu()) return device_to_host(src, dst);
  if (src.device() == dst.device()) return copy_on_device(src, dst);
  // Between two GPUs: through the host (simple and correct; peer copies are an optimization for later).
  Tensor host = empty(src.shape(), {.dtype = src.dtype()});
  device_to_host(src, host);
  host_to_device(host, dst);
}

}  // namespace kiln::cuda
