// CUDA reductions (the table's (O, R, I) contract; f16/bf16 accumulate in float), index_select / gather /
// scatter_add, and the Philox random draws. Reductions follow the CPU kernels: the first extreme index wins
// ties and a NaN wins (the first NaN); sums add in a fixed tree order per launch shape, so results repeat run
// to run. Random draws compute exactly the CPU's function of (seed, counter): element e uses Philox block
// offset + e / 2 and words 2 (e % 2), 2 (e % 2) + 1, with the float arithmetic spelled out (no fused
// multiply-add), so uniform, bernoulli and randint are bit-identical to the CPU; normal differs by the last
// bits of log/cos.
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cuda/half.cuh"
#include "kiln/kernels/cuda/strided.cuh"

namespace kiln::cuda {
namespace {

// ---- reductions ----
template <class T>
__device__ bool better(bool want_max, T candidate, T best) {
  if constexpr (std::is_floating_point_v<T>) {
    if (isnan(best)) return false;
    if (isnan(candidate)) return true;
  }
  return want_max ? candidate > best : candidate < best;
}

template <class T>
struct Acc {
  T v;
  int64_t i;
};

// Combines two partial results covering any index sets: the better value, or on a tie the lower index
// (which is what a sequential first-wins scan would have kept).
template <class T>
__device__ Acc<T> pick(ReduceKernel k, Acc<T> a, Acc<T> b) {
  if (k == ReduceKernel::sum) return {static_cast<T>(a.v + b.v), 0};
  const bool want_max = k == ReduceKernel::max || k == ReduceKernel::argmax;
  if (better(want_max, b.v, a.v)) return b;
  if (better(want_max, a.v, b.v)) return a;
  return b.i < a.i ? b : a;
}

// T is the element type, A its accumulation type (float for f16/bf16: sums accumulate in float and round
// once here; max/min are exact either way).
template <class T, class A>
__device__ void store(ReduceKernel k, Acc<A> r, int64_t t, void* out, int64_t* indices) {
  if (k == ReduceKernel::argmax || k == ReduceKernel::argmin) {
    static_cast<int64_t*>(out)[t] = r.i;
    return;
  }
  static_cast<T*>(out)[t] = from_compute<T>(r.v);
  if (indices != nullptr) indices[t] = r.i;
}

// One thread per output (o, i): for short reduced axes, or many outputs (reads coalesce across i).
template <class T>
__global__ void reduce_thread_kernel(ReduceKernel k, const T* x, int64_t O, int64_t R, int64_t I, void* out,
                                     int64_t* indices) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < O * I; t += step) {
    using A = compute_t<T>;
    const T* base = x + (t / I) * R * I + t % I;
    Acc<A> acc{k == ReduceKernel::sum ? A(0) : to_compute(base[0]), 0};
    for (int64_t r = k == ReduceKernel::sum ? 0 : 1; r < R; ++r)
      acc = pick(k, acc, Acc<A>{to_compute(base[r * I]), r});
    store<T>(k, acc, t, out, indices);
  }
}

// One block per output: for long reduced axes and few outputs (a full sum, a row-wise max of wide rows).
template <class T>
__global__ void reduce_block_kernel(ReduceKernel k, const T* x, int64_t R, int64_t I, void* out,
                                    int64_t* indices) {
  using A = compute_t<T>;
  __shared__ A values[kThreads];
  __shared__ int64_t where[kThreads];
  const int64_t t = blockIdx.x;
  const T* base = x + (t / I) * R * I + t % I;
  const int tid = threadIdx.x;
  // Thread tid starts from element tid (for sums too: the loop below begins at tid + kThreads).
  const bool have = tid < R;
  Acc<A> acc{have ? to_compute(base[static_cast<int64_t>(tid) * I]) : A(0), tid};
  for (int64_t r = tid + kThreads; r < R; r += kThreads)
    acc = pick(k, acc, Acc<A>{to_compute(base[r * I]), r});
  values[tid] = acc.v;
  where[tid] = have ? acc.i : INT64_MAX;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (tid < width && where[tid + width] != INT64_MAX) {
      Acc<A> other{values[tid + width], where[tid + width]};
      Acc<A> mine{values[tid], where[tid]};
      Acc<A> r = where[tid] == INT64_MAX ? other : pick(k, mine, other);
      values[tid] = r.v;
      where[tid] = r.i;
    }
    __syncthreads();
  }
  if (tid == 0) store<T>(k, Acc<A>{values[0], where[0]}, t, out, indices);
}

