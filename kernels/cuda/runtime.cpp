// The CUDA runtime side of the backend: error messages, device discovery, one stream, one cuBLAS handle
// and (with cuDNN) one cuDNN handle per device, and the caching device allocator (registered for
// DeviceType::cuda in register.cpp).
//
// The allocator keeps freed blocks in exact size classes (multiples of 512 B below 1 MiB, of 2 MiB above)
// and hands them out again, so a training loop that repeats the same shapes stops calling cudaMalloc after
// its first step. Reuse needs no events: every kernel of a device runs in order on that device's one
// stream, so work queued on a reused block always comes after the work on its previous tensor.
//
// CUDA Graphs (graph.cpp) break that argument: a replay writes again into the blocks its capture used,
// long after they were freed. So blocks used during a capture belong to the Graph's private pool and are
// reused only by that Graph until it is destroyed (see cuda_kernels.h).
#include <cublas_v2.h>
#if KILN_WITH_CUDNN
#include <cudnn.h>
#endif

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/tensor/storage.h"

namespace kiln::cuda {

namespace detail {
namespace {
bool is_capture_error(cudaError_t s) {
  return s == cudaErrorStreamCaptureUnsupported || s == cudaErrorStreamCaptureInvalidated ||
         s == cudaErrorStreamCaptureImplicit || s == cudaErrorStreamCaptureUnjoined ||
         s == cudaErrorStreamCaptureIsolation || s == cudaErrorStreamCaptureUnmatched ||
         s == cudaErrorStreamCaptureMerge || s == cudaErrorStreamCaptureWrongThread;
}
}  // namespace

void throw_cuda_error(const char* file, int line, const char* op, const char* expr, cudaError_t status) {
  cudaGetLastError();  // clear a non-sticky error so later calls are not blamed for it
  const char* hint = is_capture_error(status)
                         ? " [during CUDA Graph capture: a host synchronization, a read of a value (item(), "
                           "to(cpu)), a pageable host copy or a cudaMalloc/cudaFree ran on the capturing "
                           "thread, which CUDA refuses and which invalidates the capture]"
                         : "";
  ::kiln::detail::throw_error(file, line,
                              ::kiln::detail::cat_message(op, ": CUDA error ", cudaGetErrorName(status), " (",
                                                          cudaGetErrorString(status), ") from ", expr, hint));
}
void throw_cublas_error(const char* file, int line, const char* op, const char* expr, int status) {
  auto s = static_cast<cublasStatus_t>(status);
  ::kiln::detail::throw_error(file, line,
                              ::kiln::detail::cat_message(op, ": cuBLAS error ", cublasGetStatusName(s), " (",
                                                          cublasGetStatusString(s), ") from ", expr));
}
}  // namespace detail

namespace {

// The device count and, when it is 0, why: any error from the driver means "no device".
struct Discovery {
  int count = 0;
  std::string why;
};
const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery r;
    cudaError_t s = cudaGetDeviceCount(&r.count);
    if (s != cudaSuccess) {
      cudaGetLastError();
      r.count = 0;
      r.why = std::string(cudaGetErrorName(s)) + ": " + cudaGetErrorString(s);
    } else if (r.count == 0) {
      r.why = "the driver reports 0 devices";
    }
    return r;
  }();
  return d;
}

void check_index(int index, const char* op) {
  const Discovery& d = discovery();
  KILN_CHECK(d.count > 0, op, ": no CUDA device (", d.why, ")");
  KILN_CHECK(index >= 0 && index < d.count, op, ": device cuda:", index, " requested, but there ",
             d.count == 1 ? "is 1 CUDA device" : "are " + std::to_string(d.count) + " CUDA devices");
}

using FreeBlocks = std::unordered_map<size_t, std::vector<void*>>;  // size class -> blocks

}  // namespace

struct PrivatePool {
  FreeBlocks free_blocks;
  int64_t bytes = 0;  // every block that belongs to the pool, live or free
};

