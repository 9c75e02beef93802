// tests/fuzz/fuzz_csv.cpp: libFuzzer target for data::parse_csv and data::read_csv (data/csv.h).
// The first input byte picks the options (delimiter, header, chunk size, numeric_only); the rest is the CSV
// text. Oracles: the only exception either reader may throw is kiln::Error; reading the same bytes from a
// file in small chunks gives exactly the in-memory result (or the same error); a parsed table's operations
// (tensor conversion, dropna, categorical codes) keep their contracts. Built and run by tests/fuzz/run.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiln/data/csv.h"

namespace {

std::string temp_path() { return "/tmp/kiln_fuzz_csv_" + std::to_string(::getpid()) + ".csv"; }

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_csv: oracle failed: %s\n", what);
    std::abort();
  }
}

bool same(const kiln::data::Table& a, const kiln::data::Table& b) {
  if (a.num_rows() != b.num_rows() || a.column_names() != b.column_names()) return false;
  for (int64_t j = 0; j < a.num_cols(); ++j) {
    const auto &x = a.column(j), &y = b.column(j);
    if (x.type != y.type || x.missing != y.missing || x.ints != y.ints || x.bools != y.bools ||
        x.strings != y.strings || x.floats.size() != y.floats.size())
      return false;
    for (size_t i = 0; i < x.floats.size(); ++i)
      if (!(x.floats[i] == y.floats[i] || (x.floats[i] != x.floats[i] && y.floats[i] != y.floats[i])))
        return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  kiln::data::CsvOptions o;
  o.delimiter = ",;\t|"[mode & 3];
  o.header = (mode & 4) == 0;
  o.chunk_bytes = 1 + ((mode >> 3) & 15);
  o.numeric_only = (mode & 128) != 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string mem_error, file_error;
  kiln::data::Table mem, file;
  try {
    mem = kiln::data::parse_csv(text, o, "fuzz.csv");
  } catch (const kiln::Error& e) {
    mem_error = e.what();
  }
  const std::string path = temp_path();
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    try {
      file = kiln::data::read_csv(path, o);
    } catch (const kiln::Error& e) {
      file_error = e.what();
    }
    std::remove(path.c_str());
    check(mem_error.empty() == file_error.empty(),
          "chunked file read and in-memory parse disagree on success");
    if (mem_error.empty())
      check(same(mem, file), "chunked file read and in-memory parse give different tables");
  }
  if (!mem_error.empty()) return 0;

  const int64_t rows = mem.num_rows();
  for (const auto& c : mem.columns()) check(c.size() == rows, "a column's length differs from the table's");
  kiln::data::Table clean = mem.dropna();
  for (const auto& c : clean.columns()) check(c.null_count() == 0, "dropna left a missing cell");
  try {
    kiln::Tensor x = clean.to_tensor();
    check(x.dim() == 2 && x.size(0) == clean.num_rows() && x.size(1) == clean.num_cols(), "to_tensor shape");
  } catch (const kiln::Error&) {
  }
  for (const auto& c : mem.columns()) {
    if (c.type != kiln::data::ColumnType::String) continue;
    kiln::data::Categorical cat = mem.categorical(c.name);
    const int64_t* codes = cat.codes.data<int64_t>();
    for (int64_t i = 0; i < rows; ++i)
      check(c.missing[i] ? codes[i] == -1 : cat.categories[codes[i]] == c.strings[i], "categorical codes");
  }
  return 0;
}
