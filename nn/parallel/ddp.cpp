// DistributedDataParallel: the construction-time agreement check and broadcast, and the reducer that
// fills buckets from per-parameter gradient hooks and all-reduces them while backward runs.
#include "kiln/nn/parallel/ddp.h"

#include <sstream>
#include <unordered_set>

#include "kiln/autograd/grad_hooks.h"
#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {
namespace {

constexpr int kMaxDims = 8;

std::string shape_of(const int64_t* row) {
  std::ostringstream os;
  const int64_t ndim = row[1];
  os << dtype_name(static_cast<DType>(row[0])) << " [";
  for (int64_t d = 0; d < std::min<int64_t>(ndim, kMaxDims); ++d) os << (d ? ", " : "") << row[2 + d];
  if (ndim > kMaxDims) os << ", ...";
  os << "]";
  return os.str();
}

// Every rank gathers every rank's list and compares it with rank 0's, so all of them throw the same
// message (no rank is left waiting in a later collective).
void check_same_tensors(const std::vector<std::pair<std::string, Tensor>>& named, const char* what) {
  const int world = get_world_size();
  Tensor count = full({1}, static_cast<double>(named.size()), {.dtype = DType::i64});
  Tensor counts = empty({world}, {.dtype = DType::i64});
  all_gather_into_tensor(counts, count);
  const int64_t* c = counts.data<int64_t>();
  for (int r = 1; r < world; ++r) {
    KILN_CHECK(c[r] == c[0], "DistributedDataParallel: the ranks' models differ: rank 0 has ", c[0], " ",
               what, ", rank ", r, " has ", c[r], " (every rank must build the same model)");
  }
  constexpr int fields = 2 + kMaxDims + 1;  // dtype, ndim, dims, numel
  Tensor mine = zeros({static_cast<int64_t>(named.size()) * fields}, {.dtype = DType::i64});
  int64_t* m = mine.data<int64_t>();
  for (size_t i = 0; i < named.size(); ++i) {
    const Tensor& t = named[i].second;
    int64_t* row = m + i * fields;
    row[0] = static_cast<int64_t>(t.dtype());
    row[1] = t.dim();
    for (int64_t d = 0; d < std::min<int64_t>(t.dim(), kMaxDims); ++d) row[2 + d] = t.size(d);
    row[fields - 1] = t.numel();
  }
  Tensor all = empty({world * mine.numel()}, {.dtype = DType::i64});
  all_gather_into_tensor(all, mine);
  const int64_t* a = all.data<int64_t>();
  const int64_t per_rank = mine.numel();
  for (int r = 1; r < world; ++r) {
    for (size_t i = 0; i < named.size(); ++i) {
      const int64_t* r0 = a + i * fields;
      const int64_t* rr = a + r * per_rank + i * fields;
      if (std::equal(r0, r0 + fields, rr)) continue;
      KILN_CHECK(false, "DistributedDataParallel: the ranks' models differ: ", what, " ", i, " ('",
                 named[i].first, "' on this rank) is ", shape_of(r0), " on rank 0 but ", shape_of(rr),
                 " on rank ", r, " (every rank must build the same model)");
    }
  }
}

}  // namespace

struct DistributedDataParallel::Reducer {
  struct Bucket {
    std::vector<size_t> params;  // indices into Reducer::params
    std::vector<int64_t> offsets;
    Tensor flat;
    int64_t pending = 0;
    Work work;
  };
  enum class Phase { idle, armed, done };

  std::vector<Tensor> params;
  std::vector<std::string> names;
  std::vector<size_t> bucket_of;
  std::vector<int64_t> offset_of;  // where each parameter's gradient sits in its bucket
  std::vector<Bucket> buckets;
  std::vector<int64_t> hook_ids;
  std::vector<char> ready, used;
  int64_t ready_count = 0;
  size_t next_launch = 0;
  Phase phase = Phase::idle;
  DDPOptions options;

  Reducer(std::vector<std::pair<std::string, Tensor>> named, const DDPOptions& opts) : options(opts) {
    for (auto& [name, p] : named) {
      if (!p.requires_grad()) continue;  // frozen parameters take no part in the reduction
      names.push_back(name);
      params.push_back(p);
    }
    build_buckets();
    ready.assign(params.size(), 0);
    used.assign(params.size(), 1);
    for (size_t i = 0; i < params.size(); ++i)
      hook_ids.push_back(autograd::register_post_accumulate_grad_hook(
          params[i], [this, i](const Tensor&) { on_gradient(i); }));
  }