namespace {

// Per-device state, created on first use and deliberately never destroyed: at process exit the driver may
// already be shutting down, and freeing into it would fail.
struct DeviceState {
  std::once_flag stream_once, handle_once, cudnn_once;
  cudaStream_t stream = nullptr;
  cublasHandle_t handle = nullptr;
  void* cudnn = nullptr;  // a cudnnHandle_t in builds with cuDNN
  std::mutex mutex;       // guards free_blocks, capture_pool, pool_of
  FreeBlocks free_blocks;
  std::shared_ptr<PrivatePool> capture_pool;  // set while a Graph captures on this device
  std::unordered_map<void*, std::shared_ptr<PrivatePool>> pool_of;  // blocks of live private pools
  IndexErrorWord* error_word = nullptr;                             // device memory, made with the stream
  IndexErrorWord* error_host = nullptr;     // pinned: where sync_stream copies the word to read it
  std::atomic<bool> checks_pending{false};  // check kernels may have run since the word was last read
};
std::vector<DeviceState*>& states() {
  static auto* s = [] {
    auto* v = new std::vector<DeviceState*>();
    for (int i = 0; i < discovery().count; ++i) v->push_back(new DeviceState());
    return v;
  }();
  return *s;
}
DeviceState& state(int index, const char* op) {
  check_index(index, op);
  return *states()[index];
}

std::atomic<int64_t> g_cached{0};
std::atomic<bool> g_allow_tf32{false};
std::atomic<int64_t> g_sync_count{0};

size_t size_class(size_t nbytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSmallLimit = size_t(1) << 20;
  return nbytes < kSmallLimit ? (nbytes + kSmall - 1) / kSmall * kSmall
                              : (nbytes + kLarge - 1) / kLarge * kLarge;
}

void release_cached(int index) {
  DeviceState& st = *states()[index];
  std::lock_guard lock(st.mutex);
  DeviceGuard guard(index);
  for (auto& [bytes, blocks] : st.free_blocks) {
    for (void* p : blocks) {
      KILN_CUDA_CHECK(cudaFree(p), "cuda::empty_cache");
      g_cached.fetch_sub(static_cast<int64_t>(bytes));
    }
  }
  st.free_blocks.clear();
}

}  // namespace

DeviceGuard::DeviceGuard(int index) {
  KILN_CUDA_CHECK(cudaGetDevice(&previous_), "cuda device guard");
  if (previous_ != index) {
    KILN_CUDA_CHECK(cudaSetDevice(index), "cuda device guard");
  } else {
    previous_ = -1;
  }
}
DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);  // no throw from a destructor; the next call reports it
}

cudaStream_t stream(int index) {
  DeviceState& st = state(index, "cuda stream");
  std::call_once(st.stream_once, [&] {
    DeviceGuard guard(index);
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&st.stream, cudaStreamNonBlocking), "cuda stream");
    // The error word is made here, before any capture can begin (capture_begin needs the stream).
    KILN_CUDA_CHECK(cudaMalloc(&st.error_word, sizeof(IndexErrorWord)), "cuda stream (index error word)");
    KILN_CUDA_CHECK(cudaMemsetAsync(st.error_word, 0, sizeof(IndexErrorWord), st.stream),
                    "cuda stream (index error word)");
    KILN_CUDA_CHECK(
        cudaHostAlloc(reinterpret_cast<void**>(&st.error_host), sizeof(IndexErrorWord), cudaHostAllocDefault),
        "cuda stream (index error word)");
  });
  return st.stream;
}

void* cublas_handle(int index) {
  DeviceState& st = state(index, "cublas");
  cudaStream_t s = stream(index);
  std::call_once(st.handle_once, [&] {
    DeviceGuard guard(index);
    KILN_CUBLAS_CHECK(cublasCreate(&st.handle), "cublas");
    KILN_CUBLAS_CHECK(cublasSetStream(st.handle, s), "cublas");
  });
  return st.handle;
}

