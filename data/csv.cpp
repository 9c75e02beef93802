// data/csv.cpp: the CSV reader (see csv.h for the format and the contracts).
// One pass over the bytes: a record is first split into field views (no copies), then each cell goes
// straight into its typed column (std::from_chars for numbers, no std::string per numeric cell). A column
// inferred as bool/int/float that later meets text must keep its earlier cells' exact text, which the
// typed column no longer has, so the read restarts with that column forced to string. Found in the
// first kEarlyLines lines, the restart is immediate (cheap); found later, the pass goes on to the end to
// find every such column, then restarts once: at most two passes over a large file, and a file whose
// inferred types hold is read once. Depends on table.h and tensor/ (error.h).
#include "kiln/data/csv.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

namespace kiln::data {
namespace {

// Thrown (inside this file only) when an inferred column must become a string column.
struct RestartAsString {
  std::vector<size_t> columns;
};
constexpr int64_t kEarlyLines = 10000;

struct Field {
  const char* begin;
  const char* end;
  uint32_t line_delta;  // newlines in the record before this field (quoted fields may span lines)
  bool quoted;
  bool escaped;  // quoted and holds doubled quotes that must be collapsed
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_int(std::string_view s, int64_t& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool parse_float(std::string_view s, double& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range && ptr == s.data() + s.size()) {
    // from_chars leaves `out` alone on overflow/underflow; strtod gives +-inf or 0 as pandas does.
    out = std::strtod(std::string(s).c_str(), nullptr);
    return true;
  }
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool parse_bool(std::string_view s, uint8_t& out, bool allow_digits) {
  s = trim(s);
  if (s == "true" || s == "True" || s == "TRUE" || (allow_digits && s == "1")) return out = 1, true;
  if (s == "false" || s == "False" || s == "FALSE" || (allow_digits && s == "0")) return out = 0, true;
  return false;
}

// One column while it is being read: its inferred (or forced) type so far and its cells.
struct Builder {
  Column col;
  bool known = false;           // a present cell has fixed the type (always true when forced)
  bool forced = false;          // the type came from CsvOptions::dtypes
  int64_t pending_missing = 0;  // missing cells seen while the type was unknown

  void push_missing() {
    if (!known) return void(++pending_missing);
    col.missing.push_back(1);
    switch (col.type) {
      case ColumnType::Int:
        col.ints.push_back(0);
        break;
      case ColumnType::Float:
        col.floats.push_back(std::nan(""));
        break;
      case ColumnType::Bool:
        col.bools.push_back(0);
        break;
      case ColumnType::String:
        col.strings.emplace_back();
        break;
    }
  }
  void fix_type(ColumnType t) {
    col.type = t;
    known = true;
    for (int64_t i = 0; i < pending_missing; ++i) push_missing();
    pending_missing = 0;
  }
  void finish() {
    if (!known) fix_type(ColumnType::Float);  // pandas: an all-missing column is float64 NaN
  }
};

class Parser {
 public:
  Parser(const CsvOptions& o, const std::string& name, const std::set<size_t>& as_string)
      : opt_(o), name_(name), as_string_(as_string) {
    for (const std::string& na : o.na_values) {
      na_.insert(na);
      max_na_len_ = std::max(max_na_len_, na.size());
      if (!na.empty()) na_first_[static_cast<unsigned char>(na[0])] = true;
      if (na.empty()) na_empty_ = true;
    }
    stops_[static_cast<unsigned char>(o.delimiter)] = stops_['\n'] = stops_['\r'] = true;
    KILN_CHECK(o.delimiter != o.quote && o.delimiter != '\n' && o.delimiter != '\r', "read_csv: '", name,
               "': the delimiter must differ from the quote character and from line breaks");
  }

  // Parses the complete records in [p, end); returns the bytes consumed. With eof false, a record that
  // runs past `end` is left for the next call (with more bytes).
  size_t consume(const char* begin, const char* end, bool eof) {
    const char* p = begin;
    if (!bom_checked_) {
      if (end - p < 3 && !eof) return 0;
      bom_checked_ = true;
      if (end - p >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
      if (end - p >= 2 && (std::memcmp(p, "\xFF\xFE", 2) == 0 || std::memcmp(p, "\xFE\xFF", 2) == 0))
        fail_utf16("it starts with a UTF-16 byte-order mark");
    }
    while (p < end) {
      const char* next = scan_record(p, end, eof);
      if (next == nullptr) break;
      commit_record();
      line_ += 1 + lines_;
      p = next;
    }
    return static_cast<size_t>(p - begin);
  }

  Table finish() {
    if (!have_width_) fail(line_, 1, "the file is empty (no header and no records)");
    if (!late_strings_.empty()) throw RestartAsString{{late_strings_.begin(), late_strings_.end()}};
    std::vector<Column> cols;
    for (Builder& b : builders_) {
      b.finish();
      cols.push_back(std::move(b.col));
    }
    return Table(std::move(cols));
  }

 private:
  template <class... Parts>
  [[noreturn]] void fail(int64_t line, size_t column, const Parts&... parts) const {
    std::string col_name;
    if (column >= 1 && column <= builders_.size() && have_width_)
      col_name = " ('" + builders_[column - 1].col.name + "')";
    KILN_CHECK(false, "read_csv: '", name_, "' line ", line, ", column ", column, col_name, ": ", parts...);
    std::abort();  // unreachable: KILN_CHECK(false) throws
  }

  [[noreturn]] void fail_utf16(const char* evidence) const {
    KILN_CHECK(false, "read_csv: '", name_, "' looks like UTF-16 (", evidence,
               "); kiln reads UTF-8 text: convert it first, e.g. iconv -f UTF-16 -t UTF-8");
    std::abort();  // unreachable: KILN_CHECK(false) throws
  }

  void check_field_size(const char* begin, const char* end) const {
    if (static_cast<size_t>(end - begin) > opt_.max_field_bytes)
      fail(line_, fields_.size() + 1, "a field of ", end - begin,
           " bytes exceeds CsvOptions::max_field_bytes (", opt_.max_field_bytes, ")");
  }

 public:
  int64_t line() const { return line_; }

 private:
  // Splits one record into fields_; returns the byte after its terminator, or nullptr if it is incomplete.
  const char* scan_record(const char* p, const char* end, bool eof) {
    fields_.clear();
    uint32_t& lines = lines_;
    lines = 0;
    const char d = opt_.delimiter, q = opt_.quote;
    for (;;) {
      if (p < end && *p == q) {
        const char* s = p + 1;
        const uint32_t open_line = lines;
        bool escaped = false;
        const char* close;
        for (;;) {
          close = static_cast<const char*>(std::memchr(s, q, static_cast<size_t>(end - s)));
          const char* stop = close ? close : end;
          lines += static_cast<uint32_t>(std::count(s, stop, '\n'));
          if (close == nullptr) {
            if (!eof) return nullptr;
            fail(line_ + open_line, fields_.size() + 1,
                 "the quoted field opened on this line is never closed");
          }
          if (close + 1 == end && !eof) return nullptr;
          if (close + 1 < end && close[1] == q) {
            escaped = true;
            s = close + 2;
            continue;
          }
          break;
        }
        check_field_size(p + 1, close);
        fields_.push_back({p + 1, close, lines, true, escaped});
        p = close + 1;
        if (p == end) return p;
        if (*p == d) {
          ++p;
          continue;
        }
        if (*p == '\n') return p + 1;
        if (*p == '\r') {
          if (p + 1 == end && !eof) return nullptr;
          return p + 1 + (p + 1 < end && p[1] == '\n');
        }
        fail(line_ + lines, fields_.size(), "unexpected character '", std::string(1, *p),
             "' after a closing quote (expected the delimiter or the end of the record)");
      }
      const char* s = p;
      while (s < end && !stops_[static_cast<unsigned char>(*s)]) ++s;
      if (s == end && !eof) return nullptr;
      check_field_size(p, s);
      fields_.push_back({p, s, lines, false, false});
      if (s == end) return s;
      if (*s == d) {
        p = s + 1;
        continue;
      }
      if (*s == '\n') return s + 1;
      if (s + 1 == end && !eof) return nullptr;
      return s + 1 + (s + 1 < end && s[1] == '\n');
    }
  }

  std::string_view text_of(const Field& f) {
    if (!f.escaped) return {f.begin, static_cast<size_t>(f.end - f.begin)};
    scratch_.clear();
    for (const char* c = f.begin; c < f.end; ++c) {
      scratch_ += *c;
      if (*c == opt_.quote) ++c;  // the second of a doubled quote
    }
    return scratch_;
  }

  bool is_na(std::string_view s) const {
    if (s.empty()) return na_empty_;
    if (s.size() > max_na_len_ || !na_first_[static_cast<unsigned char>(s[0])]) return false;
    return na_.find(s) != na_.end();
  }

  void commit_record() {
    if (fields_.size() == 1 && fields_[0].begin == fields_[0].end && !fields_[0].quoted) return;  // blank
    if (!have_width_) return start_columns();
    if (fields_.size() != builders_.size()) {
      size_t col = std::min(fields_.size(), builders_.size()) + 1;
      fail(line_, col, "the record has ", fields_.size(), " fields but the ",
           opt_.header ? "header has " : "first record has ", builders_.size(), " (ragged rows)");
    }
    for (size_t j = 0; j < fields_.size(); ++j) add_cell(j, fields_[j]);
  }

  void start_columns() {
    const size_t n = fields_.size();
    have_width_ = true;
    builders_.resize(n);
    std::vector<std::string> names(n);
    if (opt_.header) {
      for (size_t j = 0; j < n; ++j) names[j] = std::string(text_of(fields_[j]));
      // UTF-16 text read as bytes puts a NUL beside every ASCII letter.
      for (const std::string& nm : names)
        if (nm.find('\0') != std::string::npos) fail_utf16("its header holds NUL bytes");
    } else if (!opt_.names.empty()) {
      KILN_CHECK(opt_.names.size() == n, "read_csv: '", name_, "' line ", line_, ": ", opt_.names.size(),
                 " names given but the first record has ", n, " fields");
      names = opt_.names;
    } else {
      for (size_t j = 0; j < n; ++j) names[j] = std::to_string(j);
    }
    std::set<std::string> used;
    for (size_t j = 0; j < n; ++j) {
      std::string nm = names[j].empty() ? "Unnamed: " + std::to_string(j) : names[j];
      for (int k = 1; used.count(nm); ++k) nm = names[j] + "." + std::to_string(k);  // pandas' a, a.1
      used.insert(nm);
      builders_[j].col.name = nm;
    }
    for (const auto& entry : opt_.dtypes) {
      const std::string& col = entry.first;  // not a structured binding: clang 14 cannot capture those
      auto it = std::find_if(builders_.begin(), builders_.end(),
                             [&](const Builder& b) { return b.col.name == col; });
      KILN_CHECK(it != builders_.end(), "read_csv: '", name_, "' line ", line_, ": dtypes names column '",
                 col, "', which is not in the file");
      it->forced = true;
      it->fix_type(entry.second);
    }
    for (size_t j : as_string_)
      if (!builders_[j].forced) builders_[j].fix_type(ColumnType::String);
    if (!opt_.header) commit_record();
  }

  void add_cell(size_t j, const Field& f) {
    Builder& b = builders_[j];
    Column& c = b.col;
    if (!late_strings_.empty() && late_strings_.count(j))
      return;  // this pass only looks for more such columns
    std::string_view s = text_of(f);
    if (is_na(s)) return b.push_missing();
    if (!b.known) {
      const ColumnType t = infer(s);
      if (t == ColumnType::String && opt_.numeric_only)
        fail(line_ + f.line_delta, j + 1, "'", std::string(s.substr(0, 40)),
             "' is not a number (CsvOptions::numeric_only)");
      b.fix_type(t);
    }
    bool ok = true;
    switch (c.type) {
      case ColumnType::Int: {
        int64_t v;
        if (parse_int(s, v)) {
          c.ints.push_back(v);
        } else if (double x; !b.forced && parse_float(s, x)) {
          promote_to_float(c);
          c.floats.push_back(x);
        } else {
          ok = false;
        }
        break;
      }
      case ColumnType::Float: {
        double x;
        ok = parse_float(s, x);
        if (ok) c.floats.push_back(x);
        break;
      }
      case ColumnType::Bool: {
        uint8_t v;
        ok = parse_bool(s, v, b.forced);
        if (ok) c.bools.push_back(v);
        break;
      }
      case ColumnType::String:
        c.strings.emplace_back(s);
        break;
    }
    if (!ok && !b.forced && !opt_.numeric_only) {
      if (line_ <= kEarlyLines) throw RestartAsString{{j}};
      late_strings_.insert(j);
      return;
    }
    if (!ok)
      fail(line_ + f.line_delta, j + 1, "cannot parse '", std::string(s.substr(0, 40)), "' as ",
           column_type_name(c.type),
           b.forced ? " (the column's type is forced by CsvOptions::dtypes)"
                    : " (the column's earlier cells made it that type; CsvOptions::numeric_only)");
    c.missing.push_back(0);
  }

  static ColumnType infer(std::string_view s) {
    uint8_t b;
    int64_t i;
    double x;
    if (parse_bool(s, b, false)) return ColumnType::Bool;
    if (parse_int(s, i)) return ColumnType::Int;
    if (parse_float(s, x)) return ColumnType::Float;
    return ColumnType::String;
  }

  static void promote_to_float(Column& c) {
    c.type = ColumnType::Float;
    c.floats.reserve(c.ints.capacity());
    for (size_t i = 0; i < c.ints.size(); ++i)
      c.floats.push_back(c.missing[i] ? std::nan("") : double(c.ints[i]));
    c.ints = {};
  }

  const CsvOptions& opt_;
  const std::string& name_;
  const std::set<size_t>& as_string_;
  std::set<std::string, std::less<>> na_;
  size_t max_na_len_ = 0;
  std::array<bool, 256> na_first_{};
  std::array<bool, 256> stops_{};  // bytes that end an unquoted field
  bool na_empty_ = false;
  bool bom_checked_ = false;
  bool have_width_ = false;
  int64_t line_ = 1;    // of the record being parsed
  uint32_t lines_ = 0;  // line breaks inside it, so far
  std::vector<Field> fields_;
  std::vector<Builder> builders_;
  std::string scratch_;
  std::set<size_t> late_strings_;  // columns found to need strings after kEarlyLines
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Table read_file_once(const std::string& path, const CsvOptions& o, const std::set<size_t>& as_string) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  KILN_CHECK(file != nullptr, "read_csv: cannot open '", path, "': ", std::strerror(errno));
  Parser parser(o, path, as_string);
  std::vector<char> buf(std::max<size_t>(o.chunk_bytes, 64));
  size_t have = 0;
  bool eof = false;
  while (!eof) {
    size_t got = std::fread(buf.data() + have, 1, buf.size() - have, file.get());
    KILN_CHECK(!std::ferror(file.get()), "read_csv: error reading '", path, "': ", std::strerror(errno));
    have += got;
    eof = have < buf.size();
    size_t used = parser.consume(buf.data(), buf.data() + have, eof);
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
    if (have == buf.size()) {  // one record longer than the buffer
      KILN_CHECK(buf.size() < o.max_record_bytes, "read_csv: '", path, "' line ", parser.line(),
                 ": the record is longer than CsvOptions::max_record_bytes (", o.max_record_bytes,
                 " bytes); is a quote left open, or is this not a CSV file?");
      buf.resize(std::min(buf.size() * 2, std::max(o.max_record_bytes, buf.size() + 1)));
    }
  }
  return parser.finish();
}

template <class ReadOnce>
Table with_restarts(ReadOnce read_once) {
  std::set<size_t> as_string;
  for (;;) {
    try {
      return read_once(as_string);
    } catch (const RestartAsString& r) {
      as_string.insert(r.columns.begin(), r.columns.end());
    }
  }
}

}  // namespace

Table read_csv(const std::string& path, const CsvOptions& options) {
  return with_restarts(
      [&](const std::set<size_t>& as_string) { return read_file_once(path, options, as_string); });
}

Table parse_csv(std::string_view text, const CsvOptions& options, const std::string& name) {
  return with_restarts([&](const std::set<size_t>& as_string) {
    Parser parser(options, name, as_string);
    parser.consume(text.data(), text.data() + text.size(), true);
    return parser.finish();
  });
}

}  // namespace kiln::data
