#include "support/export_models.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace kiln::test {

const ExportData& export_data() {
  static const ExportData d = [] {
    auto [train, test] = data::FashionMNIST::load();
    return ExportData{data::to_tensor(train.images), train.labels, data::to_tensor(test.images), test.labels};
  }();
  return d;
}

nn::ModulePtr make_mlp() {
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2),
                                          nn::Linear(256, 10));
}

nn::ModulePtr make_cnn() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(1, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10));
}

namespace {
// clamp(x, 0, 6), as MobileNet uses it.
class ReLU6 : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return clamp(x, 0.0, 6.0); }
  std::string type_name() const override { return "ReLU6"; }
};

// stem -> [conv-bn-relu-conv] + skip -> relu -> cat with the skip -> pools -> tanh head -> softmax.
class ResidualNet : public nn::Module {
 public:
  ResidualNet() {
    stem = register_module("stem", std::make_shared<nn::Conv2d>(1, 8, 3, nn::Conv2dOptions{.padding = 1}));
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(8, 8, 3, nn::Conv2dOptions{.padding = 1}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(8));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(8, 8, 3, nn::Conv2dOptions{.padding = 1}));
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2));
    avg = register_module("avg", std::make_shared<nn::AvgPool2d>(2));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(16 * 7 * 7, 64));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(64, 10));
  }
  Tensor forward(const Tensor& x) override {
    Tensor s = relu((*stem)(x));
    Tensor y = relu((*bn1)((*conv1)(s)));
    Tensor r = relu(s + (*conv2)(y));
    Tensor c = cat({r, s * 0.5}, 1);
    Tensor p = (*avg)((*pool)(c));
    Tensor h = tanh((*fc1)(p.flatten(1)));
    return softmax((*fc2)(h), 1);
  }
  std::string type_name() const override { return "ResidualNet"; }
  std::shared_ptr<nn::Conv2d> stem, conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::AvgPool2d> avg;
  std::shared_ptr<nn::Linear> fc1, fc2;
};
}  // namespace

nn::ModulePtr make_depthwise_cnn() {
  return std::make_shared<nn::Sequential>(nn::Conv2d(1, 16, 3, {.padding = 1}), nn::BatchNorm2d(16), ReLU6(),
                                          nn::Conv2d(16, 16, 3, {.stride = 2, .padding = 1, .groups = 16}),
                                          nn::BatchNorm2d(16), nn::ReLU(), nn::Conv2d(16, 32, 1),
                                          nn::BatchNorm2d(32), nn::ReLU(), nn::AdaptiveAvgPool2d(1),
                                          nn::Flatten(), nn::Linear(32, 10));
}

nn::ModulePtr make_residual_net() { return std::make_shared<ResidualNet>(); }

void train_briefly(nn::Module& model, int steps, double lr) {
  const ExportData& d = export_data();
  manual_seed(7);
  model.train();
  optim::Adam opt(model.parameters(), {.lr = lr});
  const int64_t batch = 64, n = d.train_x.size(0);
  for (int s = 0; s < steps; ++s) {
    Tensor idx = randint(0, n, {batch});
    Tensor x = index_select(d.train_x, 0, idx), y = index_select(d.train_y, 0, idx);
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
  }
  model.eval();
}

namespace {
// Trained weights are cached in the temp folder, so each test process (ctest runs one per test case)
// trains a model once per machine rather than once per case. Training is seeded, so a cached model is
// the one this process would train; the file is keyed by the model's name and parameter count.
std::string cache_path(const std::string& name, nn::Module& m) {
  return (std::filesystem::temp_directory_path() /
          ("kiln_export_test_" + name + "_" + std::to_string(m.num_parameters()) + ".raw"))
      .string();
}
bool load_cached(nn::Module& m, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t need = 0;
  for (auto& [k, t] : m.state_dict()) need += t.numel() * dtype_size(t.dtype());
  if (bytes.size() != need) return false;
  NoGradGuard no_grad;
  size_t at = 0;
  for (auto& [k, t] : m.state_dict()) {
    const size_t n = t.numel() * dtype_size(t.dtype());
    Tensor src = empty(t.shape(), {.dtype = t.dtype()});
    std::memcpy(src.data_ptr(), bytes.data() + at, n);
    Tensor dst = t;  // a view of the live tensor
    dst.copy_(src);
    at += n;
  }
  return true;
}
void save_cached(nn::Module& m, const std::string& path) {
  const std::string tmp = path + "." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    for (auto& [k, t] : m.state_dict()) {
      Tensor c = t.contiguous();
      f.write(static_cast<const char*>(c.data_ptr()),
              static_cast<std::streamsize>(c.numel() * dtype_size(c.dtype())));
    }
  }
  std::filesystem::rename(tmp, path);
}
}  // namespace

nn::Module& trained(const std::string& name) {
  static std::map<std::string, nn::ModulePtr> models;
  auto it = models.find(name);
  if (it != models.end()) return *it->second;
  manual_seed(1);
  nn::ModulePtr m;
  int steps = 300;
  if (name == "mlp")
    m = make_mlp();
  else if (name == "cnn")
    m = make_cnn(), steps = 200;
  else if (name == "depthwise")
    m = make_depthwise_cnn();
  else if (name == "residual")
    m = make_residual_net();
  KILN_CHECK(m != nullptr, "no test model named ", name);
  const std::string cache = cache_path(name, *m);
  if (!load_cached(*m, cache)) {
    train_briefly(*m, steps, name == "residual" ? 2e-3 : 1e-3);
    save_cached(*m, cache);
  }
  m->eval();
  return *models.emplace(name, m).first->second;
}

Tensor kiln_outputs(nn::Module& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += 500)
    parts.push_back(model(narrow(x, 0, s, std::min<int64_t>(500, x.size(0) - s))));
  return cat(parts, 0);
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  Tensor pred = argmax(logits, 1);
  return (pred == labels).to(DType::f64).mean().item<double>();
}

void write_raw(const std::string& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary);
  if (t.dtype() == DType::i64) {
    auto v = t.contiguous().to_vector<int64_t>();
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 8));
  } else {
    auto v = t.contiguous().to_vector<float>();
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  }
}

std::string temp_folder(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace kiln::test
