// CUDA Graph capture and replay (graph.h), and TrainStepGraph. Capture runs on the device's one stream in
// cudaStreamCaptureModeThreadLocal, with the caching allocator switched to the Graph's private pool for
// its duration (runtime.cpp), and random draws reading their Philox seed and base counter from a device
// state each replay rewrites (CaptureRandom in cuda_kernels.h). Depends on cuda_kernels.h and tensor/.
#include "kiln/kernels/cuda/graph.h"

#include <mutex>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/tensor/random.h"

namespace kiln::cuda {

bool is_current_stream_capturing(int index) {
  return index >= 0 && index < device_count() && stream_capturing(index);
}

namespace {
std::mutex g_capture_random_mutex;
std::vector<CaptureRandom>& capture_randoms() {
  static auto* v = new std::vector<CaptureRandom>(static_cast<size_t>(device_count()));
  return *v;
}
}  // namespace

void set_capture_random(int index, const CaptureRandom& r) {
  std::lock_guard lock(g_capture_random_mutex);
  capture_randoms().at(static_cast<size_t>(index)) = r;
}
CaptureRandom capture_random(int index) {
  std::lock_guard lock(g_capture_random_mutex);
  return capture_randoms().at(static_cast<size_t>(index));
}

struct Graph::Impl {
  int device = 0;
  bool capturing = false;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::shared_ptr<PrivatePool> pool;
  // Random draws: (seed, base counter) on the device, written before each replay; the generator's offset
  // when capture began, and how many counters the captured draws use (the generator advances by that
  // much per replay, as one eager step would).
  uint64_t* philox_state = nullptr;
  uint64_t start_offset = 0, consumed = 0;

  // Capture ran nothing: the generator goes back to where it was, so the first replay draws what the
  // captured step would have drawn eagerly.
  void end_random_capture() {
    set_capture_random(device, {});
    Generator& g = default_generator();
    consumed = g.offset() >= start_offset ? g.offset() - start_offset : 0;
    g.set_offset(start_offset);
  }

  // Ends a capture that failed or was abandoned: the stream leaves capture mode, the partial graph is
  // dropped. Errors are swallowed (this runs while another error propagates, or from a destructor).
  void abandon_capture() {
    if (!capturing) return;
    capturing = false;
    set_capture_pool(device, nullptr);
    end_random_capture();
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream(device), &partial);
    if (partial != nullptr) cudaGraphDestroy(partial);
    cudaGetLastError();
  }

