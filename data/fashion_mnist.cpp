// data/fashion_mnist.cpp: Fashion-MNIST and MNIST loaders (see fashion_mnist.h).
// Depends on idx.h (read_idx) and tensor/ (empty, element access).
#include "kiln/data/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>

#include "kiln/data/idx.h"

namespace kiln::data {
namespace {

constexpr const char* kTrainImages = "train-images-idx3-ubyte";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";
constexpr const char* kTestImages = "t10k-images-idx3-ubyte";
constexpr const char* kTestLabels = "t10k-labels-idx1-ubyte";
constexpr const char* kFiles[] = {kTrainImages, kTrainLabels, kTestImages, kTestLabels};
constexpr int64_t kSide = 28;
constexpr int kNumClasses = 10;

constexpr const char* kInstallHint =
    "install Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist` (or run "
    "scripts/install-deps.sh), "
    "or set KILN_FASHION_MNIST_DIR to a folder holding train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz";

// The path of `name` in `dir`: name.gz (as the data sets are distributed) if present, else name (for a
// user who unpacked them), else "".
std::string locate(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const std::string& candidate : {name + ".gz", name}) {
    std::error_code ec;
    fs::path p = fs::path(dir) / candidate;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

std::string locate_or_throw(const char* what, const std::string& dir, const char* name, const char* hint) {
  std::string path = locate(dir, name);
  KILN_CHECK(!path.empty(), what, ": ", name, "[.gz] not found in '", dir, "'", hint);
  return path;
}

LabeledImages load_split(const char* what, const std::string& dir, const char* images_name,
                         const char* labels_name) {
  const std::string images_path = locate_or_throw(what, dir, images_name, "");
  const std::string labels_path = locate_or_throw(what, dir, labels_name, "");

  Tensor images = read_idx(images_path);
  KILN_CHECK(
      images.dtype() == DType::u8 && images.dim() == 3 && images.size(1) == kSide && images.size(2) == kSide,
      what, ": '", images_path, "' holds ", shape_str(images.shape()), " of ", images.dtype(),
      "; expected (N, 28, 28) u8 images");
  Tensor raw = read_idx(labels_path);
  KILN_CHECK(raw.dtype() == DType::u8 && raw.dim() == 1, what, ": '", labels_path, "' holds ",
             shape_str(raw.shape()), " of ", raw.dtype(), "; expected (N) u8 labels");
  const int64_t n = images.size(0);
  KILN_CHECK(raw.size(0) == n, what, ": ", n, " images in '", images_path, "' but ", raw.size(0),
             " labels in '", labels_path, "'");

  // Widened by hand rather than with Tensor::to, which lives in autograd/ (data/ sits below it).
  Tensor labels = empty({n}, {.dtype = DType::i64});
  const uint8_t* in = raw.data<uint8_t>();
  int64_t* out = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK(in[i] < kNumClasses, what, ": '", labels_path, "': label ", int{in[i]}, " at index ", i,
               " is outside 0..", kNumClasses - 1);
    out[i] = in[i];
  }
  return {images, labels};
}

std::pair<LabeledImages, LabeledImages> load_train_test(const char* what, const std::string& dir) {
  return {load_split(what, dir, kTrainImages, kTrainLabels), load_split(what, dir, kTestImages, kTestLabels)};
}

}  // namespace

std::string FashionMNIST::find_dir(const std::string& dir) {
  std::string chosen;
  std::string source;
  if (!dir.empty()) {
    chosen = dir;
    source = "the folder passed to FashionMNIST::load";
  } else if (const char* env = std::getenv(kDirEnvVar); env != nullptr && *env != '\0') {
    chosen = env;
    source = "from $KILN_FASHION_MNIST_DIR";
  } else {
    chosen = kDefaultDir;
    source = "the default folder; $KILN_FASHION_MNIST_DIR is not set";
  }
  const std::string hint = " (" + source + "); " + kInstallHint;
  for (const char* name : kFiles) locate_or_throw("FashionMNIST", chosen, name, hint.c_str());
  return chosen;
}

std::pair<LabeledImages, LabeledImages> FashionMNIST::load(const std::string& dir) {
  return load_train_test("FashionMNIST", find_dir(dir));
}

std::pair<LabeledImages, LabeledImages> MNIST::load(const std::string& dir) {
  KILN_CHECK(!dir.empty(),
             "MNIST::load: pass the folder holding train-images-idx3-ubyte[.gz], "
             "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]");
  for (const char* name : kFiles) locate_or_throw("MNIST", dir, name, "");
  return load_train_test("MNIST", dir);
}

}  // namespace kiln::data
