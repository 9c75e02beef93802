// kiln/nn/io/tflite_writer.cpp: export_tflite (export.h): trace the model, clean the graph up
// (export_passes.h), lower it onto TFLite's operators (tflite_lowering.h) and write the file atomically.
#include "kiln/nn/io/export.h"
#include "kiln/nn/io/export_file.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/tflite_lowering.h"
#include "kiln/nn/io/trace_graph.h"

namespace kiln::nn::io {

void export_tflite(Module& model, const Tensor& example_input, const std::string& path,
                   const TFLiteOptions& options) {
  Graph g = trace_module(model, example_input);
  cleanup(g);
  std::string bytes = tflite_export::Lowering(g, options).run();
  write_file_atomically(path, bytes);
}

}  // namespace kiln::nn::io
