// kiln/kernels/cpu/cpu_kernels.h: the CPU implementations behind the kernel table (tensor/backend.h).
// Each function here has the contract of the table entry of the same name.
#pragma once

#include "kiln/tensor/backend.h"

namespace kiln::cpu {

void unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha);
bool unary_supports(UnaryKernel k, DType t);
void binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out);
bool binary_supports(BinaryKernel k, DType t);
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
void reduce(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices);
void gemm(const GemmArgs& args);
void copy(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, double value);
void index_select(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
void gather(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
void conv2d(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
            const Tensor& out);
void conv2d_backward_data(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                          const Tensor& grad_x);
void conv2d_backward_filter(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                            const Tensor& grad_weight);
void max_pool2d(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices);
void max_pool2d_backward(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                         const Tensor& grad_x);
void check_index(const Tensor& index, const IndexCheck& check);
void arange(const Tensor& out, double start, double step);
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps,
                        const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd);
void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
void random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b);
// optim_step.cpp
void optim_step(const OptimStepArgs& args, const std::vector<OptimTensor>& tensors);
void unscale_check(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& inv_scale);
bool optim_supports(int code, DType t);
// fused.cpp
void softmax(const Tensor& in, const Tensor& out, bool log);
void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   double label_smoothing, const Tensor& loss, const Tensor& lse);
void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& weight,
                            int64_t ignore_index, double label_smoothing, const Tensor& lse,
                            const Tensor& grad_loss, const Tensor& grad_logits);
void bias_act(Activation act, double alpha, const Tensor& x, const Tensor& bias, const Tensor& out);
void bias_act_backward(Activation act, double alpha, const Tensor& grad_out, const Tensor& x,
                       const Tensor& bias, const Tensor& out, const Tensor& grad_z);

// The table's entries (reduced_float.cpp): f16/bf16 operands computed in f32 and rounded once on store;
// every other dtype goes straight to the kernel above of the same name. (where, copy, fill, gather and
// index_select move Half/BFloat16 elements directly.)
void unary_any(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha);
void binary_any(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out);
void reduce_any(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices);
void gemm_any(const GemmArgs& args);
void scatter_add_any(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
void random_any(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b);
void conv2d_any(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Tensor& out);
void conv2d_backward_data_any(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                              const Tensor& grad_x);
void conv2d_backward_filter_any(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                const Tensor& grad_weight);
void max_pool2d_any(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices);
void max_pool2d_backward_any(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                             const Tensor& grad_x);

}  // namespace kiln::cpu