  void destroy() {
    abandon_capture();
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    if (graph != nullptr) cudaGraphDestroy(graph);
    exec = nullptr, graph = nullptr;
    if (philox_state != nullptr) deallocate(philox_state, 2 * sizeof(uint64_t), device);  // stream-ordered
    philox_state = nullptr, consumed = 0;
    if (pool) {
      // The last replay may still be queued; the blocks go back to the shared cache, whose next users are
      // queued after it on the same stream.
      release_private_pool(device, pool);
      pool.reset();
    }
  }
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() { impl_->destroy(); }

void Graph::capture_begin(int device) {
  KILN_CHECK(!impl_->capturing && impl_->exec == nullptr,
             "Graph::capture_begin: this graph already holds a capture (call reset() first)");
  KILN_CHECK(is_available(), "Graph::capture_begin: no CUDA device");
  KILN_CHECK(device >= 0 && device < device_count(), "Graph::capture_begin: device cuda:", device,
             " requested, but there are ", device_count(), " CUDA devices");
  KILN_CHECK(!stream_capturing(device), "Graph::capture_begin: cuda:", device,
             " is already capturing into another graph (captures cannot nest)");
  // Work queued before the capture runs eagerly; waiting for it here reports its errors now rather than
  // as a failed capture.
  sync_stream(device, "Graph::capture_begin");
  // cublasCreate allocates and synchronizes, which a capture cannot contain: make the handle now.
  cublas_handle(device);
  impl_->device = device;
  // From the shared cache, before the pool takes over: it outlives every replay of this Graph.
  if (impl_->philox_state == nullptr)
    impl_->philox_state = static_cast<uint64_t*>(allocate(2 * sizeof(uint64_t), device));
  impl_->start_offset = default_generator().offset();
  set_capture_random(device, {impl_->philox_state, default_generator().seed(), impl_->start_offset});
  impl_->pool = new_private_pool();
  set_capture_pool(device, impl_->pool);
  DeviceGuard guard(device);
  cudaError_t s = cudaStreamBeginCapture(stream(device), cudaStreamCaptureModeThreadLocal);
  if (s != cudaSuccess) {
    set_capture_pool(device, nullptr);
    set_capture_random(device, {});
    release_private_pool(device, impl_->pool);
    impl_->pool.reset();
    detail::throw_cuda_error(__FILE__, __LINE__, "Graph::capture_begin",
                             "cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal)", s);
  }
  impl_->capturing = true;
}

void Graph::capture_end() {
  KILN_CHECK(impl_->capturing, "Graph::capture_end: no capture in progress (call capture_begin first)");
  const int dev = impl_->device;
  impl_->capturing = false;
  set_capture_pool(dev, nullptr);
  impl_->end_random_capture();
  DeviceGuard guard(dev);
  cudaGraph_t graph = nullptr;
  cudaError_t s = cudaStreamEndCapture(stream(dev), &graph);
  if (s != cudaSuccess || graph == nullptr) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    impl_->destroy();
    detail::throw_cuda_error(__FILE__, __LINE__,
                             "Graph::capture_end (the capture was invalidated by an operation CUDA cannot "
                             "capture, e.g. on another library's code path)",
                             "cudaStreamEndCapture",
                             s == cudaSuccess ? cudaErrorStreamCaptureInvalidated : s);
  }
  impl_->graph = graph;
  s = cudaGraphInstantiate(&impl_->exec, graph, 0);
  if (s != cudaSuccess) {
    impl_->exec = nullptr;
    impl_->destroy();
    detail::throw_cuda_error(__FILE__, __LINE__, "Graph::capture_end", "cudaGraphInstantiate", s);
  }
}

void Graph::capture(const std::function<void()>& body, int device) {
  capture_begin(device);
  try {
    body();
  } catch (...) {
    impl_->destroy();
    throw;
  }
  capture_end();
}

void Graph::replay() {
  KILN_CHECK(impl_->exec != nullptr,
             impl_->capturing ? "Graph::replay: the capture is still in progress (call capture_end first)"
                              : "Graph::replay: nothing captured (call capture() first)");
  const int dev = impl_->device;
  DeviceGuard guard(dev);
  if (impl_->consumed > 0) {
    // This replay draws the counters an eager step would draw now; the generator moves past them.
    Generator& g = default_generator();
    write_philox_state(impl_->philox_state, g.seed(), g.offset(), dev);
    g.set_offset(g.offset() + impl_->consumed);
  }
  KILN_CUDA_CHECK(cudaGraphLaunch(impl_->exec, stream(dev)), "Graph::replay");
  note_index_checks(dev);  // captured index checks run again: the next synchronization reads the word
}

void Graph::reset() { impl_->destroy(); }
bool Graph::is_captured() const { return impl_->exec != nullptr; }
int Graph::device() const { return impl_->device; }
int64_t Graph::pool_bytes() const { return impl_->pool ? private_pool_bytes(*impl_->pool) : 0; }

// ---- TrainStepGraph ----

struct TrainStepGraph::Impl {
  std::vector<Tensor> inputs, params;
  std::function<Tensor()> forward_backward;
  std::function<void()> optimizer_step;
  TrainStepGraphOptions options;
  int device = 0;
  int64_t steps = 0;
  Graph graph;
  Tensor loss;                     // graph-owned after capture
  std::vector<const void*> grads;  // the graph-owned gradient of each parameter (nullptr: none)

