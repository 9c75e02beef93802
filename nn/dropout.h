// kiln/nn/dropout.h: Dropout, Dropout2d and Embedding. Dropout is active only in training mode; its masks
// come from kiln's default generator (kiln::manual_seed). Depends on nn/module.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kiln/nn/module.h"

namespace kiln::nn {

// Zeroes each element with probability p and scales the rest by 1 / (1 - p).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
};

// Zeroes whole channels of (N, C, H, W) or (N, C, L) inputs.
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout2d"; }
  std::string extra_repr() const override;
  double p;
};

struct EmbeddingOptions {
  std::optional<int64_t>
      padding_idx;  // negative counts from the end; that row starts at zero, gets no gradient
};

// indices (any shape, i64) -> indices.shape + (embedding_dim); weight (num_embeddings, embedding_dim) ~ N(0,
// 1).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  int64_t padding_idx = -1;  // normalized to [0, num_embeddings), or -1 for none
  Tensor weight;
};

}  // namespace kiln::nn
