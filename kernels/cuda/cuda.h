// kiln/kernels/cuda/cuda.h: the user-facing CUDA API (torch.cuda's names). Every function exists in every
// build: without KILN_CUDA, or without a usable device, is_available() is false and device_count() is 0
// (a failing cudaGetDeviceCount counts as "no device", never as an error). Depends on tensor/.
#pragma once

#include <cstdint>

#include "kiln/tensor/tensor.h"

namespace kiln::cuda {

// Whether at least one CUDA device can be used (kiln built with KILN_CUDA and a driver + device present).
bool is_available();
int device_count();

// Waits for all work queued on device `index`'s stream (kiln runs one stream per device; reading a value
// through item() / to(cpu) synchronizes by itself, so this is for timing).
void synchronize(int index = 0);

// cuBLAS and cuDNN may use TF32 tensor cores for f32 GEMMs and convolutions (10-bit mantissa products,
// f32 accumulation). Off by default, as in PyTorch's torch.backends.cuda.matmul.allow_tf32 (kiln has one
// switch for both; PyTorch's separate cudnn.allow_tf32 defaults to on).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Whether the elementwise kernels (unary, binary, copy/cast) may use their vectorized path (16-byte loads
// and stores where every operand is dense and aligned). On by default; off forces the strided path, which
// the tests compare it against.
void set_vectorized_elementwise(bool on);
bool vectorized_elementwise();

// The caching allocator's statistics, summed over devices, in bytes: live tensors' storage, its peak since
// start, and freed blocks held for reuse. empty_cache() returns the held blocks to the driver.
int64_t memory_allocated();
int64_t max_memory_allocated();
int64_t memory_cached();
void empty_cache();

// A copy of CPU tensor t in page-locked (pinned) host memory, PyTorch's pin_memory(): host -> device
// copies from it run as DMA without a staging copy and return before the transfer ends (the DataLoader's
// staging buffers). kiln keeps the pinned storage alive until its pending transfers finish; writing into
// it before then races with the transfer, as with PyTorch's non_blocking copies. Needs a CUDA device.
Tensor pin_memory(const Tensor& t);
bool is_pinned(const Tensor& t);

namespace detail {
// For tests and benchmarks: whether kiln was built with cuDNN, and a switch that routes the CUDA
// convolutions through the im2col + cuBLAS fallback even where cuDNN would take them (off by default).
bool has_cudnn();
void set_conv_fallback_only(bool on);
bool conv_fallback_only();
// How many times kiln waited for a device's stream (item(), to(cpu), cuda::synchronize, ...), summed over
// devices since start: tests count the host synchronizations of a training step with it (0 without CUDA).
int64_t sync_count();
}  // namespace detail

}  // namespace kiln::cuda

#include "kiln/kernels/cuda/graph.h"  // kiln::cuda::Graph, TrainStepGraph