  void load(const std::vector<Tensor>& batch) {
    KILN_CHECK(batch.size() == inputs.size(), "TrainStepGraph::run: ", batch.size(), " tensors for ",
               inputs.size(), " static inputs");
    for (size_t i = 0; i < batch.size(); ++i) {
      const Tensor& b = batch[i];
      KILN_CHECK(
          b.defined() && b.shape() == inputs[i].shape() && b.dtype() == inputs[i].dtype(),
          "TrainStepGraph::run: input ", i, " must be ", shape_str(inputs[i].shape()), " ", inputs[i].dtype(),
          " (the static input's shape and dtype; the last, smaller batch of an "
          "epoch needs drop_last), got ",
          b.defined() ? shape_str(b.shape()) : "undefined", " ", b.defined() ? b.dtype() : inputs[i].dtype());
      KILN_CHECK(b.device().is_cpu() || b.device() == inputs[i].device(), "TrainStepGraph::run: input ", i,
                 " is on ", b.device(), ", the static input on ", inputs[i].device());
      if (b.impl_ptr() != inputs[i].impl_ptr()) cuda::copy(b, inputs[i]);  // host or device source
    }
  }

  void clear_grads() {
    for (const Tensor& p : params) p.set_grad(Tensor());
  }

  void check_grads_kept() {
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i].grad();
      KILN_CHECK((g.defined() ? g.data_ptr() : nullptr) == grads[i], "TrainStepGraph::run: parameter ", i,
                 " ", shape_str(params[i].shape()),
                 "'s .grad was cleared or replaced since the capture; each replay rewrites the gradient "
                 "tensors made during capture, so do not call zero_grad() between steps");
    }
  }
};

TrainStepGraph::TrainStepGraph(std::vector<Tensor> static_inputs, std::vector<Tensor> parameters,
                               std::function<Tensor()> forward_backward, std::function<void()> optimizer_step,
                               TrainStepGraphOptions options)
    : impl_(std::make_unique<Impl>()) {
  KILN_CHECK(!static_inputs.empty(), "TrainStepGraph: no static inputs");
  KILN_CHECK(forward_backward, "TrainStepGraph: forward_backward is empty");
  KILN_CHECK(options.warmup_steps >= 0, "TrainStepGraph: warmup_steps must be >= 0, got ",
             options.warmup_steps);
  const Device dev = static_inputs[0].defined() ? static_inputs[0].device() : Device::cpu();
  for (size_t i = 0; i < static_inputs.size(); ++i) {
    const Tensor& t = static_inputs[i];
    KILN_CHECK(t.defined() && t.device().is_cuda() && t.device() == dev, "TrainStepGraph: static input ", i,
               " must be a tensor on the first input's CUDA device (", dev, "), got ",
               t.defined() ? t.device().str() : "an undefined tensor");
    KILN_CHECK(t.is_contiguous(), "TrainStepGraph: static input ", i, " ", shape_str(t.shape()),
               " must be contiguous");
  }
  for (size_t i = 0; i < parameters.size(); ++i)
    KILN_CHECK(parameters[i].defined() && parameters[i].device() == dev, "TrainStepGraph: parameter ", i,
               " must be on ", dev);
  impl_->inputs = std::move(static_inputs);
  impl_->params = std::move(parameters);
  impl_->forward_backward = std::move(forward_backward);
  impl_->optimizer_step = std::move(optimizer_step);
  impl_->options = options;
  impl_->device = dev.index;
}

TrainStepGraph::~TrainStepGraph() = default;

Tensor TrainStepGraph::run(const std::vector<Tensor>& batch) {
  Impl& m = *impl_;
  m.load(batch);
  ++m.steps;
  if (m.steps <= m.options.warmup_steps) {
    m.clear_grads();
    Tensor loss = m.forward_backward();
    if (m.optimizer_step) m.optimizer_step();
    return loss;
  }
  if (!m.graph.is_captured()) {
    m.clear_grads();
    m.graph.capture(
        [&] {
          m.loss = m.forward_backward();
          if (m.optimizer_step && m.options.capture_optimizer_step) m.optimizer_step();
        },
        m.device);
    m.grads.clear();
    for (const Tensor& p : m.params) m.grads.push_back(p.grad().defined() ? p.grad().data_ptr() : nullptr);
  } else {
    m.check_grads_kept();
  }
  m.graph.replay();  // the capture ran nothing: this is the step's work, every time
  if (m.optimizer_step && !m.options.capture_optimizer_step) m.optimizer_step();
  return m.loss;
}

bool TrainStepGraph::captured() const { return impl_->graph.is_captured(); }
int64_t TrainStepGraph::steps() const { return impl_->steps; }
Graph& TrainStepGraph::graph() { return impl_->graph; }

}  // namespace kiln::cuda
