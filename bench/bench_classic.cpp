// kiln/bench/bench_classic.cpp: one timed fit + predict of a classic/ estimator on one data set, printed as
// a RESULT line that bench/classic_vs_sklearn.sh pairs with scikit-learn's (bench/classic_vs_sklearn.py
// prints the same line for the same model, data and split).
//   kiln_bench_classic --model rf|logreg --data breast_cancer|fashion [--threads 2]
// Data (identical on both sides):
//   breast_cancer  tests/data/breast_cancer.csv; every 4th row (index % 4 == 0) is the test set, the rest
//                  train; features standardized with the training rows' mean and std (outside the timing).
//   fashion        the first 10,000 Fashion-MNIST training images (data::FashionMNIST::load()), pixels / 255,
//                  trained on; the 10,000 test images predicted.
// Models: RandomForestClassifier(n_estimators = 100, n_jobs = threads, random_state = 0);
// LogisticRegression(C = 1, max_iter = 100, n_jobs = threads).
// Output: RESULT kiln <model> <data> <fit seconds> <predict seconds> <test accuracy>
// Depends on kiln::kiln.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/classic/forest.h"
#include "kiln/classic/logistic.h"
#include "kiln/data/fashion_mnist.h"
#include "kiln/tensor/tensor.h"
#include "kiln/tensor/threads.h"

namespace {

using kiln::Tensor;

struct Split {
  Tensor X_train, y_train, X_test, y_test;
};

Tensor matrix(const std::vector<double>& v, int64_t n, int64_t d) {
  return kiln::from_vector(v, kiln::Shape{n, d});
}

Split breast_cancer() {
  const std::string path = std::string(KILN_SOURCE_DIR) + "/tests/data/breast_cancer.csv";
  std::ifstream in(path);
  KILN_CHECK(in, "bench_classic: cannot open ", path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    std::vector<double> r;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) r.push_back(std::stod(cell));
    rows.push_back(r);
  }
  const int64_t d = static_cast<int64_t>(rows[0].size()) - 1;
  std::vector<double> mean(d, 0.0), sd(d, 0.0);
  int64_t n_train = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    if (i % 4 != 0) {
      ++n_train;
      for (int64_t f = 0; f < d; ++f) mean[f] += rows[i][f];
    }
  for (double& m : mean) m /= static_cast<double>(n_train);
  for (size_t i = 0; i < rows.size(); ++i)
    if (i % 4 != 0)
      for (int64_t f = 0; f < d; ++f) sd[f] += (rows[i][f] - mean[f]) * (rows[i][f] - mean[f]);
  for (double& s : sd) s = std::sqrt(s / static_cast<double>(n_train));
  std::vector<double> xtr, xte;
  std::vector<int64_t> ytr, yte;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& x = i % 4 == 0 ? xte : xtr;
    for (int64_t f = 0; f < d; ++f) x.push_back((rows[i][f] - mean[f]) / sd[f]);
    (i % 4 == 0 ? yte : ytr).push_back(static_cast<int64_t>(rows[i][d]));
  }
  const int64_t ntr = static_cast<int64_t>(ytr.size()), nte = static_cast<int64_t>(yte.size());
  return {matrix(xtr, ntr, d), kiln::from_vector(ytr), matrix(xte, nte, d), kiln::from_vector(yte)};
}

Split fashion() {
  auto [train, test] = kiln::data::FashionMNIST::load();
  const int64_t n = 10000;
  auto pixels = [](const Tensor& images, int64_t count) {
    return images.slice(0, 0, count).reshape({count, 784}).to(kiln::DType::f64).div_(255.0);
  };
  return {pixels(train.images, n), train.labels.slice(0, 0, n).contiguous(), pixels(test.images, test.size()),
          test.labels};
}

double accuracy(const Tensor& pred, const Tensor& y) {
  const std::vector<int64_t> p = pred.to_vector<int64_t>(), t = y.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < p.size(); ++i) hit += p[i] == t[i];
  return static_cast<double>(hit) / static_cast<double>(p.size());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class Model>
void run(Model& model, const Split& s, const std::string& model_name, const std::string& data) {
  auto t0 = std::chrono::steady_clock::now();
  model.fit(s.X_train, s.y_train);
  const double fit_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const Tensor pred = model.predict(s.X_test);
  const double predict_s = seconds_since(t0);
  std::printf("RESULT kiln %s %s %.6f %.6f %.6f\n", model_name.c_str(), data.c_str(), fit_s, predict_s,
              accuracy(pred, s.y_test));
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "rf", data = "breast_cancer";
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model")
      model = argv[i + 1];
    else if (a == "--data")
      data = argv[i + 1];
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
  }
  try {
    kiln::set_num_threads(threads);
    const Split s = data == "fashion" ? fashion() : breast_cancer();
    if (model == "rf") {
      kiln::classic::RandomForestClassifier rf({.n_estimators = 100, .n_jobs = threads, .random_state = 0});
      run(rf, s, model, data);
    } else if (model == "logreg") {
      kiln::classic::LogisticRegression lr({.C = 1.0, .max_iter = 100, .n_jobs = threads});
      run(lr, s, model, data);
    } else {
      std::fprintf(stderr, "bench_classic: unknown --model %s (rf or logreg)\n", model.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_classic: %s\n", e.what());
    return 1;
  }
  return 0;
}