// ---- index kernels ----
// Index values are checked by a queued check kernel (index_check.cu) that reports at the next
// synchronization, so these kernels may meet bad values: they skip them (an output element reads as 0, a
// scatter adds nothing), never touching memory out of bounds.
// Copies whole elements by size, so one kernel serves every dtype of that width.
template <class E>
__global__ void index_select_kernel(const E* src, const int64_t* idx, E* out, int64_t total, int64_t picks,
                                    int64_t inner, int64_t rows) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    const int64_t in = t % inner, j = (t / inner) % picks, o = t / (inner * picks);
    const int64_t r = idx[j];
    out[t] = r >= 0 && r < rows ? src[(o * rows + r) * inner + in] : E(0);
  }
}

// Shape of `index` with the strides of index, src (gather) or dst (scatter_add) and the other operand.
struct IndexGeometry {
  int nd = 0;
  int dim = 0;
  int64_t numel = 0;
  int64_t bound = 0;  // the target's size along dim: valid index values are [0, bound)
  int64_t shape[kMaxDims] = {};
  int64_t index_strides[kMaxDims] = {};
  int64_t target_strides[kMaxDims] = {};  // gather: src; scatter_add: dst (the side indexed along dim)
  int64_t other_strides[kMaxDims] = {};   // scatter_add: src (gather writes out contiguously)
};

IndexGeometry make_geometry(const char* op, int64_t dim, const Tensor& index, const Tensor& target,
                            const Tensor* other) {
  KILN_CHECK(index.dim() <= kMaxDims, op, " on CUDA: at most ", kMaxDims, " dims, got ", index.dim());
  IndexGeometry g;
  g.nd = static_cast<int>(index.dim());
  g.dim = static_cast<int>(dim);
  g.numel = index.numel();
  g.bound = target.size(dim);
  for (int d = 0; d < g.nd; ++d) {
    g.shape[d] = index.size(d);
    g.index_strides[d] = index.strides()[d];
    g.target_strides[d] = target.strides()[d];
    g.other_strides[d] = other ? other->strides()[d] : 0;
  }
  return g;
}

// Offsets of element p (row-major in index's shape) in index, target (with dim taken from the index
// value) and other.
struct Offsets {
  int64_t index = 0, target_rest = 0, other = 0;
};
__device__ Offsets offsets_of(const IndexGeometry& g, int64_t p) {
  Offsets o;
  for (int d = g.nd - 1; d >= 0; --d) {
    const int64_t c = p % g.shape[d];
    p /= g.shape[d];
    o.index += c * g.index_strides[d];
    if (d != g.dim) o.target_rest += c * g.target_strides[d];
    o.other += c * g.other_strides[d];
  }
  return o;
}

template <class E>
__global__ void gather_kernel(IndexGeometry g, const E* src, const int64_t* idx, E* out) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < g.numel; p += step) {
    Offsets o = offsets_of(g, p);
    const int64_t r = idx[o.index];
    out[p] = r >= 0 && r < g.bound ? src[o.target_rest + r * g.target_strides[g.dim]] : E(0);
  }
}

// atomicAdd for every dtype: native for f32/f64/i32, the unsigned 64-bit add (two's complement) for i64,
// and a compare-and-swap on the enclosing 32-bit word for u8 and bool (bool adds saturate to true).
template <class T>
__device__ void atomic_add(T* address, T value) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t>) {
    atomicAdd(address, value);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
  } else {
    auto* word = reinterpret_cast<unsigned int*>(reinterpret_cast<uintptr_t>(address) & ~uintptr_t(3));
    const unsigned shift = (reinterpret_cast<uintptr_t>(address) & 3) * 8;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      const unsigned byte = (assumed >> shift) & 0xFFu;
      unsigned sum = std::is_same_v<T, bool> ? ((byte != 0 || value) ? 1u : 0u)
                                             : ((byte + static_cast<unsigned>(value)) & 0xFFu);
      old = atomicCAS(word, assumed, (assumed & ~(0xFFu << shift)) | (sum << shift));
    } while (old != assumed);
  }
}

template <class T>
__global__ void scatter_add_kernel(IndexGeometry g, T* dst, const int64_t* idx, const T* src) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < g.numel; p += step) {
    Offsets o = offsets_of(g, p);
    const int64_t r = idx[o.index];
    if (r >= 0 && r < g.bound) atomic_add(dst + o.target_rest + r * g.target_strides[g.dim], src[o.other]);
  }
}

