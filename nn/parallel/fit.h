// kiln/nn/parallel/fit.h: nn::train::fit under DistributedDataParallel. fit takes its distributed behaviour
// from FitOptions::distributed (rank, world size, and the hooks that combine metric states across ranks);
// fit_hooks() fills it from the process group, so that losses and metrics are reduced over every rank's
// shard and only rank 0 prints, logs and checkpoints:
//
//   distributed::init_process_group();
//   auto ddp = std::make_shared<distributed::DistributedDataParallel>(model);
//   auto shard = std::make_shared<data::DistributedSampler>(distributed::get_world_size(),
//                                                           distributed::get_rank());
//   data::DataLoader loader(train, {.batch_size = 64, .sampler = shard, .seed = 42});
//   nn::train::fit(*ddp, opt, loader, val, {.epochs = 10, .distributed = distributed::fit_hooks()});
//
// Header-only on purpose: the nn/parallel library does not depend on nn/train (the training loop offers
// the hooks; this only wires them), so neither layer links the other. Depends on nn/train/fit.h and
// distributed.h.
#pragma once

#include "kiln/nn/parallel/distributed.h"
#include "kiln/nn/train/fit.h"

namespace kiln::distributed {

inline nn::train::Distributed fit_hooks() {
  return {.rank = get_rank(),
          .world_size = get_world_size(),
          .all_reduce_sum = [](Tensor& t) { all_reduce(t, ReduceOp::sum); },
          .all_gather = [](const Tensor& t) { return all_gather_concat(t); }};
}

}  // namespace kiln::distributed
