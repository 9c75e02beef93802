// kiln/nn/io/export_eval.h: runs a cleaned-up graph (export_passes.h) with kiln's own ops. The exporters
// use it to calibrate int8 quantization on exactly the values the file computes (after BatchNorm folding
// and activation fusion), and tests use it to check that cleanup kept the model's function.
// Depends on trace_graph.h.
#pragma once

#include <vector>

#include "kiln/nn/io/trace_graph.h"

namespace kiln::nn::io {

// The graph's output for `input` (any batch size); with `values`, every value of the graph (indexed like
// Graph::values; constants included, values the graph no longer computes undefined).
Tensor evaluate(const Graph& g, const Tensor& input, std::vector<Tensor>* values = nullptr);

}  // namespace kiln::nn::io
