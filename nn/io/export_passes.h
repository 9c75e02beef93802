// kiln/nn/io/export_passes.h: graph cleanup before a format writer sees a traced graph. After it the graph
// holds only the ops below, in execution order, every node reachable from the output and depending on the
// input, every attribute normalized (dims non-negative, strides explicit):
//   linear(x, w, b?)  conv2d(x, w, b?; stride, padding, dilation, groups)  max_pool2d / avg_pool2d
//   (kernel, stride, padding; ceil_mode where it changes nothing is dropped)  mean(dims, keepdim)
//   reshape (to the value's shape)  permute(dims)  cat(dim)  pad(pads, value)  add sub mul div maximum
//   minimum  relu relu6 sigmoid tanh leaky_relu(negative_slope) clamp(min?, max?)  softmax / log_softmax(dim)
// Dropout (eval) and other identities are removed, BatchNorm is folded into the convolution or linear
// layer before it (or becomes a per-channel mul + add), constant subgraphs are folded, dead values
// dropped, and relu / relu6 / clamp(-1, 1) after a node that the formats can fuse them into are fused
// (Node::act). Depends on trace_graph.h.
#pragma once

#include "kiln/nn/io/trace_graph.h"

namespace kiln::nn::io {

struct CleanupOptions {
  // Fuse activations into the op before them (TFLite has fused activations; ONNX writes them apart).
  bool fuse_activations = true;
};

void cleanup(Graph& g, const CleanupOptions& options = {});

// Whether a reshape keeps dim 0 (the batch) as dim 0, so it can run at any batch size.
bool keeps_batch(const Graph& g, const Node& reshape);

// Ops that can carry a fused activation.
bool can_fuse_activation(const std::string& op);

}  // namespace kiln::nn::io
