// kiln/nn/loss.h: loss functions with PyTorch 1.13 names, defaults and semantics, as free functions in
// kiln::nn::functional and as small option-holding classes in kiln::nn (nn::CrossEntropyLoss, ...).
// Every loss is composed of differentiable ops (autograd/ops.h), so first- and second-order gradients
// flow to the input and, where the math allows (mse, l1, smooth_l1, huber, bce, bce_with_logits, kl_div,
// probability targets of cross_entropy, margin_ranking's target), to the target. Depends on autograd.
//
// Shapes: N batch, K classes, d1, d2, ... extra dims (e.g. pixels of a segmentation map).
// Elementwise losses (mse, l1, smooth_l1, huber, bce, bce_with_logits, kl_div) require input and target of
// the same shape and floating dtype (PyTorch broadcasts some of them with a warning; kiln refuses, since a
// (N, 1) vs (N) mismatch is almost always a bug).
// Reduction: none keeps the per-element loss, sum adds it, mean averages it (for weighted nll/cross-entropy
// with class-index targets: divides by the summed weights of the non-ignored targets, so a batch whose
// targets are all ignored gives NaN, as in PyTorch). batchmean (kl_div only) divides the sum by N.
// Bad input (shapes, dtypes, class indices outside [0, K) that are not ignore_index, BCE inputs outside
// [0, 1], weights of the wrong length, batchmean elsewhere) is a kiln::Error naming the loss and shapes.
#pragma once

#include <cstdint>
#include <utility>

#include "kiln/autograd/ops.h"

namespace kiln::nn {

enum class Reduction { none, mean, sum, batchmean /* kl_div only */ };
const char* reduction_name(Reduction r);  // "none", "mean", "sum", "batchmean"

struct BCEOptions {
  Tensor weight{};  // broadcastable to the input's shape; undefined = 1
  Reduction reduction = Reduction::mean;
};
struct BCEWithLogitsOptions {
  Tensor weight{};      // broadcastable to the input's shape; undefined = 1
  Tensor pos_weight{};  // weight of positives, broadcastable to the input (typically (K)); undefined = 1
  Reduction reduction = Reduction::mean;
};
struct CrossEntropyOptions {
  Tensor weight{};              // (K) per-class weights; undefined = 1
  int64_t ignore_index = -100;  // class-index targets equal to it contribute nothing (not to the mean either)
  double label_smoothing = 0.0;  // in [0, 1]: mixes the target with the uniform distribution over K classes
  Reduction reduction = Reduction::mean;
};
struct NLLOptions {
  Tensor weight{};  // (K) per-class weights; undefined = 1
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};
struct SmoothL1Options {
  Reduction reduction = Reduction::mean;
  double beta = 1.0;  // >= 0; 0 is the L1 loss
};
struct HuberOptions {
  Reduction reduction = Reduction::mean;
  double delta = 1.0;  // > 0
};
struct KLDivOptions {
  Reduction reduction = Reduction::mean;  // PyTorch recommends batchmean (the true KL divergence per sample)
  bool log_target = false;
};
struct MarginOptions {  // cosine_embedding_loss, margin_ranking_loss
  double margin = 0.0;
  Reduction reduction = Reduction::mean;
};

namespace functional {

using nn::BCEOptions;
using nn::BCEWithLogitsOptions;
using nn::CrossEntropyOptions;
using nn::HuberOptions;
using nn::KLDivOptions;
using nn::MarginOptions;
using nn::NLLOptions;
using nn::Reduction;
using nn::SmoothL1Options;

// ---- regression (loss_regression.cpp) ----
// (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// |input - target|; the gradient at input == target is 0.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// With z = |input - target|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta (beta 0: the L1 loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0);
// 0.5 z^2 where z < delta, else delta (z - 0.5 delta): smooth_l1 scaled by delta.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                  double delta = 1.0);
// input1, input2 (N) or () scores, target of the same shape holding 1 (input1 should rank higher) or -1:
// max(0, -target (input1 - input2) + margin). An integer target is cast to the inputs' dtype.
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           double margin = 0.0, Reduction reduction = Reduction::mean);
// input1, input2 (N, D) or (D), target (N) or () of 1 / -1 (any numeric dtype): 1 - cos where target is 1,
// max(0, cos - margin) where it is -1, 0 otherwise; cos uses |x|^2 + 1e-12f in its norms, as PyTorch.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             double margin = 0.0, Reduction reduction = Reduction::mean);

// ---- classification (loss_classification.cpp, loss_cross_entropy.cpp) ----
// input: probabilities in [0, 1] (checked); target of the same shape in [0, 1]. Each log is clamped at
// -100, so input 0 or 1 gives a finite loss (and a zero, not NaN, gradient through the clamped log).
// Gradients match PyTorch's inside (0, 1); at exactly 0 or 1 PyTorch uses (x - t) / max(x (1 - x), 1e-12)
// (e.g. -1e12 at x = 0, t = 1) where kiln gives the clamped log's derivative (0 there).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            Reduction reduction = Reduction::mean);
// input: logits; target of the same shape in [0, 1]. (1 - t) x + (1 + (pw - 1) t) softplus(-x), times weight.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& options = {});
// input: log-probabilities (N, K), (N, K, d1, ...) or (K); target: i64 class indices (N), (N, d1, ...) or ().
// -weight[t] * input[t] per element; ignored targets give 0.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLOptions& options = {});
// input: logits (N, K), (N, K, d1, ...) or (K). target: i64 class indices of shape (N), (N, d1, ...) or (),
// or floating class probabilities with input's shape and dtype (ignore_index does not apply to those; their
// mean divides by the number of samples N * d1 * ..., weights or not, as PyTorch).
// Equals nll_loss(log_softmax(input, 1), target) without smoothing.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});

// ---- divergence (loss_divergence.cpp) ----
// input: log-probabilities; target: probabilities (log-probabilities if log_target), same shape.
// target (log target - input) per element, 0 where target is 0. Reduction::batchmean divides the sum by N.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false);

}  // namespace functional

// ---- class forms: hold the options, call the functional form ----
class MSELoss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  Reduction reduction_;
};

class L1Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  Reduction reduction_;
};

class SmoothL1Loss {
 public:
  explicit SmoothL1Loss(SmoothL1Options options = {}) : options_(options) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  SmoothL1Options options_;
};

class HuberLoss {
 public:
  explicit HuberLoss(HuberOptions options = {}) : options_(options) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  HuberOptions options_;
};

class BCELoss {
 public:
  explicit BCELoss(BCEOptions options = {}) : options_(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  BCEOptions options_;
};

class BCEWithLogitsLoss {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsOptions options = {}) : options_(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  BCEWithLogitsOptions options_;
};

class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions options = {}) : options_(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  CrossEntropyOptions options_;
};

class NLLLoss {
 public:
  explicit NLLLoss(NLLOptions options = {}) : options_(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  NLLOptions options_;
};

class KLDivLoss {
 public:
  explicit KLDivLoss(KLDivOptions options = {}) : options_(options) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const;

 private:
  KLDivOptions options_;
};

class CosineEmbeddingLoss {
 public:
  explicit CosineEmbeddingLoss(MarginOptions options = {}) : options_(options) {}
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) const;

 private:
  MarginOptions options_;
};

class MarginRankingLoss {
 public:
  explicit MarginRankingLoss(MarginOptions options = {}) : options_(options) {}
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) const;

 private:
  MarginOptions options_;
};

}  // namespace kiln::nn
