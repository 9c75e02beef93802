// TFLite export checked by LiteRT (ai-edge-litert) on real Fashion-MNIST test images: float32 within
// 1e-5 of kiln, float16 within 1e-2, int8 accuracy within 1 point of float on the whole test set, for
// the demo's MLP and CNN, a depthwise-separable CNN and a residual/concatenation module.
#include <gtest/gtest.h>

#include <filesystem>

#include <kiln/kiln.h>

#include "support/export_models.h"
#include "support/export_validators.h"

using namespace kiln;
using namespace kiln::nn::io;

namespace {

Tensor first(const Tensor& x, int64_t n) { return narrow(x, 0, 0, n).contiguous(); }

const std::string& dir() {
  static const std::string d = test::temp_folder("export_tflite");
  return d;
}

// The float32 file of a model, written on first use (size comparisons need it whatever tests run).
std::string float_file(const std::string& name) {
  const std::string path = dir() + "/" + name + ".tflite";
  if (!std::filesystem::exists(path))
    export_tflite(test::trained(name), first(test::export_data().test_x, 1), path);
  return path;
}

class TfliteFloat : public ::testing::TestWithParam<std::string> {};

TEST_P(TfliteFloat, MatchesKilnWithin1e5On1000TestImages) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  Tensor x = first(d.test_x, 1000);
  Tensor want = test::kiln_outputs(model, x);
  const std::string path = dir() + "/" + name + ".tflite";
  export_tflite(model, first(d.test_x, 1), path);
  auto r = test::run_litert(path, x, want, Tensor());
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_GE(r.max_abs, 0.0) << r.output;
  EXPECT_LE(r.max_abs, 1e-5) << name;
}

TEST_P(TfliteFloat, Float16WeightsWithin1e2) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  Tensor x = first(d.test_x, 1000);
  const std::string path = dir() + "/" + name + "_f16.tflite";
  export_tflite(model, first(d.test_x, 1), path, {.quantization = TFLiteQuantization::float16});
  auto r = test::run_litert(path, x, test::kiln_outputs(model, x), Tensor());
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_GE(r.max_abs, 0.0) << r.output;
  EXPECT_LE(r.max_abs, 1e-2) << name;
  EXPECT_LT(std::filesystem::file_size(path), 0.6 * std::filesystem::file_size(float_file(name)) + 4096)
      << "float16 weights halve the file";
}

INSTANTIATE_TEST_SUITE_P(Models, TfliteFloat, ::testing::Values("mlp", "cnn", "depthwise", "residual"));

TEST(TfliteLayout, NhwcSignatureInput) {
  nn::Module& model = test::trained("cnn");
  const auto& d = test::export_data();
  Tensor x = first(d.test_x, 200);
  const std::string path = dir() + "/cnn_nhwc.tflite";
  export_tflite(model, first(d.test_x, 1), path, {.layout = Layout::nhwc});
  auto r =
      test::run_litert(path, x.permute({0, 2, 3, 1}).contiguous(), test::kiln_outputs(model, x), Tensor());
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_LE(r.max_abs, 1e-5);
  EXPECT_GE(r.max_abs, 0.0);
}

TEST(TfliteLayout, ImageOutputComesBackInTheAskedLayout) {
  manual_seed(11);
  nn::Sequential model{nn::Conv2d(1, 4, 3, {.stride = 2, .padding = 1}), nn::ReLU(),
                       nn::MaxPool2d(3, {.stride = 2, .padding = 1})};
  model.eval();
  const auto& d = test::export_data();
  Tensor x = first(d.test_x, 50);
  const std::string path = dir() + "/feature_map.tflite";
  export_tflite(model, first(d.test_x, 1), path);
  auto r = test::run_litert(path, x, test::kiln_outputs(model, x), Tensor());
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_LE(r.max_abs, 1e-5);
  EXPECT_GE(r.max_abs, 0.0);
}

// Full-integer int8 on the whole test set: accuracy within 1 point of kiln's float accuracy.
class TfliteInt8 : public ::testing::TestWithParam<std::string> {};

TEST_P(TfliteInt8, FullIntegerAccuracyWithinOnePoint) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  const double float_acc = test::accuracy(test::kiln_outputs(model, d.test_x), d.test_y);
  const std::string path = dir() + "/" + name + "_int8.tflite";
  export_tflite(model, first(d.test_x, 1), path,
                {.quantization = TFLiteQuantization::int8, .calibration_data = first(d.train_x, 1000)});
  auto r = test::run_litert(path, d.test_x, Tensor(), d.test_y);
  ASSERT_TRUE(r.ok) << r.output;
  std::cout << name << ": kiln float accuracy " << float_acc << ", LiteRT int8 " << r.accuracy << "\n";
  EXPECT_GT(r.accuracy, float_acc - 0.01) << name;
  EXPECT_LT(std::filesystem::file_size(path), 0.35 * std::filesystem::file_size(float_file(name)) + 8192);
}

TEST_P(TfliteInt8, DynamicRangeAccuracyWithinOnePoint) {
  const std::string name = GetParam();
  nn::Module& model = test::trained(name);
  const auto& d = test::export_data();
  const double float_acc = test::accuracy(test::kiln_outputs(model, d.test_x), d.test_y);
  const std::string path = dir() + "/" + name + "_dynamic.tflite";
  export_tflite(model, first(d.test_x, 1), path, {.quantization = TFLiteQuantization::dynamic_int8});
  auto r = test::run_litert(path, d.test_x, Tensor(), d.test_y);
  ASSERT_TRUE(r.ok) << r.output;
  std::cout << name << ": kiln float accuracy " << float_acc << ", LiteRT dynamic-range int8 " << r.accuracy
            << "\n";
  EXPECT_GT(r.accuracy, float_acc - 0.01) << name;
}

INSTANTIATE_TEST_SUITE_P(Models, TfliteInt8, ::testing::Values("mlp", "cnn"));

TEST(TfliteInt8Options, IntegerInputOutputAndPercentileCalibration) {
  const auto& d = test::export_data();
  for (const char* name : {"depthwise", "residual"}) {
    nn::Module& model = test::trained(name);
    Tensor x = first(d.test_x, 2000), y = first(d.test_y, 2000);
    const double float_acc = test::accuracy(test::kiln_outputs(model, x), y);
    const std::string path = dir() + "/" + name + "_int8io.tflite";
    export_tflite(model, first(d.test_x, 1), path,
                  {.quantization = TFLiteQuantization::int8,
                   .calibration_data = first(d.train_x, 500),
                   .calibration = Calibration::percentile,
                   .int8_input_output = true});
    auto r = test::run_litert(path, x, Tensor(), y);
    ASSERT_TRUE(r.ok) << name << ": " << r.output;
    std::cout << name << ": kiln float accuracy " << float_acc << ", LiteRT int8 (int8 I/O, percentile) "
              << r.accuracy << "\n";
    EXPECT_GT(r.accuracy, float_acc - 0.02) << name;
  }
}

}  // namespace
