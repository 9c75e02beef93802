#include "deploy.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

using namespace kiln;
namespace io = kiln::nn::io;

namespace {

// Raw little-endian values, the layout bench/export_run.py reads.
void write_raw(const std::string& path, const Tensor& t) {
  Tensor c = t.contiguous();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  KILN_CHECK(f != nullptr, "deploy: cannot write '", path, "'");
  std::fwrite(c.data_ptr(), dtype_size(c.dtype()), static_cast<size_t>(c.numel()), f);
  std::fclose(f);
}

// The interpreter's accuracy on the test set, or a negative value when it could not run.
double interpreter_accuracy(const std::string& python, const std::string& model, const std::string& x_raw,
                            const Tensor& test_x, const std::string& y_raw) {
  std::string shape;
  for (int64_t d : test_x.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  const std::string cmd = python + " " KILN_SOURCE_DIR "/bench/export_run.py " + model + " " + x_raw + " " +
                          shape + " " + y_raw + " 0 2>/dev/null";
  double accuracy = -1;
  if (std::FILE* p = popen(cmd.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, p)) std::sscanf(line, "accuracy=%lf", &accuracy);
    pclose(p);
  }
  return accuracy;
}

}  // namespace

void export_for_deployment(nn::Module& model, const std::string& stem, const Tensor& calibration,
                           const Tensor& test_x, const Tensor& test_y, double kiln_accuracy) {
  model.to(Device::cpu());
  model.eval();
  const Tensor example = test_x.narrow(0, 0, 1);
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> files = {
      {stem + ".tflite", [&](const std::string& p) { io::export_tflite(model, example, p); }},
      {stem + "_int8.tflite",
       [&](const std::string& p) {
         io::export_tflite(model, example, p,
                           {.quantization = io::TFLiteQuantization::int8, .calibration_data = calibration});
       }},
      {stem + ".onnx", [&](const std::string& p) { io::export_onnx(model, example, p); }},
  };
  const std::string python = KILN_SOURCE_DIR "/.venv/test/bin/python";
  const bool interpreters = std::filesystem::exists(python);
  const std::string x_raw = stem + "_test_x.raw", y_raw = stem + "_test_y.raw";
  if (interpreters) write_raw(x_raw, test_x), write_raw(y_raw, test_y);
  for (const auto& [path, write_file] : files) {
    write_file(path);
    std::printf("  %-28s %8.1f KiB", path.c_str(), std::filesystem::file_size(path) / 1024.0);
    if (interpreters) {
      const double acc = interpreter_accuracy(python, path, x_raw, test_x, y_raw);
      const char* who = path.ends_with(".onnx") ? "ONNX Runtime" : "LiteRT";
      if (acc >= 0)
        std::printf("  test accuracy %.4f in %s (kiln %.4f)", acc, who, kiln_accuracy);
      else
        std::printf("  (%s could not run the file)", who);
    }
    std::printf("\n");
  }
  if (!interpreters)
    std::printf("  (no interpreters: scripts/test-venv.sh installs LiteRT and ONNX Runtime)\n");
  std::filesystem::remove(x_raw);
  std::filesystem::remove(y_raw);
}
