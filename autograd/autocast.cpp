// Autocast state (thread-local, one per device type), the scope guard, and the casts the op hooks call.
#include "kiln/autograd/autocast.h"

#include <array>
#include <vector>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"

namespace kiln::autocast {
namespace {

struct State {
  bool enabled = false;
  DType dtype = DType::f16;
};

// A parameter's conversion, valid while the parameter keeps its storage and that storage's version (an
// in-place update inside the scope, such as an optimizer step, or set_data, makes it stale rather than
// silently wrong).
struct CacheEntry {
  std::shared_ptr<TensorImpl> source;  // keeps the key's address from being reused while cached
  DType dtype;
  bool grad_mode;
  const void* storage;
  uint64_t version;
  Tensor cast;
};

thread_local std::array<State, kNumDeviceTypes> t_state = {State{false, DType::f16},
                                                           State{false, DType::bf16}};
thread_local int t_depth = 0;  // live Guards in this thread; the cache lives until the outermost ends
thread_local std::vector<CacheEntry> t_cache;

State& state(DeviceType type) { return t_state[static_cast<size_t>(type)]; }

bool eligible_for_lower(const Tensor& x) {
  return x.defined() && (x.dtype() == DType::f32 || is_reduced_float(x.dtype()));
}

}  // namespace

DType default_dtype(DeviceType type) { return type == DeviceType::cuda ? DType::f16 : DType::bf16; }

Guard::Guard(Device device, std::optional<DType> dtype, bool enabled)
    : type_(device.type), prev_enabled_(state(device.type).enabled), prev_dtype_(state(device.type).dtype) {
  const DType low = dtype.value_or(default_dtype(device.type));
  KILN_CHECK(is_reduced_float(low), "autocast::Guard: the low dtype must be f16 or bf16, got ", low, " (on ",
             device, ")");
  state(type_) = State{enabled, low};
  ++t_depth;
}

Guard::~Guard() {
  state(type_) = State{prev_enabled_, prev_dtype_};
  if (--t_depth == 0) t_cache.clear();
}

bool is_enabled(DeviceType type) { return state(type).enabled; }
DType dtype(DeviceType type) { return state(type).dtype; }
size_t cache_size() { return t_cache.size(); }

bool needs_lower(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!eligible_for_lower(*t)) continue;
    const State& s = state(t->device().type);
    if (s.enabled && t->dtype() != s.dtype) return true;
  }
  return false;
}

Tensor lower(const Tensor& x) {
  if (!eligible_for_lower(x)) return x;
  const State& s = state(x.device().type);
  if (!s.enabled || x.dtype() == s.dtype) return x;
  const bool cacheable = x.is_leaf() && x.requires_grad() && t_depth > 0;
  if (!cacheable) return cast(x, s.dtype);
  const bool grad_mode = autograd::GradMode::is_enabled();
  const void* storage = x.storage().get();
  const uint64_t version = x.storage()->version();
  for (auto& e : t_cache) {
    if (e.source.get() != x.impl() || e.dtype != s.dtype || e.grad_mode != grad_mode) continue;
    if (e.storage == storage && e.version == version) return e.cast;
    e.storage = storage, e.version = version;
    e.cast = cast(x, s.dtype);
    return e.cast;
  }
  Tensor c = cast(x, s.dtype);
  t_cache.push_back(CacheEntry{x.impl_ptr(), s.dtype, grad_mode, storage, version, c});
  return c;
}

bool needs_f32(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && is_reduced_float(t->dtype()) && state(t->device().type).enabled) return true;
  return false;
}

Tensor upper(const Tensor& x) {
  if (!x.defined() || !is_reduced_float(x.dtype()) || !state(x.device().type).enabled) return x;
  return cast(x, DType::f32);
}

}  // namespace kiln::autocast
