// StepBatch (update.h): hands one group's parameters to the optimizer-step kernels, one kernel-table call
// per (device, dtype), and writes the working copies back.
#include <utility>

#include "kiln/optim/update.h"

namespace kiln::optim::detail {

void require_kernel(const Backend& b, OptimKernel k, DType dtype, const char* op) {
  KILN_CHECK(b.supports(k, dtype), op, ": the ", b.name, " backend has no ", kernel_name(k), " kernel for ",
             dtype, " parameters");
}

OptimTensor& StepBatch::add(const Tensor& param, const Tensor& grad) {
  data_.emplace_back(param);
  OptimTensor& x = tensors_.emplace_back();
  x.param = data_.back().work();
  x.grad = grad;
  return x;
}

void StepBatch::run(const OptimStepArgs& args, const char* op) {
  std::vector<bool> done(tensors_.size(), false);
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    if (done[i]) continue;
    const Device device = tensors_[i].param.device();
    const DType dtype = tensors_[i].param.dtype();
    std::vector<OptimTensor> batch;
    for (std::size_t j = i; j < tensors_.size(); ++j)
      if (!done[j] && tensors_[j].param.device() == device && tensors_[j].param.dtype() == dtype) {
        batch.push_back(tensors_[j]);
        done[j] = true;
      }
    const Backend& b = backend(device);
    require_kernel(b, args.kernel, dtype, op);
    b.optim_step(args, batch);
  }
  for (auto& d : data_) d.commit();
}

}  // namespace kiln::optim::detail
