// Tracing and graph cleanup (nn/io/trace_graph.h, export_passes.h), and the export errors, in C++ alone:
// the traced graph of each model computes what the model computes, Dropout and BatchNorm are gone,
// activations are fused, unsupported ops are named with their module, and files are written atomically.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include <kiln/kiln.h>

#include "kiln/nn/io/export_eval.h"
#include "kiln/nn/io/export_passes.h"
#include "kiln/nn/io/trace_graph.h"
#include "support/export_models.h"

using namespace kiln;
using namespace kiln::nn::io;

namespace {

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op == op;
  return n;
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

// Untrained but with non-trivial BatchNorm statistics, so folding is exercised.
void randomize_batch_norm(nn::Module& m) {
  NoGradGuard no_grad;
  for (auto& [name, t] : m.named_buffers()) {
    if (name.find("running_mean") != std::string::npos) t.copy_(randn(t.shape()) * 0.1);
    if (name.find("running_var") != std::string::npos) t.copy_(rand(t.shape()) + 0.5);
  }
  for (auto& [name, t] : m.named_parameters())
    if (name.find("bn") != std::string::npos || t.dim() == 1)
      t.copy_(randn(t.shape()) * 0.1 + (name.find("weight") != std::string::npos ? 1.0 : 0.0));
}

}  // namespace

TEST(ExportTrace, CnnCleanupFoldsBatchNormDropsDropoutFusesRelu) {
  manual_seed(3);
  auto model = test::make_cnn();
  randomize_batch_norm(*model);
  Tensor x = rand({2, 1, 28, 28});
  Graph g = trace_module(*model, x);
  EXPECT_EQ(count_ops(g, "batch_norm"), 2);
  EXPECT_TRUE(model->is_training()) << "the trace must restore the module's mode";
  cleanup(g);
  EXPECT_EQ(count_ops(g, "batch_norm"), 0);
  EXPECT_EQ(count_ops(g, "identity"), 0);
  EXPECT_EQ(count_ops(g, "relu"), 0) << "every relu follows a conv or linear and is fused";
  EXPECT_EQ(count_ops(g, "conv2d"), 2);
  EXPECT_EQ(count_ops(g, "linear"), 2);
  for (const Node& n : g.nodes)
    if (n.op == "conv2d") EXPECT_EQ(n.act, "relu") << describe(n);
  model->eval();
  Tensor want = test::kiln_outputs(*model, x);
  EXPECT_LT(max_abs_diff(evaluate(g, x), want), 1e-4);
  Tensor x5 = rand({5, 1, 28, 28});  // another batch size
  EXPECT_LT(max_abs_diff(evaluate(g, x5), test::kiln_outputs(*model, x5)), 1e-4);
}

TEST(ExportTrace, CustomModuleResidualAndConcat) {
  manual_seed(4);
  auto model = test::make_residual_net();
  randomize_batch_norm(*model);
  Tensor x = rand({3, 1, 28, 28});
  Graph g = trace_module(*model, x);
  cleanup(g);
  EXPECT_EQ(count_ops(g, "cat"), 1);
  EXPECT_GE(count_ops(g, "add"), 1);
  EXPECT_EQ(count_ops(g, "softmax"), 1);
  EXPECT_EQ(count_ops(g, "tanh"), 1);
  model->eval();
  EXPECT_LT(max_abs_diff(evaluate(g, x), test::kiln_outputs(*model, x)), 1e-5);
  // Nodes remember their module.
  bool saw_conv2 = false;
  for (const Node& n : g.nodes) saw_conv2 |= n.where == "conv2 (Conv2d)";
  EXPECT_TRUE(saw_conv2);
}

TEST(ExportTrace, DepthwiseAndRelu6) {
  manual_seed(5);
  auto model = test::make_depthwise_cnn();
  randomize_batch_norm(*model);
  Tensor x = rand({2, 1, 28, 28});
  Graph g = trace_module(*model, x);
  cleanup(g);
  EXPECT_EQ(count_ops(g, "clamp") + count_ops(g, "relu6"), 0) << "relu6 is fused into the first conv";
  EXPECT_EQ(g.nodes[0].act, "relu6");
  EXPECT_EQ(count_ops(g, "mean"), 1) << "AdaptiveAvgPool2d(1) is a mean over H, W";
  model->eval();
  EXPECT_LT(max_abs_diff(evaluate(g, x), test::kiln_outputs(*model, x)), 1e-5);
}

