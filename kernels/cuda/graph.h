// kiln/kernels/cuda/graph.h: CUDA Graph capture (torch.cuda.CUDAGraph's shape) and TrainStepGraph, the
// helper for the common pattern "capture one training step with static shapes, replay it per batch".
// Depends on tensor/. Every name exists in every build; without KILN_CUDA they throw a kiln::Error.
//
// Capture records the kernels that kiln queues on the device's stream (cudaStreamCaptureModeThreadLocal)
// instead of running them; replay() launches all of them again with one call, on the same memory. So:
//  - While capturing, the caching allocator serves a private pool owned by the Graph: blocks allocated or
//    freed during capture stay the pool's for as long as the Graph lives, so a replay never writes into
//    memory handed to someone else. Tensors the captured work reads but did not create (static inputs,
//    parameters, optimizer state) must be kept alive, unmoved, by the caller.
//  - Nothing that reads a value on the host can be captured: item(), to(cpu), cuda::synchronize(), a
//    host-to-device copy, empty_cache() each throw a kiln::Error naming the operation (CUDA itself would
//    fail them with cudaErrorStreamCaptureUnsupported and invalidate the capture).
//  - Random draws (dropout, rand, ...) are captured: they read their Philox seed and base counter from a
//    device state of the Graph, which replay() rewrites from the default generator before launching, and
//    replay() then advances the generator by what the captured draws use. Capture itself draws nothing
//    (the generator is left where it was), so replay k draws exactly what eager step k would have drawn.
//    Reseeding (manual_seed) during capture is refused; between replays it takes effect as in eager code.
//  - Index range checks (gather, index_select, embedding, one_hot, scatter_add) run on the device and are
//    captured too: an out-of-range index found by a replay is thrown at the next synchronization.
//  - Gradients: the engine (autograd/engine.cpp) copies the first gradient into an undefined .grad and
//    adds into a defined one. Set the parameters' grads to none before capture; the captured backward then
//    allocates them in the Graph's pool and every replay rewrites them (assigns, never accumulates).
//    Clearing them afterwards (zero_grad with set_to_none) would detach the parameters from the memory the
//    replay writes: TrainStepGraph checks for that.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::cuda {

// Whether work queued on device `index`'s stream is being captured into a graph now.
bool is_current_stream_capturing(int index = 0);

class Graph {
 public:
  Graph();
  ~Graph();  // frees the executable graph, then returns the pool's free blocks to the shared cache
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Runs `body` under capture on device `device`'s stream and instantiates the result. If body throws,
  // the capture is abandoned (the stream is usable again, the Graph stays empty) and the error passes on.
  // Throws kiln::Error if this Graph already holds a capture or the device is already capturing.
  void capture(const std::function<void()>& body, int device = 0);
  // The two halves of capture(), for callers that cannot wrap the captured code in a function. Between
  // them the calling thread must not throw past capture_end without calling reset().
  void capture_begin(int device = 0);
  void capture_end();
  // Launches the captured work on the stream (asynchronous, like any kernel).
  void replay();
  // Drops the captured graph and its pool (a capture in progress is abandoned).
  void reset();

  bool is_captured() const;
  int device() const;
  // Bytes of device memory the Graph's private pool holds (live tensors and free blocks).
  int64_t pool_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TrainStepGraphOptions {
  // Eager steps before the capture: they run lazy initializations (cuBLAS workspaces, optimizer state)
  // outside of it, and are real training steps.
  int warmup_steps = 3;
  // Capture the optimizer step too. Only for an optimizer that says it is capturable (its step count and
  // every scalar it uses live on the device); otherwise it runs eagerly after each replay.
  bool capture_optimizer_step = false;
};

// One training step with static shapes, captured once and replayed for every batch:
//
//   Tensor x = empty({B, 1, 28, 28}, {.device = dev}), y = empty({B}, {.dtype = DType::i64, .device = dev});
//   cuda::TrainStepGraph step({x, y}, model.parameters(),
//       [&] { Tensor loss = cross_entropy(model(x), y); loss.backward(); return loss; },
//       [&] { opt.step(); });
//   for (auto& batch : loader) { Tensor loss = step.run({batch.x, batch.y}); ... }
//
// forward_backward must use only the static inputs, return the loss, and leave the parameters' gradients
// in .grad (loss.backward()); it must not read values on the host (see above). Random draws (Dropout) are
// fine: the replays draw what the eager steps would have.
// optimizer_step reads the .grad of the parameters and must not clear them (no zero_grad: each replay
// rewrites them). The first warmup_steps calls run eagerly, with the grads set to none before each.
class TrainStepGraph {
 public:
  TrainStepGraph(std::vector<Tensor> static_inputs, std::vector<Tensor> parameters,
                 std::function<Tensor()> forward_backward, std::function<void()> optimizer_step,
                 TrainStepGraphOptions options = {});
  ~TrainStepGraph();
  TrainStepGraph(const TrainStepGraph&) = delete;
  TrainStepGraph& operator=(const TrainStepGraph&) = delete;

  // Copies batch[i] (same shape and dtype as static_inputs[i], on the CPU or the device) into
  // static_inputs[i], then runs one step (eager, capture + replay, or replay). Returns the loss: during
  // replays a graph-owned tensor that the next run() overwrites (read it, or clone it, before then).
  Tensor run(const std::vector<Tensor>& batch);

  bool captured() const;
  int64_t steps() const;  // run() calls so far
  Graph& graph();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::cuda
