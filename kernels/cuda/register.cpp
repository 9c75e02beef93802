// Fills the CUDA row of the kernel table and registers the caching allocator at static-initialization
// time (kiln::kiln links this library whole). The table is registered only when a device is present, so
// has_backend(DeviceType::cuda) answers "can I run on CUDA"; the allocator always is, so a CUDA tensor
// on a machine without a device fails with an error that says why.
#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/kernels/shared/dtype_support.h"
#include "kiln/tensor/storage.h"

namespace kiln::cuda {

// While a Graph captures, a draw's Philox seed and base counter come from the Graph's device state, which
// each replay rewrites from the host generator (graph.cpp): replays draw new numbers, the ones eager steps
// would have drawn. The draw's offset is taken relative to the generator's offset when capture began.

void random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b) {
  const int dev = device_of(out, "random");
  if (!stream_capturing(dev)) return draw_random(k, out, seed, offset, a, b, nullptr);
  const CaptureRandom r = capture_random(dev);
  KILN_CHECK(r.state != nullptr,
             "a random draw (dropout, rand, randn, ...) during a CUDA Graph capture on cuda:", dev,
             " that kiln::cuda::Graph did not begin: its replays could not draw new numbers");
  KILN_CHECK(seed == r.seed && offset >= r.start_offset,
             "a random draw during CUDA Graph capture on cuda:", dev,
             " after the generator was reseeded (manual_seed) since capture began; seed before capture()");
  draw_random(k, out, seed, offset - r.start_offset, a, b, r.state);
}

bool is_capturing(int index) { return stream_capturing(index); }

namespace {

bool supports_optim(OptimKernel k, DType t) { return optim_supports(static_cast<int>(k), t); }

const Backend kCudaBackend = KILN_BACKEND_TABLE("cuda");

const bool registered = [] {
  register_allocator(DeviceType::cuda, Allocator{.allocate = allocate,
                                                 .deallocate = deallocate,
                                                 .cached_bytes = memory_cached,
                                                 .empty_cache = kiln::cuda::empty_cache});
  if (device_count() > 0) register_backend(DeviceType::cuda, &kCudaBackend);
  return true;
}();

}  // namespace
}  // namespace kiln::cuda
