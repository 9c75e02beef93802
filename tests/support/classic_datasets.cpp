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
  KILN_CHECK(name == "iris" || name == "wine" || name == "breast_cancer" || name == "digits" || regression,
             "load_dataset: unknown data set \"", name,
             "\" (expected iris, wine, breast_cancer, digits or diabetes)");
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
