// tests/support/fixture.cpp: parses the fixture files described in fixture.h into FixtureCase values.
#include "support/fixture.h"

#include <charconv>
#include <fstream>
#include <set>
#include <string_view>

#include <kiln/tensor/error.h>

namespace kiln::test {
namespace {

// Far above any fixture tensor, but small enough that a corrupt dim cannot make us allocate gigabytes.
constexpr int64_t kMaxNumel = int64_t{1} << 24;
constexpr int64_t kMaxNdim = 16;
// Integers beyond 2^53 would not survive the trip through double.
constexpr int64_t kMaxExactInt = int64_t{1} << 53;

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {}

  std::vector<FixtureCase> parse() {
    std::ifstream in(path_);
    if (!in) throw Error("fixture file " + path_ + ": cannot open for reading");
    std::vector<FixtureCase> cases;
    std::set<std::string> names;
    bool in_case = false;
    int case_line = 0;
    std::set<std::string> labels;
    std::string line;
    while (std::getline(in, line)) {
      ++line_no_;
      std::vector<std::string_view> f = split_fields(line);
      if (f.empty() || f[0].front() == '#') continue;
      if (f[0] == "case") {
        if (in_case) fail("'case' before the 'end' of case " + cases.back().name);
        if (f.size() != 2) fail("expected 'case <name>'");
        std::string name(f[1]);
        if (!names.insert(name).second) fail("duplicate case name " + name);
        cases.push_back(FixtureCase{name, {}});
        labels.clear();
        in_case = true;
        case_line = line_no_;
      } else if (f[0] == "end") {
        if (!in_case) fail("'end' outside a case");
        if (f.size() != 1) fail("expected 'end' alone on its line");
        in_case = false;
      } else if (f[0] == "tensor") {
        if (!in_case) fail("'tensor' outside a case");
        FixtureTensor t = parse_tensor(f);
        if (!labels.insert(t.label).second)
          fail("duplicate label " + t.label + " in case " + cases.back().name);
        cases.back().tensors.push_back(std::move(t));
      } else {
        fail("unknown keyword '" + std::string(f[0]) + "' (expected case, tensor, end or a # comment)");
      }
    }
    if (in.bad()) fail("read error");
    if (in_case) {
      line_no_ = case_line;
      fail("case " + cases.back().name + " has no 'end' before the end of the file");
    }
    return cases;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("fixture file " + path_ + ", line " + std::to_string(line_no_) + ": " + what);
  }

  int64_t parse_int(std::string_view s, const char* what) const {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
      fail(std::string("bad ") + what + " '" + std::string(s) + "' (expected an integer)");
    return v;
  }

  double parse_double(std::string_view s) const {
    double v = 0;
    // from_chars, unlike strtod, ignores the locale, so "0.5" parses the same everywhere.
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) fail("bad f64 value '" + std::string(s) + "'");
    return v;
  }

  FixtureTensor parse_tensor(const std::vector<std::string_view>& f) const {
    if (f.size() < 4) fail("expected 'tensor <label> <dtype> <ndim> <dims...> <values...>'");
    FixtureTensor t;
    t.label = std::string(f[1]);
    t.dtype = std::string(f[2]);
    if (t.dtype != "f64" && t.dtype != "i64" && t.dtype != "bool")
      fail("tensor " + t.label + ": unknown dtype '" + t.dtype + "' (expected f64, i64 or bool)");
    int64_t ndim = parse_int(f[3], "ndim");
    if (ndim < 0 || ndim > kMaxNdim)
      fail("tensor " + t.label + ": ndim " + std::to_string(ndim) + " out of range");
    if (static_cast<int64_t>(f.size()) < 4 + ndim)
      fail("tensor " + t.label + ": ndim is " + std::to_string(ndim) + " but only " +
           std::to_string(f.size() - 4) + " fields follow");
    int64_t numel = 1;
    for (int64_t d = 0; d < ndim; ++d) {
      int64_t size = parse_int(f[4 + d], "dim");
      if (size < 0) fail("tensor " + t.label + ": negative dim " + std::to_string(size));
      t.shape.push_back(size);
      numel *= size;
      if (numel > kMaxNumel) fail("tensor " + t.label + ": too many elements");
    }
    int64_t given = static_cast<int64_t>(f.size()) - 4 - ndim;
    if (given != numel)
      fail("tensor " + t.label + ": shape " + shape_str(t.shape) + " needs " + std::to_string(numel) +
           " values, got " + std::to_string(given));
    t.values.reserve(numel);
    for (int64_t i = 0; i < numel; ++i) {
      std::string_view s = f[4 + ndim + i];
      if (t.dtype == "f64") {
        t.values.push_back(parse_double(s));
      } else {
        int64_t v = parse_int(s, t.dtype == "i64" ? "i64 value" : "bool value");
        if (t.dtype == "bool" && v != 0 && v != 1)
          fail("tensor " + t.label + ": bool value " + std::string(s) + " is not 0 or 1");
        if (v > kMaxExactInt || v < -kMaxExactInt)
          fail("tensor " + t.label + ": i64 value " + std::string(s) + " beyond 2^53");
        t.values.push_back(static_cast<double>(v));
      }
    }
    return t;
  }

  std::string path_;
  int line_no_ = 0;
};

}  // namespace

bool FixtureCase::has(const std::string& label) const {
  for (const FixtureTensor& t : tensors)
    if (t.label == label) return true;
  return false;
}

const FixtureTensor& FixtureCase::get(const std::string& label) const {
  for (const FixtureTensor& t : tensors)
    if (t.label == label) return t;
  throw Error("fixture case " + name + " has no tensor labelled " + label);
}

kiln::Tensor FixtureCase::tensor(const std::string& label) const {
  const FixtureTensor& t = get(label);
  if (t.dtype == "f64") return kiln::from_vector<double>(t.values, t.shape);
  std::vector<int64_t> ints(t.values.begin(), t.values.end());
  if (t.dtype == "i64") return kiln::from_vector<int64_t>(ints, t.shape);
  // std::vector<bool> is a packed bitset, so bools go through i64 and are converted by from_vector.
  return kiln::from_vector<int64_t>(ints, t.shape, kiln::DType::boolean);
}

std::vector<FixtureCase> read_fixture_file(const std::string& path) { return Parser(path).parse(); }

}  // namespace kiln::test
