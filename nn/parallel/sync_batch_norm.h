// kiln/nn/parallel/sync_batch_norm.h: SyncBatchNorm, batch normalization whose batch statistics are
// those of the global batch (every rank's examples), as torch.nn.SyncBatchNorm. In training each forward
// all-reduces the per-channel sums twice (mean, then the centred squares, which keeps the variance as
// accurate as one process computing it) and backward all-reduces their gradients, so every rank must run
// forward and backward through it in step. Evaluation uses the running statistics and no communication.
// Without an initialized process group it is plain BatchNorm. Parameters and buffers are named as in
// BatchNorm (state dicts load across). Input (N, C, ...) with any number of trailing dims. Depends on
// nn/normalization.h and functional.h.
#pragma once

#include "kiln/nn/normalization.h"

namespace kiln::distributed {

class SyncBatchNorm : public nn::BatchNormBase {
 public:
  explicit SyncBatchNorm(int64_t num_features, nn::BatchNormOptions options = {})
      : BatchNormBase(num_features, options) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SyncBatchNorm"; }

 protected:
  void check_input(const Tensor& x) const override;
};

}  // namespace kiln::distributed
