// kiln::cuda's API in a build without KILN_CUDA: no device, nothing allocated, and the calls that need a
// device say how to get one.
#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/graph.h"
#include "kiln/tensor/error.h"

namespace kiln::cuda {

bool is_available() { return false; }
int device_count() { return 0; }
void synchronize(int index) {
  KILN_CHECK(false, "cuda::synchronize: kiln was built without CUDA (configure with -DKILN_CUDA=ON)");
}
namespace {
bool g_allow_tf32 = false;
}
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }
void set_vectorized_elementwise(bool) {}
bool vectorized_elementwise() { return false; }
int64_t memory_allocated() { return 0; }
int64_t max_memory_allocated() { return 0; }
int64_t memory_cached() { return 0; }
void empty_cache() {}
Tensor pin_memory(const Tensor& t) {
  KILN_CHECK(false, "pin_memory: kiln was built without CUDA (configure with -DKILN_CUDA=ON)");
  return t;
}
bool is_pinned(const Tensor&) { return false; }
namespace detail {
bool has_cudnn() { return false; }
void set_conv_fallback_only(bool) {}
bool conv_fallback_only() { return false; }
int64_t sync_count() { return 0; }
}  // namespace detail

bool is_current_stream_capturing(int) { return false; }

namespace {
[[noreturn]] void no_graphs(const char* what) {
  ::kiln::detail::throw_error(
      __FILE__, __LINE__,
      ::kiln::detail::cat_message(what, ": kiln was built without CUDA (configure with -DKILN_CUDA=ON)"));
}
}  // namespace

struct Graph::Impl {};
Graph::Graph() = default;
Graph::~Graph() = default;
void Graph::capture(const std::function<void()>&, int) { no_graphs("Graph::capture"); }
void Graph::capture_begin(int) { no_graphs("Graph::capture_begin"); }
void Graph::capture_end() { no_graphs("Graph::capture_end"); }
void Graph::replay() { no_graphs("Graph::replay"); }
void Graph::reset() {}
bool Graph::is_captured() const { return false; }
int Graph::device() const { return 0; }
int64_t Graph::pool_bytes() const { return 0; }

struct TrainStepGraph::Impl {
  Graph graph;
};
TrainStepGraph::TrainStepGraph(std::vector<Tensor>, std::vector<Tensor>, std::function<Tensor()>,
                               std::function<void()>, TrainStepGraphOptions) {
  no_graphs("TrainStepGraph");
}
TrainStepGraph::~TrainStepGraph() = default;
Tensor TrainStepGraph::run(const std::vector<Tensor>&) { no_graphs("TrainStepGraph::run"); }
bool TrainStepGraph::captured() const { return false; }
int64_t TrainStepGraph::steps() const { return 0; }
Graph& TrainStepGraph::graph() { return impl_->graph; }

}  // namespace kiln::cuda