  ~Reducer() {
    for (int64_t id : hook_ids) autograd::remove_post_accumulate_grad_hook(id);
  }

  // Reverse registration order, one open bucket per (dtype, device), closed once it reaches its cap.
  void build_buckets() {
    bucket_of.assign(params.size(), 0);
    offset_of.assign(params.size(), 0);
    struct Open {
      DType dtype;
      Device device;
      size_t bucket;
      int64_t bytes;
      bool first;
    };
    std::vector<Open> open;
    for (size_t k = params.size(); k-- > 0;) {
      const Tensor& p = params[k];
      Open* o = nullptr;
      for (auto& candidate : open)
        if (candidate.dtype == p.dtype() && candidate.device == p.device()) o = &candidate;
      if (o == nullptr) {
        open.push_back({p.dtype(), p.device(), buckets.size(), 0, true});
        buckets.emplace_back();
        o = &open.back();
      } else {
        const double cap = (o->first ? options.first_bucket_cap_mb : options.bucket_cap_mb) * 1024 * 1024;
        if (o->bytes >= cap) {
          o->bucket = buckets.size();
          o->bytes = 0;
          o->first = false;
          buckets.emplace_back();
        }
      }
      Bucket& b = buckets[o->bucket];
      b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params[b.params.back()].numel());
      b.params.push_back(k);
      bucket_of[k] = o->bucket;
      offset_of[k] = b.offsets.back();
      o->bytes += p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    }
    for (Bucket& b : buckets) {
      const Tensor& p0 = params[b.params.front()];
      const int64_t total = b.offsets.back() + params[b.params.back()].numel();
      b.flat = zeros({total}, {.dtype = p0.dtype(), .device = p0.device()});
    }
  }

  Tensor slot(size_t i) {
    return buckets[bucket_of[i]].flat.slice(0, offset_of[i], offset_of[i] + params[i].numel());
  }

  std::string unready_names() const {
    std::ostringstream os;
    int shown = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      if (ready[i]) continue;
      if (shown++ < 10) os << (shown > 1 ? ", " : "") << "'" << names[i] << "'";
    }
    if (shown > 10) os << " and " << shown - 10 << " more";
    return os.str();
  }

  // At each forward: refuse to start while the previous reduction is half done, then arm (or not).
  void prepare(bool sync, const Tensor& output) {
    KILN_CHECK(!(phase == Phase::armed && ready_count > 0),
               "DistributedDataParallel: the previous backward "
               "produced no gradient for ",
               unready_names(),
               ", so their reduction never finished. If the "
               "model does not use every parameter in every forward, pass find_unused_parameters = true; "
               "make sure every rank calls backward on an output that depends on the same parameters");
    phase = sync ? Phase::armed : Phase::idle;
    if (!sync) return;
    std::fill(ready.begin(), ready.end(), 0);
    std::fill(used.begin(), used.end(), 1);
    ready_count = 0;
    next_launch = 0;
    for (Bucket& b : buckets) b.pending = static_cast<int64_t>(b.params.size());
    if (options.find_unused_parameters) mark_unused(output);
  }

  // Parameters whose accumulation node the output's graph does not reach get no gradient this step.
  void mark_unused(const Tensor& output) {
    std::unordered_set<const TensorImpl*> reached;
    std::vector<std::shared_ptr<autograd::Node>> stack;
    std::unordered_set<const autograd::Node*> seen;
    if (auto root = autograd::gradient_edge(output)) stack.push_back(root);
    while (!stack.empty()) {
      auto node = std::move(stack.back());
      stack.pop_back();
      if (!seen.insert(node.get()).second) continue;
      if (auto leaf = node->leaf()) reached.insert(leaf.get());
      for (const auto& next : node->inputs())
        if (next) stack.push_back(next);
    }
    for (size_t i = 0; i < params.size(); ++i)
      if (!reached.count(params[i].impl())) {
        used[i] = 0;
        mark_ready(i);
      }
  }

  void on_gradient(size_t i) {
    if (phase == Phase::idle) return;  // no_sync(), or a forward without grad mode: accumulate locally
    KILN_CHECK(phase == Phase::armed,
               "DistributedDataParallel: backward ran twice over one forward (parameter '", names[i],
               "' got a second gradient); DDP reduces once per forward. Accumulate over several "
               "forwards inside no_sync() instead");
    KILN_CHECK(!ready[i], "DistributedDataParallel: parameter '", names[i],
               "' received its gradient twice in one "
               "backward (find_unused_parameters marked it unused, yet the output depends on it)");
    mark_ready(i);
  }

  void mark_ready(size_t i) {
    {
      NoGradGuard no_grad;
      Tensor s = slot(i);
      Tensor g = params[i].grad();
      if (used[i] && g.defined())
        s.copy_(g.reshape({-1}));
      else
        s.zero_();
    }
    ready[i] = 1;
    ++ready_count;
    --buckets[bucket_of[i]].pending;
    launch_ready();
  }

  // Buckets start strictly in index order, the same on every rank, which keeps the collectives matched.
  void launch_ready() {
    const bool all_ready = ready_count == static_cast<int64_t>(params.size());
    if (!options.overlap && !all_ready) return;
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      b.work = all_reduce(b.flat, ReduceOp::mean, /*async_op=*/true);
    }
    if (next_launch == buckets.size()) finish();
  }

  // Called from the hook of the last gradient, still inside backward: waits for every bucket and writes
  // the averages into .grad().
  void finish() {
    for (Bucket& b : buckets) b.work.wait();
    std::vector<char> global_used(params.size(), 1);
    if (options.find_unused_parameters) {
      Tensor flags = empty({static_cast<int64_t>(params.size())}, {.dtype = DType::u8});
      std::copy(used.begin(), used.end(), flags.data<uint8_t>());
      all_reduce(flags, ReduceOp::max);
      std::copy(flags.data<uint8_t>(), flags.data<uint8_t>() + params.size(), global_used.begin());
    }
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      if (!global_used[i]) continue;
      Tensor mean = slot(i).view(params[i].shape());
      Tensor g = params[i].grad();
      if (g.defined())
        g.copy_(mean);
      else
        params[i].set_grad(mean.clone());
    }
    phase = Phase::done;
  }
};

