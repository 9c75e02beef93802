// ONNX export checked by onnx.checker (full check) and ONNX Runtime on real Fashion-MNIST test images:
// outputs within 1e-5 of kiln's at batch 1 and 37 from one file (dynamic batch), for the demo's MLP and
// CNN, a depthwise-separable CNN and a residual/concatenation module.
#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/export_models.h"
#include "support/export_validators.h"

using namespace kiln;
using namespace kiln::nn::io;

namespace {

class OnnxFloat : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxFloat, MatchesKilnAtBatch1And37) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  const std::string path = test::temp_folder("export_onnx_" + name) + "/" + name + ".onnx";
  export_onnx(model, narrow(d.test_x, 0, 0, 2).contiguous(), path);
  for (int64_t batch : {1, 37}) {
    Tensor x = narrow(d.test_x, 0, 100, batch).contiguous();
    auto r = test::run_onnxruntime(path, x, test::kiln_outputs(model, x));
    ASSERT_TRUE(r.ok) << r.output;
    EXPECT_GE(r.max_abs, 0.0) << r.output;
    EXPECT_LE(r.max_abs, 1e-5) << name << " batch " << batch;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxFloat, ::testing::Values("mlp", "cnn", "depthwise", "residual"));

TEST(OnnxOps, GroupedConvPaddedPoolsAndClamp) {
  manual_seed(12);
  nn::Sequential model{nn::Conv2d(1, 4, 3, {.stride = 2, .padding = 1}),
                       nn::ReLU(),
                       nn::Conv2d(4, 8, 3, {.padding = 1, .groups = 2}),
                       nn::AvgPool2d(3, {.stride = 2, .padding = 1}),
                       nn::LeakyReLU(0.1),
                       nn::MaxPool2d(2)};
  const auto& d = test::export_data();
  const std::string path = test::temp_folder("export_onnx_ops") + "/ops.onnx";
  export_onnx(model, narrow(d.test_x, 0, 0, 1).contiguous(), path, {.opset = 18});
  Tensor x = narrow(d.test_x, 0, 0, 37).contiguous();
  auto r = test::run_onnxruntime(path, x, test::kiln_outputs(model, x));
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_LE(r.max_abs, 1e-5);
  EXPECT_GE(r.max_abs, 0.0);
}

// QDQ int8 on the whole test set: accuracy within 1 point of kiln's float accuracy.
class OnnxInt8 : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxInt8, QdqAccuracyWithinOnePoint) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  const double float_acc = test::accuracy(test::kiln_outputs(model, d.test_x), d.test_y);
  const std::string path = test::temp_folder("export_onnx_int8_" + name) + "/" + name + "_int8.onnx";
  export_onnx(model, narrow(d.test_x, 0, 0, 1).contiguous(), path,
              {.int8 = true, .calibration_data = narrow(d.train_x, 0, 0, 1000).contiguous()});
  auto r = test::run_onnxruntime(path, d.test_x, Tensor(), d.test_y);
  ASSERT_TRUE(r.ok) << r.output;
  std::cout << name << ": kiln float accuracy " << float_acc << ", ONNX Runtime QDQ int8 " << r.accuracy
            << "\n";
  EXPECT_GT(r.accuracy, float_acc - 0.01) << name;
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxInt8, ::testing::Values("mlp", "cnn"));

}  // namespace
