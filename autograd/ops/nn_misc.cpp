// Small neural-network ops, all composite: pad (constant, F.pad order), dropout and dropout2d (inverted,
// masks from the default generator), embedding (a row lookup whose padding rows get no gradient).
// Depends on ops/common.h.
#include "kiln/autograd/ops/common.h"

namespace kiln {
using namespace autograd::detail;

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  return trace::traced(
      "pad",
      [&]() -> Tensor {
        const char* op = "pad";
        check_defined(op, x);
        const int64_t pairs = static_cast<int64_t>(pads.size()) / 2;
        KILN_CHECK(pads.size() % 2 == 0 && pairs <= x.dim(), op, ": pads ", shape_str(pads),
                   " must hold one (before, after) pair per padded dim, at most ", x.dim(),
                   " pairs for input ", shape_str(x.shape()));
        for (int64_t p : pads)
          KILN_CHECK(p >= 0, op, ": padding sizes must be non-negative, got pads ", shape_str(pads),
                     " for input ", shape_str(x.shape()));
        Tensor y = x;
        for (int64_t i = 0; i < pairs; ++i) {
          const int64_t dim = x.dim() - 1 - i, before = pads[2 * i], after = pads[2 * i + 1];
          if (before == 0 && after == 0) continue;
          std::vector<Tensor> parts;
          Shape s = y.shape();
          TensorOptions opts{.dtype = x.dtype(), .device = x.device()};
          if (before > 0) s[dim] = before, parts.push_back(full(s, value, opts));
          parts.push_back(y);
          if (after > 0) s[dim] = after, parts.push_back(full(s, value, opts));
          y = cat(parts, dim);
        }
        return y.impl() == x.impl() ? clone(x) : y;
      },
      [&] {
        return trace::OpRecord{{x}, {{"pads", pads}, {"value", value}}};
      });
}

namespace {
Tensor dropout_with_mask_shape(const Tensor& x, double p, bool training, const Shape& mask) {
  if (!training || p == 0.0) return x;
  Tensor keep = bernoulli(mask, 1.0 - p, {.dtype = x.dtype(), .device = x.device()});
  return x * (keep * (1.0 / (1.0 - p)));
}

void check_p(const char* op, const Tensor& x, double p) {
  check_defined(op, x);
  check_floating(op, x);
  KILN_CHECK(p >= 0.0 && p < 1.0, op, ": p must lie in [0, 1), got ", p, " (input ", shape_str(x.shape()),
             ")");
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training) {
  return trace::traced(
      "dropout",
      [&]() -> Tensor {
        check_p("dropout", x, p);
        return dropout_with_mask_shape(x, p, training, x.shape());
      },
      [&] {
        return trace::OpRecord{{x}, {{"p", p}, {"training", int64_t{training}}}};
      });
}

Tensor dropout2d(const Tensor& x, double p, bool training) {
  return trace::traced(
      "dropout2d",
      [&]() -> Tensor {
        check_p("dropout2d", x, p);
        KILN_CHECK(x.dim() == 3 || x.dim() == 4, "dropout2d: input must be (N, C, H, W) or (N, C, L), got ",
                   shape_str(x.shape()));
        Shape mask(x.dim(), 1);
        mask[0] = x.size(0), mask[1] = x.size(1);
        return dropout_with_mask_shape(x, p, training, mask);
      },
      [&] {
        return trace::OpRecord{{x}, {{"p", p}, {"training", int64_t{training}}}};
      });
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  const char* op = "embedding";
  check_defined(op, weight, "weight");
  check_defined(op, indices, "indices");
  check_same_device(op, {&weight, &indices});
  KILN_CHECK(weight.dim() == 2, op, ": weight must be (num_embeddings, D), got ", shape_str(weight.shape()));
  KILN_CHECK(indices.dtype() == DType::i64, op, ": indices must be i64, got ", indices.dtype(), " ",
             shape_str(indices.shape()));
  const int64_t num = weight.size(0);
  KILN_CHECK(padding_idx == -1 || (padding_idx >= 0 && padding_idx < num), op, ": padding_idx ", padding_idx,
             " must lie in [0, ", num, ") or be -1 (none)");
  Tensor flat = reshape(indices, {-1});
  // The CPU message names the shapes; a device check is reported later and keeps the valid range only.
  const std::string shapes = indices.device().is_cpu()
                                 ? ::kiln::detail::cat_message(" (weight ", shape_str(weight.shape()),
                                                               ", indices ", shape_str(indices.shape()), ")")
                                 : std::string();
  check_index_range(flat, 0, num, op, "num_embeddings", std::nullopt,
                    shapes.empty() ? nullptr : shapes.c_str());
  Tensor rows = index_select(weight, 0, flat);
  if (padding_idx >= 0 && rows.requires_grad()) {
    Tensor at_pad =
        unsqueeze(eq(flat, full({}, double(padding_idx), {.dtype = DType::i64, .device = flat.device()})), 1);
    rows = where(at_pad, rows.detach(), rows);
  }
  Shape out = indices.shape();
  out.push_back(weight.size(1));
  return reshape(rows, out);
}

}  // namespace kiln