void* cudnn_handle(int index) {
#if KILN_WITH_CUDNN
  DeviceState& st = state(index, "cudnn");
  cudaStream_t s = stream(index);
  std::call_once(st.cudnn_once, [&] {
    DeviceGuard guard(index);
    cudnnHandle_t h = nullptr;
    KILN_CUDNN_CHECK(cudnnCreate(&h), "cudnn");
    KILN_CUDNN_CHECK(cudnnSetStream(h, s), "cudnn");
    st.cudnn = h;
  });
  return st.cudnn;
#else
  KILN_ASSERT(false, "cudnn_handle: kiln was built without cuDNN");
  return nullptr;
#endif
}

void sync_stream(int index, const char* op) {
  if (stream_capturing(index))
    ::kiln::detail::throw_error(
        __FILE__, __LINE__,
        ::kiln::detail::cat_message(op, ": a host synchronization (waiting for cuda:", index,
                                    ") during CUDA Graph capture cannot be captured (CUDA would refuse it ",
                                    "with cudaErrorStreamCaptureUnsupported and invalidate the capture); ",
                                    "read values before capture() or after replay()"));
  g_sync_count.fetch_add(1);
  DeviceState& st = state(index, op);
  cudaStream_t s = stream(index);
  const bool read_word = st.checks_pending.exchange(false);
  if (read_word)
    KILN_CUDA_CHECK(
        cudaMemcpyAsync(st.error_host, st.error_word, sizeof(IndexErrorWord), cudaMemcpyDeviceToHost, s), op);
  KILN_CUDA_CHECK(cudaStreamSynchronize(s), op);
  if (read_word && st.error_host->flag != 0) {
    const IndexErrorWord e = *st.error_host;
    st.error_host->flag = 0;
    KILN_CUDA_CHECK(cudaMemsetAsync(st.error_word, 0, sizeof(IndexErrorWord), s), op);  // reported once
    ::kiln::detail::throw_error(
        __FILE__, __LINE__,
        ::kiln::detail::cat_message(index_check_message(e.check_id, e.value, e.lo, e.hi),
                                    " (detected on cuda:", index, " at the next synchronization: ", op, ")"));
  }
}

IndexErrorWord* index_error_word(int index) {
  (void)stream(index);  // makes the word
  return state(index, "index check").error_word;
}
void note_index_checks(int index) { state(index, "index check").checks_pending.store(true); }

namespace detail {
int64_t sync_count() { return g_sync_count.load(); }
}  // namespace detail

int device_of(const Tensor& t, const char* op) {
  KILN_ASSERT(t.device().is_cuda(), op, ": CUDA kernel got a tensor on ", t.device());
  return t.device().index;
}

namespace {
void* pop_block(FreeBlocks& blocks, size_t bytes) {
  auto it = blocks.find(bytes);
  if (it == blocks.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  g_cached.fetch_sub(static_cast<int64_t>(bytes));
  return p;
}
}  // namespace

void* allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  DeviceState& st = state(device, "CUDA allocator");
  const size_t bytes = size_class(nbytes);
  std::shared_ptr<PrivatePool> pool;
  {
    std::lock_guard lock(st.mutex);
    pool = st.capture_pool;
    if (pool) {
      if (void* p = pop_block(pool->free_blocks, bytes)) return p;
      // A block of the shared cache is idle (its last use is queued before the capture): it joins the pool.
      if (void* p = pop_block(st.free_blocks, bytes)) {
        st.pool_of[p] = pool;
        pool->bytes += static_cast<int64_t>(bytes);
        return p;
      }
    } else if (void* p = pop_block(st.free_blocks, bytes)) {
      return p;
    }
  }
  DeviceGuard guard(device);
  void* p = nullptr;
  if (pool) {
    // cudaMalloc is not a stream operation, but the capturing thread may not call it in ThreadLocal mode;
    // the block persists as long as the pool, so allowing it here (Relaxed, for this call) is safe. No
    // release_cached() retry: cudaFree cannot run during a capture.
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    KILN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode), "CUDA allocator (capture)");
    cudaError_t s = cudaMalloc(&p, bytes);
    cudaThreadExchangeStreamCaptureMode(&mode);
    if (s != cudaSuccess)
      detail::throw_cuda_error(
          __FILE__, __LINE__, "CUDA allocator (during CUDA Graph capture)",
          ("cudaMalloc of " + std::to_string(bytes) + " bytes on cuda:" + std::to_string(device)).c_str(), s);
    std::lock_guard lock(st.mutex);
    st.pool_of[p] = pool;
    pool->bytes += static_cast<int64_t>(bytes);
    return p;
  }
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();
    release_cached(device);  // the cache may hold the memory this request needs, in other size classes
    cudaError_t s = cudaMalloc(&p, bytes);
    if (s != cudaSuccess)
      detail::throw_cuda_error(
          __FILE__, __LINE__, "CUDA allocator",
          ("cudaMalloc of " + std::to_string(bytes) + " bytes on cuda:" + std::to_string(device)).c_str(), s);
  }
  return p;
}