template <class F>
void by_element_size(size_t bytes, const char* op, F f) {
  switch (bytes) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
  }
  KILN_ASSERT(false, op, ": element size ", bytes);
}

// ---- random ----
__device__ void philox(uint64_t seed, uint64_t counter, uint32_t (&w)[4]) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(c0) * 0xD2511F53u, p1 = static_cast<uint64_t>(c2) * 0xCD9E8D57u;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1), c3 = static_cast<uint32_t>(p0), c0 = n0, c2 = n2;
    k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
  }
  w[0] = c0, w[1] = c1, w[2] = c2, w[3] = c3;
}

template <class T>
__device__ T draw_one(RandomKernel k, uint32_t w0, uint32_t w1, double a, double b) {
  const uint64_t bits53 = ((static_cast<uint64_t>(w0) << 32) | w1) >> 11;
  switch (k) {
    case RandomKernel::uniform:
      if constexpr (std::is_same_v<T, float>) {
        const float u = __fmul_rn(static_cast<float>(w0 >> 8), 0x1.0p-24f);
        float v = __fadd_rn(static_cast<float>(a), __fmul_rn(static_cast<float>(b - a), u));
        if (v >= static_cast<float>(b) && b > a) v = nextafterf(static_cast<float>(b), static_cast<float>(a));
        return v;
      } else {
        return static_cast<T>(
            __dadd_rn(a, __dmul_rn(__dsub_rn(b, a), __dmul_rn(static_cast<double>(bits53), 0x1.0p-53))));
      }
    case RandomKernel::normal: {
      const double u1 = __dmul_rn(static_cast<double>(w0) + 1.0, 0x1.0p-32);
      const double u2 = __dmul_rn(static_cast<double>(w1), 0x1.0p-32);
      const double z = __dmul_rn(sqrt(__dmul_rn(-2.0, log(u1))), cos(__dmul_rn(2.0 * M_PI, u2)));
      return static_cast<T>(__dadd_rn(a, __dmul_rn(b, z)));
    }
    case RandomKernel::bernoulli:
      return static_cast<T>(__dmul_rn(static_cast<double>(bits53), 0x1.0p-53) < a ? 1.0 : 0.0);
    case RandomKernel::randint: {
      const uint64_t range = static_cast<uint64_t>(b - a);
      return static_cast<T>(a + static_cast<double>(((static_cast<uint64_t>(w0) << 32) | w1) % range));
    }
  }
  return T(0);
}

// `state` (captured draws): seed and base counter read on the device, so each replay draws new numbers.
template <class T>
__global__ void random_kernel(RandomKernel k, T* out, int64_t n, uint64_t seed, uint64_t offset, double a,
                              double b, const uint64_t* state) {
  if (state != nullptr) seed = state[0], offset += state[1];
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    uint32_t w[4];
    philox(seed, offset + static_cast<uint64_t>(e / 2), w);
    const int word = 2 * static_cast<int>(e % 2);
    out[e] = draw_one<T>(k, w[word], w[word + 1], a, b);
  }
}

__global__ void write_philox_state_kernel(uint64_t* state, uint64_t seed, uint64_t offset) {
  state[0] = seed, state[1] = offset;
}

}  // namespace

void write_philox_state(uint64_t* state, uint64_t seed, uint64_t offset, int index) {
  DeviceGuard guard(index);
  write_philox_state_kernel<<<1, 1, 0, stream(index)>>>(state, seed, offset);
  KILN_CUDA_CHECK_LAUNCH("Graph::replay (random state)");
}

void reduce(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices) {
  KILN_ASSERT(in.dim() == 3 && in.is_contiguous(), "reduce kernel expects a contiguous (O, R, I) view");
  const int dev = device_of(in, kernel_name(k));
  const int64_t O = in.size(0), R = in.size(1), I = in.size(2);
  if (O * I == 0) return;
  KILN_CHECK(R > 0 || k == ReduceKernel::sum, kernel_name(k), " on CUDA: the reduced axis is empty");
  int64_t* idx = indices.defined() ? indices.data<int64_t>() : nullptr;
  DeviceGuard guard(dev);
  KILN_DISPATCH_WITH_HALF(in.dtype(), kernel_name(k), [&] {
    using T = scalar_t;
    const T* x = static_cast<const T*>(in.data_ptr());
    if (R >= 1024 && O * I <= 4096)
      reduce_block_kernel<T><<<O * I, kThreads, 0, stream(dev)>>>(k, x, R, I, out.data_ptr(), idx);
    else
      reduce_thread_kernel<T>
          <<<grid_for(O * I), kThreads, 0, stream(dev)>>>(k, x, O, R, I, out.data_ptr(), idx);
    KILN_CUDA_CHECK_LAUNCH(kernel_name(k));
  });
}

