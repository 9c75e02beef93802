// Export benchmark: for each model (the demo's MLP and CNN, a depthwise-separable CNN, a residual
// module; trained briefly as in the export tests), the .tflite file sizes (float32 / float16 / int8),
// LiteRT's CPU latency at batch 1 (one thread, median of 200) next to kiln's own eval-mode latency on the
// same input (one thread, median of 200), and the full-integer int8 accuracy drop on the Fashion-MNIST test
// set. LiteRT runs in the test environment's python (bench/export_run.py).
// Usage: kiln_bench_export [models...]   (default: mlp cnn depthwise residual)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <kiln/kiln.h>

#include "support/export_models.h"
#include "support/python_validator.h"

using namespace kiln;
using namespace kiln::nn::io;

namespace {

double kiln_latency_us(nn::Module& model, const Tensor& x, int runs) {
  NoGradGuard no_grad;
  model.eval();
  for (int i = 0; i < 20; ++i) model(x);
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto a = std::chrono::steady_clock::now();
    Tensor y = model(x);
    (void)y.data_ptr();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

struct LiteRT {
  double latency_us = -1, accuracy = -1;
  std::string error;
};

LiteRT litert(const std::string& model, const std::string& x_raw, const Tensor& x,
              const std::string& labels_raw) {
  std::string shape;
  for (int64_t d : x.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  auto r = test::run_python(read_file(KILN_SOURCE_DIR "/bench/export_run.py"),
                            {model, x_raw, shape, labels_raw, "200"});
  LiteRT out;
  if (r.exit_code != 0) out.error = r.output;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::sscanf(line.c_str(), "latency_us=%lf", &out.latency_us);
    std::sscanf(line.c_str(), "accuracy=%lf", &out.accuracy);
  }
  return out;
}

double kib(const std::string& path) { return std::filesystem::file_size(path) / 1024.0; }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) names.push_back(argv[i]);
  if (names.empty()) names = {"mlp", "cnn", "depthwise", "residual"};
  std::string why;
  if (!test::python_has({"numpy", "ai_edge_litert.interpreter"}, &why)) {
    std::cerr << "kiln_bench_export: LiteRT is not available: " << why << "\n";
    return 1;
  }
  const auto& d = test::export_data();
  const std::string dir = test::temp_folder("bench_export");
  test::write_raw(dir + "/test_x.raw", d.test_x);
  test::write_raw(dir + "/test_y.raw", d.test_y);
  Tensor one = narrow(d.test_x, 0, 0, 1).contiguous();
  std::printf(
      "| model | float32 KiB | float16 KiB | int8 KiB | kiln eval, batch 1 (us) | LiteRT float32 (us) | "
      "LiteRT int8 (us) | kiln accuracy | LiteRT int8 accuracy (drop) "
      "|\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& name : names) {
    set_num_threads(2);  // training
    nn::Module& model = test::trained(name);
    const std::string f32 = dir + "/" + name + ".tflite", f16 = dir + "/" + name + "_f16.tflite",
                      i8 = dir + "/" + name + "_int8.tflite";
    export_tflite(model, one, f32);
    export_tflite(model, one, f16, {.quantization = TFLiteQuantization::float16});
    export_tflite(
        model, one, i8,
        {.quantization = TFLiteQuantization::int8, .calibration_data = narrow(d.train_x, 0, 0, 1000)});
    const double acc = test::accuracy(test::kiln_outputs(model, d.test_x), d.test_y);
    set_num_threads(1);
    const double kiln_us = kiln_latency_us(model, one, 200);
    LiteRT lf = litert(f32, dir + "/test_x.raw", d.test_x, "-");
    LiteRT li = litert(i8, dir + "/test_x.raw", d.test_x, dir + "/test_y.raw");
    if (!lf.error.empty() || !li.error.empty()) {
      std::cerr << name << ": LiteRT failed:\n" << lf.error << li.error << "\n";
      return 1;
    }
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.4f | %.4f (%+.2f pt) |\n", name.c_str(),
                kib(f32), kib(f16), kib(i8), kiln_us, lf.latency_us, li.latency_us, acc, li.accuracy,
                100.0 * (li.accuracy - acc));
    std::fflush(stdout);
  }
  return 0;
}
