// tests/support/classic_datasets.cpp: the CSV reader behind load_dataset (classic_datasets.h). The files
// are simple: a header line, then rows of numbers separated by commas, the last one the target.
#include "support/classic_datasets.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <kiln/tensor/error.h>

namespace kiln::testing {
namespace {

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

double parse_number(const std::string& text, const std::string& path, int line_no) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  KILN_CHECK(ec == std::errc() && ptr == end && std::isfinite(v), "load_dataset: ", path, ":", line_no,
             ": not a finite number: \"", text, "\"");
  return v;
}

}  // namespace

std::string dataset_dir() {
  // KILN_FIXTURES_DIR is tests/fixtures; the data sets sit beside it.
  return std::string(KILN_FIXTURES_DIR) + "/../data";
}

Dataset load_dataset(const std::string& name) {
  const bool regression = name == "diabetes";
  KILN_CHECK(name == "iris" || name == "wine" || name == "breast_cancer" || name == "digits" ||
                 name == "integer_coded" || regression,
             "load_dataset: unknown data set \"", name,
             "\" (expected iris, wine, breast_cancer, digits, integer_coded or diabetes)");
  const std::string path = dataset_dir() + "/" + name + ".csv";
  std::ifstream in(path);
  KILN_CHECK(in.good(), "load_dataset: cannot open ", path);

  Dataset ds;
  ds.name = name;
  std::string line;
  KILN_CHECK(static_cast<bool>(std::getline(in, line)), "load_dataset: ", path, ": empty file");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> header = split_commas(line);
  KILN_CHECK(header.size() >= 2 && header.back() == "target", "load_dataset: ", path,
             ":1: header must end with \"target\"");
  ds.feature_names.assign(header.begin(), header.end() - 1);
  const size_t d = ds.feature_names.size();

  std::vector<double> x;
  std::vector<double> y_real;
  std::vector<int64_t> y_int;
  int line_no = 1;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = split_commas(line);
    KILN_CHECK(fields.size() == d + 1, "load_dataset: ", path, ":", line_no, ": ", fields.size(),
               " fields, expected ", d + 1);
    for (size_t j = 0; j < d; ++j) x.push_back(parse_number(fields[j], path, line_no));
    double t = parse_number(fields[d], path, line_no);
    if (regression) {
      y_real.push_back(t);
    } else {
      KILN_CHECK(t == std::floor(t), "load_dataset: ", path, ":", line_no, ": class label ", t,
                 " is not an integer");
      y_int.push_back(static_cast<int64_t>(t));
    }
    ++n;
  }
  KILN_CHECK(n > 0, "load_dataset: ", path, ": no data rows");
  ds.X = from_vector(x, Shape{n, static_cast<int64_t>(d)});
  ds.y = regression ? from_vector(y_real) : from_vector(y_int);
  return ds;
}

}  // namespace kiln::testing

#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace kiln::testing {

const kiln::test::FixtureCase& sklearn_case(const std::string& file, const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::map<std::string, kiln::test::FixtureCase>> files;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = files.find(file);
  if (it == files.end()) {
    std::map<std::string, kiln::test::FixtureCase> cases;
    for (auto& c : kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/" + file))
      cases.emplace(c.name, c);
    it = files.emplace(file, std::move(cases)).first;
  }
  auto c = it->second.find(name);
  KILN_CHECK(c != it->second.end(), "sklearn_case: no case \"", name, "\" in ", file);
  return c->second;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what) {
  std::vector<double> g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - want[i]);
    if (!(err <= worst)) worst = err, at = i;
  }
  EXPECT_LE(worst, atol + rtol * scale)
      << what << ": worst |got - want| = " << worst << " at flat index " << at << " (got " << g[at]
      << ", want " << want[at] << ", scale " << scale << ")";
}

Tensor select_rows(const Tensor& X, const std::vector<int64_t>& rows) {
  std::vector<double> v = X.to_vector<double>();
  const int64_t d = X.dim() == 2 ? X.shape()[1] : 1;
  std::vector<double> out;
  out.reserve(rows.size() * d);
  for (int64_t r : rows) out.insert(out.end(), v.begin() + r * d, v.begin() + (r + 1) * d);
  const int64_t n = static_cast<int64_t>(rows.size());
  return from_vector(out, X.dim() == 2 ? Shape{n, d} : Shape{n}).to(X.dtype());
}

std::vector<int64_t> every_4th_rows(int64_t n, bool test) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < n; ++i)
    if ((i % 4 == 0) == test) r.push_back(i);
  return r;
}

Tensor standardize(const Tensor& X) {
  std::vector<double> v = X.to_vector<double>();
  const int64_t n = X.shape()[0], d = X.shape()[1];
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += v[i * d + j];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (v[i * d + j] - mean) * (v[i * d + j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i) v[i * d + j] = (v[i * d + j] - mean) / sd;
  }
  return from_vector(v, Shape{n, d});
}

Tensor w3(int64_t n) {
  std::vector<double> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = 1.0 + static_cast<double>(i % 3);
  return from_vector(w);
}

}  // namespace kiln::testing
