// kiln/data/csv.h: data::read_csv, a streaming RFC 4180 CSV reader with per-column type inference, into a
// data::Table. Depends on table.h and tensor/ (error.h).
//
// Format: fields separated by `delimiter`, records by LF, CRLF or CR. A field that starts with `quote` may
// hold delimiters, newlines and doubled quotes (""), which read as one quote; a quote inside an unquoted
// field is kept as a character. A leading UTF-8 byte-order mark is skipped; blank lines are skipped.
// Inference (over the whole file, as pandas does): a column is bool if every present cell is true/false
// (True, TRUE, ...), else int if every one is an integer that fits in i64, else float if every one is a
// number (inf and nan included), else string. Cells equal to one of `na_values` (before unquoting
// rules: a quoted "" is missing too) are missing; a column that is all missing is float. Numbers may
// carry spaces around them and a leading '+'.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/data/table.h"

namespace kiln::data {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  // The first record names the columns. Without a header, columns are named by `names` if given, else
  // "0", "1", ... (pandas' default).
  bool header = true;
  std::vector<std::string> names{};
  // Cells read as missing: pandas' default list.
  std::vector<std::string> na_values = {"",     "#N/A",   "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN",
                                        "-nan", "1.#IND", "1.#QNAN",  "<NA>", "N/A",     "NA",       "NULL",
                                        "NaN",  "None",   "n/a",      "nan",  "null"};
  // Column types by name, instead of inferred. A cell that does not parse as the forced type is an error
  // naming the file, line and column; a forced string column keeps its cells' text.
  std::map<std::string, ColumnType> dtypes{};
  // Every column not in `dtypes` must be numeric (int, float or bool): a cell that is not (a typo in a
  // feature file) is an error naming the file, line and column, instead of turning the column into text.
  bool numeric_only = false;
  // The file is read in pieces of this many bytes, so memory holds the parsed table plus one piece.
  size_t chunk_bytes = size_t{8} << 20;
  // Limits that turn a malformed or hostile input (a stream with no record end, an unclosed quote) into
  // an error naming the file and line instead of memory growing until the allocation fails. Generous by
  // default: a cell of 64 MiB, a record of 256 MiB.
  size_t max_field_bytes = size_t{64} << 20;
  size_t max_record_bytes = size_t{256} << 20;
};

// Reads a CSV file. Throws kiln::Error naming the file, line (1-based, physical lines) and column for:
// a missing file, an empty file (no header/record), a record with more or fewer fields than the first
// one (ragged), a cell that does not parse as its forced type or (numeric_only) as a number, an unterminated
// quoted field, a character after a closing quote other than a delimiter or end of record, an unknown
// name in `dtypes`, a field or record beyond max_field_bytes / max_record_bytes, and a UTF-16 file (a
// UTF-16 byte-order mark, or NUL bytes in the header: convert it to UTF-8 first).
Table read_csv(const std::string& path, const CsvOptions& options = {});

// The same parser over text in memory; `name` stands for the file name in error messages.
Table parse_csv(std::string_view text, const CsvOptions& options = {}, const std::string& name = "<string>");

}  // namespace kiln::data
