// kiln/nn/parallel/parallel.h: kiln::distributed in one include (process group and collectives,
// DistributedDataParallel, SyncBatchNorm, differentiable collectives).
#pragma once

#include "kiln/nn/parallel/ddp.h"
#include "kiln/nn/parallel/distributed.h"
#include "kiln/nn/parallel/functional.h"
#include "kiln/nn/parallel/sync_batch_norm.h"
