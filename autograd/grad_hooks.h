// kiln/autograd/grad_hooks.h: hooks that run when a leaf's gradient is final for the current backward()
// (PyTorch's Tensor.register_post_accumulate_grad_hook). The engine replays nodes in decreasing sequence
// number and a leaf's accumulation node is created before any op that consumes the leaf, so when that
// node runs, every contribution of this pass has been summed into .grad(): the hook sees the final value.
// Data-parallel training uses this to start reducing a gradient while backward is still running.
// Hooks run on the thread that called backward(); they do not run for autograd::grad() (which leaves
// .grad() alone). A hook may read and modify .grad() of its leaf. Depends on tensor.h.
#pragma once

#include <cstdint>
#include <functional>

#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

// Registers `hook` on a leaf that requires grad (a kiln::Error otherwise); returns an id for removal.
// The hook lives until removed or until the leaf is destroyed.
int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);
// Removes a hook by id; an unknown id is ignored (removing twice is harmless).
void remove_post_accumulate_grad_hook(int64_t id);

namespace detail {
// Called by the engine after it accumulated into `leaf`.
void run_post_accumulate_grad_hooks(const std::shared_ptr<TensorImpl>& leaf);
}  // namespace detail

}  // namespace kiln::autograd
