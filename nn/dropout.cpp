// nn/dropout.cpp: Dropout, Dropout2d and Embedding. Depends on autograd ops and nn/init.
#include "kiln/nn/dropout.h"

#include <sstream>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/init.h"

namespace kiln::nn {

Dropout::Dropout(double p) : p(p) { KILN_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p); }
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }
std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

Dropout2d::Dropout2d(double p) : p(p) {
  KILN_CHECK(p >= 0 && p <= 1, "Dropout2d: p must be in [0, 1], got ", p);
}
Tensor Dropout2d::forward(const Tensor& x) { return dropout2d(x, p, is_training()); }
std::string Dropout2d::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

Embedding::Embedding(int64_t num, int64_t dim, EmbeddingOptions o) : num_embeddings(num), embedding_dim(dim) {
  KILN_CHECK(num > 0 && dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ", num,
             " and ", dim);
  if (o.padding_idx) {
    int64_t idx = *o.padding_idx;
    KILN_CHECK(idx >= -num && idx < num, "Embedding: padding_idx ", idx, " out of range for ", num,
               " embeddings");
    padding_idx = idx < 0 ? idx + num : idx;
  }
  weight = register_parameter("weight", empty({num, dim}));
  init::normal_(weight);
  if (padding_idx >= 0) {
    autograd::NoGradGuard g;
    weight.select(0, padding_idx).zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx); }

std::string Embedding::extra_repr() const {
  std::ostringstream os;
  os << num_embeddings << ", " << embedding_dim;
  if (padding_idx >= 0) os << ", padding_idx=" << padding_idx;
  return os.str();
}

}  // namespace kiln::nn
