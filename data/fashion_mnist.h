// kiln/data/fashion_mnist.h: loaders for Fashion-MNIST and MNIST from their four IDX files.
// Fashion-MNIST comes from the Debian package dataset-fashion-mnist (scripts/install-deps.sh installs it);
// nothing is downloaded at run time. Depends on idx.h and tensor/.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "kiln/tensor/tensor.h"

namespace kiln::data {

// One split of an image-classification data set, as whole tensors in memory.
struct LabeledImages {
  Tensor images;  // (N, 28, 28) u8, pixel values 0..255
  Tensor labels;  // (N) i64, classes 0..9
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct FashionMNIST {
  static constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
  static constexpr const char* kDirEnvVar = "KILN_FASHION_MNIST_DIR";
  static constexpr std::array<std::string_view, 10> kClassNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

  // The folder load() reads: `dir` if not empty, else $KILN_FASHION_MNIST_DIR if set and not empty, else
  // kDefaultDir. Throws kiln::Error, with the install hint, if that folder lacks any of the four files.
  static std::string find_dir(const std::string& dir = "");

  // (train, test): 60000 and 10000 images. Each file may be gzip-compressed (name.gz, as the Debian
  // package ships them) or not (name). Throws kiln::Error naming the file for a missing or malformed file,
  // image/label counts that differ, or a label outside 0..9.
  static std::pair<LabeledImages, LabeledImages> load(const std::string& dir = "");
};

// The original MNIST digits, same file names and layout as Fashion-MNIST. `dir` is required: no Debian
// package ships MNIST.
struct MNIST {
  static std::pair<LabeledImages, LabeledImages> load(const std::string& dir);
};

}  // namespace kiln::data