void deallocate(void* ptr, size_t nbytes, int device) {
  if (ptr == nullptr) return;
  DeviceState& st = *states()[device];
  const size_t bytes = size_class(nbytes);
  std::lock_guard lock(st.mutex);
  g_cached.fetch_add(static_cast<int64_t>(bytes));
  if (auto it = st.pool_of.find(ptr); it != st.pool_of.end()) {
    it->second->free_blocks[bytes].push_back(ptr);
  } else if (st.capture_pool) {
    // Freed while capturing: the captured work may use it, so only this Graph may reuse it.
    st.pool_of[ptr] = st.capture_pool;
    st.capture_pool->bytes += static_cast<int64_t>(bytes);
    st.capture_pool->free_blocks[bytes].push_back(ptr);
  } else {
    st.free_blocks[bytes].push_back(ptr);
  }
}

std::shared_ptr<PrivatePool> new_private_pool() { return std::make_shared<PrivatePool>(); }

void set_capture_pool(int index, std::shared_ptr<PrivatePool> pool) {
  DeviceState& st = state(index, "CUDA Graph");
  std::lock_guard lock(st.mutex);
  st.capture_pool = std::move(pool);
}

void release_private_pool(int index, const std::shared_ptr<PrivatePool>& pool) {
  if (!pool) return;
  DeviceState& st = state(index, "CUDA Graph");
  std::lock_guard lock(st.mutex);
  if (st.capture_pool == pool) st.capture_pool.reset();
  for (auto& [bytes, blocks] : pool->free_blocks) {
    auto& shared = st.free_blocks[bytes];
    shared.insert(shared.end(), blocks.begin(), blocks.end());
  }
  pool->free_blocks.clear();
  std::erase_if(st.pool_of, [&](const auto& entry) { return entry.second == pool; });
  pool->bytes = 0;
}

int64_t private_pool_bytes(const PrivatePool& pool) { return pool.bytes; }

bool stream_capturing(int index) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  KILN_CUDA_CHECK(cudaStreamIsCapturing(stream(index), &status), "cuda stream capture status");
  return status != cudaStreamCaptureStatusNone;
}

void check_not_capturing(int index, const char* what) {
  KILN_CHECK(!stream_capturing(index), what, " during CUDA Graph capture on cuda:", index,
             " cannot be captured (CUDA would refuse it with cudaErrorStreamCaptureUnsupported and "
             "invalidate the capture); read values and copy inputs before capture() or after replay()");
}

DeviceBuffer::DeviceBuffer(size_t nbytes, int device)
    : ptr_(allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}
DeviceBuffer::~DeviceBuffer() { deallocate(ptr_, nbytes_, device_); }

// ---- the public API (cuda.h) ----
bool is_available() { return discovery().count > 0; }
int device_count() { return discovery().count; }
void synchronize(int index) { sync_stream(index, "cuda::synchronize"); }
void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }
int64_t memory_allocated() { return memory_stats(Device::cuda()).allocated_bytes; }
int64_t max_memory_allocated() { return memory_stats(Device::cuda()).peak_allocated_bytes; }
int64_t memory_cached() { return g_cached.load(); }
void empty_cache() {
  for (int i = 0; i < device_count(); ++i) {
    check_not_capturing(i, "cuda::empty_cache (cudaFree)");
    release_cached(i);
  }
}

}  // namespace kiln::cuda