TEST(ExportTrace, UnsupportedOpNamesItsModule) {
  nn::Sequential model{nn::Flatten(), nn::Linear(784, 32), nn::ReLU(), nn::GELU(), nn::Linear(32, 10)};
  Tensor x = rand({1, 1, 28, 28});
  const std::string dir = test::temp_folder("export_err");
  for (int format = 0; format < 2; ++format) {
    const std::string path = dir + (format ? "/m.onnx" : "/m.tflite");
    try {
      if (format)
        export_onnx(model, x, path);
      else
        export_tflite(model, x, path);
      FAIL() << "GELU exported";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("3 (GELU)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(path)) << "no file on error";
  }
  EXPECT_TRUE(model.is_training()) << "mode restored after a failed export";
  EXPECT_FALSE(model[3]->has_hooks()) << "the tracer's hooks are removed after a failed export";
}

TEST(ExportTrace, FormatLimitsAreErrorsAtExport) {
  const std::string dir = test::temp_folder("export_limits");
  Tensor x = rand({1, 4, 8, 8});
  nn::Sequential grouped{nn::Conv2d(4, 8, 3, {.groups = 2})};
  try {
    export_tflite(grouped, x, dir + "/g.tflite");
    FAIL() << "grouped conv exported to TFLite";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0 (Conv2d)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("groups = 2"), std::string::npos) << e.what();
  }
  // ONNX expresses groups.
  EXPECT_NO_THROW(export_onnx(grouped, x, dir + "/g.onnx"));
  nn::Sequential small{nn::Linear(4, 4)};
  EXPECT_THROW(
      export_tflite(small, randn({1, 4}), dir + "/t.tflite", {.quantization = TFLiteQuantization::int8}),
      Error)
      << "int8 without calibration data";
  EXPECT_THROW(export_tflite(small, Tensor(), dir + "/u.tflite"), Error);
  EXPECT_THROW(export_tflite(small, randn({1, 4}), dir + "/no/such/folder/x.tflite"), Error);
  EXPECT_THROW(export_tflite(small, randn({1, 5}), dir + "/wrong_shape.tflite"), Error)
      << "the trace's error";
  EXPECT_THROW(export_tflite(small, randn({1, 4}).to(DType::f64), dir + "/f64.tflite"), Error);
  Tensor calib = randn({8, 4});
  calib.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(export_tflite(small, randn({1, 4}), dir + "/nan.tflite",
                             {.quantization = TFLiteQuantization::int8, .calibration_data = calib}),
               Error);
  EXPECT_THROW(export_tflite(small, randn({1, 4}), dir + "/shape.tflite",
                             {.quantization = TFLiteQuantization::int8, .calibration_data = randn({8, 5})}),
               Error);
  EXPECT_THROW(export_onnx(small, randn({1, 4}), dir + "/o.onnx", {.opset = 12}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir + "/nan.tflite"));
}

TEST(ExportTrace, TfliteFileIsAFlatbufferWrittenAtomically) {
  const std::string dir = test::temp_folder("export_file");
  nn::Sequential model{nn::Linear(4, 3), nn::ReLU(), nn::Linear(3, 2)};
  export_tflite(model, randn({1, 4}), dir + "/m.tflite");
  std::ifstream f(dir + "/m.tflite", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(4, 4), "TFL3");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += 1, (void)e;
  EXPECT_EQ(files, 1) << "no temporary file left behind";
}

TEST(ExportTrace, UntracedPassCostsNothingAndOpsStillWork) {
  // With no tracer installed, ops compute as before (the hook only branches).
  Tensor a = randn({3, 4});
  EXPECT_LT(max_abs_diff(relu(a), where(a > 0.0, a, 0.0)), 1e-7);
  EXPECT_EQ(autograd::trace::detail::t_tracer, nullptr);
}