DistributedDataParallel::DistributedDataParallel(nn::ModulePtr module, DDPOptions options)
    : module_(std::move(module)), options_(options) {
  KILN_CHECK(module_ != nullptr, "DistributedDataParallel: the module is null");
  KILN_CHECK(options_.bucket_cap_mb > 0 && options_.first_bucket_cap_mb > 0,
             "DistributedDataParallel: bucket_cap_mb (", options_.bucket_cap_mb,
             ") and first_bucket_cap_mb (", options_.first_bucket_cap_mb, ") must be positive");
  KILN_CHECK(is_initialized(),
             "DistributedDataParallel: the process group is not initialized (call "
             "distributed::init_process_group() first, in a program launched with mpirun)");
  add_child("module", module_);
  // Named as this wrapper's own named_parameters() and named_buffers() name them ("module.<name>").
  auto named_params = named_parameters();
  auto named_buffers = this->named_buffers();
  check_same_tensors(named_params, "parameters");
  check_same_tensors(named_buffers, "buffers");
  {
    NoGradGuard no_grad;
    std::vector<Work> works;
    for (auto& [name, p] : named_params) works.push_back(broadcast(p.detach(), 0, true));
    for (auto& [name, b] : named_buffers) works.push_back(broadcast(b, 0, true));
    for (Work& w : works) w.wait();
  }
  reducer_ = std::make_unique<Reducer>(std::move(named_params), options_);
  train(module_->is_training());
}

DistributedDataParallel::~DistributedDataParallel() = default;

std::string DistributedDataParallel::extra_repr() const {
  std::ostringstream os;
  os << "world_size=" << get_world_size() << ", buckets=" << reducer_->buckets.size()
     << ", bucket_cap_mb=" << options_.bucket_cap_mb;
  if (options_.find_unused_parameters) os << ", find_unused_parameters=true";
  return os.str();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  if (options_.broadcast_buffers && is_training() && get_world_size() > 1) {
    NoGradGuard no_grad;
    std::vector<Work> works;
    for (Tensor& b : module_->buffers()) works.push_back(broadcast(b, 0, true));
    for (Work& w : works) w.wait();
  }
  Tensor output = (*module_)(input);
  const bool sync = sync_enabled_ && autograd::GradMode::is_enabled() && output.requires_grad();
  reducer_->prepare(sync, output);
  return output;
}

std::vector<std::vector<size_t>> DistributedDataParallel::bucket_assignment() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : reducer_->buckets) out.push_back(b.params);
  return out;
}

DistributedDataParallel::NoSyncGuard::NoSyncGuard(DistributedDataParallel& ddp)
    : ddp_(ddp), previous_(ddp.sync_enabled_) {
  ddp_.sync_enabled_ = false;
}
DistributedDataParallel::NoSyncGuard::~NoSyncGuard() { ddp_.sync_enabled_ = previous_; }

}  // namespace kiln::distributed
