// The post-accumulate-grad hook registry. Kept beside the tape rather than in TensorImpl so that tensors
// without hooks pay nothing but one relaxed atomic load per leaf per backward.
#include "kiln/autograd/grad_hooks.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/tensor/error.h"

namespace kiln::autograd {
namespace {

struct Entry {
  int64_t id;
  std::weak_ptr<TensorImpl> leaf;  // guards against a new tensor reusing a dead one's address
  PostAccumulateGradHook hook;
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<const TensorImpl*, std::vector<Entry>> by_leaf;
  int64_t next_id = 0;
  std::atomic<int64_t> count{0};
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  KILN_CHECK(leaf.defined() && leaf.is_leaf() && leaf.requires_grad(),
             "register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad");
  KILN_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: the hook is empty");
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto& entries = r.by_leaf[leaf.impl()];
  std::erase_if(entries, [](const Entry& e) { return e.leaf.expired(); });
  const int64_t id = r.next_id++;
  entries.push_back({id, leaf.impl_ptr(), std::move(hook)});
  r.count.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void remove_post_accumulate_grad_hook(int64_t id) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto it = r.by_leaf.begin(); it != r.by_leaf.end(); ++it) {
    auto& entries = it->second;
    const size_t before = entries.size();
    std::erase_if(entries, [id](const Entry& e) { return e.id == id; });
    if (entries.size() != before) {
      r.count.fetch_sub(1, std::memory_order_relaxed);
      if (entries.empty()) r.by_leaf.erase(it);
      return;
    }
  }
}

namespace detail {
void run_post_accumulate_grad_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  Registry& r = registry();
  if (r.count.load(std::memory_order_relaxed) == 0) return;
  std::vector<PostAccumulateGradHook> hooks;
  {
    std::lock_guard lock(r.mutex);
    auto it = r.by_leaf.find(leaf.get());
    if (it == r.by_leaf.end()) return;
    for (const Entry& e : it->second)
      if (e.leaf.lock() == leaf) hooks.push_back(e.hook);
  }
  // Called outside the lock: a hook may register or remove hooks.
  const Tensor handle(leaf);
  for (auto& hook : hooks) hook(handle);
}
}  // namespace detail

}  // namespace kiln::autograd