void index_select(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out) {
  KILN_ASSERT(src.is_contiguous() && out.is_contiguous() && index.is_contiguous(),
              "index_select: contiguous");
  const int dev = device_of(out, "index_select");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= src.size(d);
  for (int64_t d = dim + 1; d < src.dim(); ++d) inner *= src.size(d);
  const int64_t total = outer * index.numel() * inner;
  if (total == 0) return;
  DeviceGuard guard(dev);
  by_element_size(dtype_size(src.dtype()), "index_select", [&](auto e) {
    using E = decltype(e);
    index_select_kernel<E><<<grid_for(total), kThreads, 0, stream(dev)>>>(
        static_cast<const E*>(src.data_ptr()), index.data<int64_t>(), static_cast<E*>(out.data_ptr()), total,
        index.numel(), inner, src.size(dim));
  });
  KILN_CUDA_CHECK_LAUNCH("index_select");
}

void gather(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out) {
  KILN_ASSERT(out.is_contiguous(), "gather: contiguous output");
  const int dev = device_of(out, "gather");
  IndexGeometry g = make_geometry("gather", dim, index, src, nullptr);
  if (g.numel == 0) return;
  DeviceGuard guard(dev);
  by_element_size(dtype_size(src.dtype()), "gather", [&](auto e) {
    using E = decltype(e);
    gather_kernel<E><<<grid_for(g.numel), kThreads, 0, stream(dev)>>>(
        g, static_cast<const E*>(src.data_ptr()), static_cast<const int64_t*>(index.data_ptr()),
        static_cast<E*>(out.data_ptr()));
  });
  KILN_CUDA_CHECK_LAUNCH("gather");
}

void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  const int dev = device_of(dst, "scatter_add");
  if (is_reduced_float(dst.dtype())) {
    // Accumulate in f32 (one atomic add per element, in any order) and round once, as the CPU does.
    Tensor fd = empty(dst.shape(), {.dtype = DType::f32, .device = dst.device()});
    Tensor fs = empty(src.shape(), {.dtype = DType::f32, .device = src.device()});
    copy_on_device(dst, fd);
    copy_on_device(src, fs);
    scatter_add(fd, dim, index, fs);
    copy_on_device(fd, dst);
    return;
  }
  IndexGeometry g = make_geometry("scatter_add", dim, index, dst, &src);
  if (g.numel == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_ALL(dst.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    scatter_add_kernel<T><<<grid_for(g.numel), kThreads, 0, stream(dev)>>>(
        g, static_cast<T*>(dst.data_ptr()), static_cast<const int64_t*>(index.data_ptr()),
        static_cast<const T*>(src.data_ptr()));
  });
  KILN_CUDA_CHECK_LAUNCH("scatter_add");
}

void draw_random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b,
                 const uint64_t* state) {
  KILN_ASSERT(out.is_contiguous(), "random kernel expects a contiguous output");
  const int dev = device_of(out, "random");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (is_reduced_float(out.dtype())) {
    // The f32 draw rounded: the same stream as f32, and the same values as the CPU's f16/bf16 draws.
    Tensor f = empty(out.shape(), {.dtype = DType::f32, .device = out.device()});
    draw_random(k, f, seed, offset, a, b, state);
    copy_on_device(f, out);
    return;
  }
  DeviceGuard guard(dev);
  KILN_DISPATCH_ALL(out.dtype(), "random", [&] {
    using T = scalar_t;
    if constexpr (std::is_same_v<T, bool>) {
      KILN_ASSERT(false, "random kernel called for bool");
    } else {
      random_kernel<T><<<grid_for(n), kThreads, 0, stream(dev)>>>(k, static_cast<T*>(out.data_ptr()), n, seed,
                                                                  offset, a, b, state);
    }
  });
  KILN_CUDA_CHECK_LAUNCH("random");
}

}  // namespace kiln::cuda
