// kiln/nn/parallel/ddp.h: DistributedDataParallel, PyTorch's DDP for kiln modules. Every rank builds the
// same model and wraps it; the wrapper
// - broadcasts rank 0's parameters and buffers when it is built (after checking that every rank has the
//   same parameters: count, shapes and dtypes; a mismatch is a kiln::Error on every rank naming the first
//   difference),
// - averages gradients over the ranks during backward: parameters are grouped into buckets of about
//   bucket_cap_mb in reverse registration order (roughly the order backward produces their gradients);
//   a hook on each parameter fires when its gradient is final, and a bucket whose gradients are all final
//   is all-reduced on the communication thread while backward goes on. When backward returns, every
//   parameter's .grad() holds the mean over ranks, bit-identical on every rank,
// - broadcasts rank 0's buffers before each training-mode forward (broadcast_buffers), so BatchNorm's
//   running statistics stay those of rank 0, as in PyTorch,
// - skips the reduction inside no_sync() scopes (gradient accumulation: the gradients accumulate locally
//   and the first backward outside the scope reduces the accumulated sum),
// - with find_unused_parameters, finds after each forward the parameters the output does not depend on
//   and counts them as ready (their contribution is zero), so backward can finish the reduction;
//   parameters unused on every rank keep their gradient untouched (undefined stays undefined). Without
//   it, a forward after a backward that left some parameter without a gradient is a kiln::Error naming
//   those parameters.
// state_dict() names entries "module.<name>", as PyTorch's DDP does. Depends on nn/module.h and
// distributed.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/nn/parallel/distributed.h"

namespace kiln::distributed {

struct DDPOptions {
  double bucket_cap_mb = 25;
  // The first bucket (the last layers' gradients, ready first) is kept small so that communication
  // starts early in backward, as in PyTorch.
  double first_bucket_cap_mb = 1;
  bool find_unused_parameters = false;
  bool broadcast_buffers = true;
  // Off: every bucket is reduced after backward produced the last gradient (no overlap; for measuring).
  bool overlap = true;
};

class DistributedDataParallel : public nn::Module {
 public:
  // Collective: every rank must construct its wrapper at the same point. Needs init_process_group().
  explicit DistributedDataParallel(nn::ModulePtr module, DDPOptions options = {});
  ~DistributedDataParallel() override;

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "DistributedDataParallel"; }
  std::string extra_repr() const override;

  nn::Module& module() { return *module_; }
  const nn::ModulePtr& module_ptr() const { return module_; }
  const DDPOptions& options() const { return options_; }

  // While the returned guard lives, backward accumulates gradients locally without communication.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp);
    ~NoSyncGuard();
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  // The buckets, in reduction order, as indices into the trainable parameters (those of
  // module().parameters() that require grad, in that order).
  std::vector<std::vector<size_t>> bucket_assignment() const;

  struct Reducer;  // the bucketing state (ddp.cpp)

 private:
  nn::ModulePtr module_;
  DDPOptions options_;
  std::unique_ptr<Reducer> reducer_;
  bool sync_enabled_ = true;
};

}  // namespace kiln::distributed
