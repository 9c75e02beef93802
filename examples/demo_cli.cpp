#include "demo_cli.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

DemoArgs parse_demo_args(int argc, char** argv) {
  const char* usage = "usage: fashion_mnist_demo [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--out DIR]\n";
  DemoArgs a;
  std::string device = std::getenv("KILN_DEVICE") ? std::getenv("KILN_DEVICE") : "cpu";
  a.out = (std::filesystem::path(argv[0]).parent_path() / "fashion_mnist_demo_out").string();
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (arg == "--out" && i + 1 < argc)
      a.out = argv[++i];
    else if (arg.rfind("--", 0) == 0)
      return std::cerr << usage, a;
    else
      positional.push_back(arg);
  }
  a.which = positional.empty() ? "all" : positional[0];
  if ((a.which != "mlp" && a.which != "cnn" && a.which != "all") || positional.size() > 2 ||
      (device != "cpu" && device != "cuda"))
    return std::cerr << usage, a;
  if (device == "cuda" && !kiln::cuda::is_available())
    return std::cerr << "fashion_mnist_demo: --device cuda, but no CUDA device is available\n", a;
  a.device = device == "cuda" ? kiln::Device::cuda() : kiln::Device::cpu();
  if (positional.size() > 1) a.data_dir = positional[1];
  if (const char* e = std::getenv("KILN_DEMO_EPOCHS")) a.epochs = std::atoi(e);
  a.ok = true;
  return a;
}
