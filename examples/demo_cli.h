// examples/demo_cli.h: the demo's command line, kept out of the training program it serves.
//   fashion_mnist_demo [mlp|cnn|all] [DATA_DIR] [--device cpu|cuda] [--out DIR]
// Environment: KILN_DEVICE (the default device), KILN_NUM_THREADS (CPU threads, read by the library),
// KILN_DEMO_EPOCHS (overrides the epoch counts, for quick runs).
#pragma once

#include <string>

#include <kiln/kiln.h>

struct DemoArgs {
  bool ok = false;       // false: the usage or the reason was printed; exit 2
  std::string which;     // mlp, cnn or all
  std::string data_dir;  // empty: $KILN_FASHION_MNIST_DIR, then the dataset-fashion-mnist package
  kiln::Device device = kiln::Device::cpu();
  std::string out;  // --out, else fashion_mnist_demo_out beside the program
  int epochs = 0;   // KILN_DEMO_EPOCHS; 0: each recipe's own
};

DemoArgs parse_demo_args(int argc, char** argv);
