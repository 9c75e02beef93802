// data/table.cpp: data::Table column operations and tensor conversion (see table.h).
// Depends on tensor/ (empty, data pointers) only.
#include "kiln/data/table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <unordered_set>

namespace kiln::data {
namespace {

std::string name_list(const std::vector<Column>& cols) {
  std::string out = "[";
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? ", '" : "'") + cols[i].name + "'";
  return out + "]";
}

// A copy of `c` holding only `rows`, in that order.
Column take_rows(const Column& c, const std::vector<int64_t>& rows) {
  Column out;
  out.name = c.name;
  out.type = c.type;
  auto pick = [&](const auto& in, auto& dst) {
    dst.reserve(rows.size());
    for (int64_t r : rows) dst.push_back(in[static_cast<size_t>(r)]);
  };
  switch (c.type) {
    case ColumnType::Int:
      pick(c.ints, out.ints);
      break;
    case ColumnType::Float:
      pick(c.floats, out.floats);
      break;
    case ColumnType::Bool:
      pick(c.bools, out.bools);
      break;
    case ColumnType::String:
      pick(c.strings, out.strings);
      break;
  }
  pick(c.missing, out.missing);
  return out;
}

int64_t first_missing(const Column& c) {
  auto it = std::find(c.missing.begin(), c.missing.end(), uint8_t{1});
  return it == c.missing.end() ? -1 : static_cast<int64_t>(it - c.missing.begin());
}

void check_no_missing(const Column& c, const char* op) {
  int64_t row = first_missing(c);
  KILN_CHECK(row < 0, "Table::", op, ": column '", c.name, "' has ", c.null_count(),
             " missing value(s), the first in row ", row, "; call dropna() or fillna() first");
}

// Writes column `c` into out[i * stride] for each row, as T.
template <class T>
void write_column(const Column& c, const std::vector<int64_t>& codes, T* out, int64_t stride) {
  const int64_t n = c.size();
  switch (c.type) {
    case ColumnType::Int:
      for (int64_t i = 0; i < n; ++i) out[i * stride] = static_cast<T>(c.ints[i]);
      break;
    case ColumnType::Float:
      for (int64_t i = 0; i < n; ++i) out[i * stride] = static_cast<T>(c.floats[i]);
      break;
    case ColumnType::Bool:
      for (int64_t i = 0; i < n; ++i) out[i * stride] = static_cast<T>(c.bools[i]);
      break;
    case ColumnType::String:
      for (int64_t i = 0; i < n; ++i) out[i * stride] = static_cast<T>(codes[i]);
      break;
  }
}

void write_any(const Column& c, const std::vector<int64_t>& codes, const Tensor& out, int64_t col,
               int64_t stride) {
  switch (out.dtype()) {
    case DType::f32:
      return write_column(c, codes, out.data<float>() + col, stride);
    case DType::f64:
      return write_column(c, codes, out.data<double>() + col, stride);
    case DType::i64:
      return write_column(c, codes, out.data<int64_t>() + col, stride);
    case DType::i32:
      return write_column(c, codes, out.data<int32_t>() + col, stride);
    default:
      KILN_CHECK(false, "Table: cannot convert to ", out.dtype(), "; use f32, f64, i64 or i32");
  }
}

// The sorted distinct values of a string column's present cells.
std::vector<std::string> sorted_categories(const Column& c) {
  std::vector<std::string> cats;
  for (int64_t i = 0; i < c.size(); ++i)
    if (!c.missing[i]) cats.push_back(c.strings[i]);
  std::sort(cats.begin(), cats.end());
  cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
  return cats;
}

constexpr int64_t kMissingCode = -1, kUnknownCode = -2;

// Codes of a string column into `categories`: kMissingCode for missing cells, kUnknownCode for a value
// that is not a category.
std::vector<int64_t> codes_into(const Column& c, const std::vector<std::string>& categories) {
  std::map<std::string_view, int64_t> index;
  for (size_t k = 0; k < categories.size(); ++k) index.emplace(categories[k], static_cast<int64_t>(k));
  std::vector<int64_t> codes(c.size(), kMissingCode);
  for (int64_t i = 0; i < c.size(); ++i) {
    if (c.missing[i]) continue;
    auto it = index.find(c.strings[i]);
    codes[i] = it == index.end() ? kUnknownCode : it->second;
  }
  return codes;
}

// Writes feature column `c` into column `col` of the floating (N, D) `out`: values or codes, NaN where
// missing, -1 for an unknown category.
template <class T>
void write_feature(const Column& c, const std::vector<std::string>* categories, T* out, int64_t d) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  if (categories != nullptr) {
    std::vector<int64_t> codes = codes_into(c, *categories);
    for (int64_t i = 0; i < c.size(); ++i)
      out[i * d] = codes[i] == kMissingCode   ? nan
                   : codes[i] == kUnknownCode ? T(-1)
                                              : static_cast<T>(codes[i]);
    return;
  }
  for (int64_t i = 0; i < c.size(); ++i) out[i * d] = static_cast<T>(c.as_double(i));
}

// A string column among the features is an error, not silent codes: it is often a numeric column with a
// few bad cells (which made read_csv infer strings), and codes of real categories need one-hot encoding.
void check_numeric(const Column& c) {
  if (c.type != ColumnType::String) return;
  int64_t row = 0;
  for (int64_t i = 0; i < c.size(); ++i) {
    if (c.missing[i]) continue;
    char* end = nullptr;
    const std::string& v = c.strings[i];
    std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size()) {
      row = i;
      break;
    }
  }
  KILN_CHECK(false, "Table::to_tensor: column '", c.name, "' holds strings, not numbers (row ", row, ": '",
             c.size() > 0 ? c.strings[row].substr(0, 40) : std::string(),
             "'); encode it with categorical() and one-hot it, drop() it, or read the file with "
             "CsvOptions::dtypes forcing a numeric type to find the bad cells");
}

Tensor columns_to_tensor(const std::vector<const Column*>& cols, DType dtype, const char* op) {
  const int64_t n_rows = cols.empty() ? 0 : cols.front()->size(), d = static_cast<int64_t>(cols.size());
  KILN_CHECK(dtype == DType::f32 || dtype == DType::f64 || dtype == DType::i64 || dtype == DType::i32,
             "Table::", op, ": cannot convert to ", dtype, "; use f32, f64, i64 or i32");
  Tensor out = empty({n_rows, d}, {.dtype = dtype});
  for (int64_t j = 0; j < d; ++j) {
    check_no_missing(*cols[j], op);
    std::vector<int64_t> codes;
    if (cols[j]->type == ColumnType::String) codes = codes_into(*cols[j], sorted_categories(*cols[j]));
    write_any(*cols[j], codes, out, j, d);
  }
  return out;
}

}  // namespace

const char* column_type_name(ColumnType t) {
  switch (t) {
    case ColumnType::Int:
      return "int";
    case ColumnType::Float:
      return "float";
    case ColumnType::Bool:
      return "bool";
    case ColumnType::String:
      return "string";
  }
  return "?";
}

int64_t Column::null_count() const { return std::count(missing.begin(), missing.end(), uint8_t{1}); }

double Column::as_double(int64_t row) const {
  KILN_CHECK(row >= 0 && row < size(), "Column::as_double: row ", row, " out of range for column '", name,
             "' of ", size(), " rows");
  if (missing[row]) return std::numeric_limits<double>::quiet_NaN();
  switch (type) {
    case ColumnType::Int:
      return static_cast<double>(ints[row]);
    case ColumnType::Float:
      return floats[row];
    case ColumnType::Bool:
      return bools[row];
    case ColumnType::String:
      break;
  }
  KILN_CHECK(false, "Column::as_double: column '", name, "' holds strings");
  return 0;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  std::unordered_set<std::string> seen;
  for (const Column& c : columns_) {
    KILN_CHECK(seen.insert(c.name).second, "Table: duplicate column name '", c.name, "'");
    KILN_CHECK(c.size() == columns_.front().size(), "Table: column '", c.name, "' has ", c.size(),
               " rows but column '", columns_.front().name, "' has ", columns_.front().size());
  }
}

std::vector<std::string> Table::column_names() const {
  std::vector<std::string> names;
  for (const Column& c : columns_) names.push_back(c.name);
  return names;
}

int64_t Table::find(const std::string& name) const {
  for (size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i].name == name) return static_cast<int64_t>(i);
  return -1;
}

const Column& Table::column(const std::string& name) const {
  int64_t i = find(name);
  KILN_CHECK(i >= 0, "Table: no column named '", name, "'; the columns are ", name_list(columns_));
  return columns_[i];
}

const Column& Table::column(int64_t index) const {
  KILN_CHECK(index >= 0 && index < num_cols(), "Table: column index ", index, " out of range for ",
             num_cols(), " columns");
  return columns_[index];
}

Table Table::select(const std::vector<std::string>& names) const {
  std::vector<Column> out;
  for (const std::string& n : names) out.push_back(column(n));
  return Table(std::move(out));
}

Table Table::drop(const std::vector<std::string>& names) const {
  for (const std::string& n : names) column(n);  // unknown names are an error, as in pandas
  std::vector<Column> out;
  for (const Column& c : columns_)
    if (std::find(names.begin(), names.end(), c.name) == names.end()) out.push_back(c);
  return Table(std::move(out));
}

Table Table::take(const std::vector<int64_t>& rows) const {
  for (int64_t r : rows)
    KILN_CHECK(r >= 0 && r < num_rows(), "Table::take: row ", r, " out of range for ", num_rows(), " rows");
  std::vector<Column> out;
  for (const Column& c : columns_) out.push_back(take_rows(c, rows));
  return Table(std::move(out));
}

Table Table::dropna(const std::vector<std::string>& subset) const {
  std::vector<const Column*> checked;
  if (subset.empty())
    for (const Column& c : columns_) checked.push_back(&c);
  for (const std::string& n : subset) checked.push_back(&column(n));
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < num_rows(); ++r) {
    bool any = false;
    for (const Column* c : checked) any = any || c->missing[r];
    if (!any) keep.push_back(r);
  }
  return take(keep);
}

Table Table::fillna(const std::string& name, double value) const {
  Table out = *this;
  column(name);  // throws for an unknown name
  Column& c = out.columns_[find(name)];
  KILN_CHECK(c.type != ColumnType::String, "Table::fillna: column '", name,
             "' holds strings; fill it with a string value");
  KILN_CHECK(c.type != ColumnType::Int || value == std::floor(value), "Table::fillna: column '", name,
             "' holds integers; the fill value ", value, " is not one");
  KILN_CHECK(c.type != ColumnType::Bool || value == 0 || value == 1, "Table::fillna: column '", name,
             "' holds booleans; the fill value must be 0 or 1, not ", value);
  for (int64_t r = 0; r < c.size(); ++r) {
    if (!c.missing[r]) continue;
    c.missing[r] = 0;
    if (c.type == ColumnType::Int) c.ints[r] = static_cast<int64_t>(value);
    if (c.type == ColumnType::Float) c.floats[r] = value;
    if (c.type == ColumnType::Bool) c.bools[r] = static_cast<uint8_t>(value);
  }
  return out;
}

Table Table::fillna(double value) const {
  Table out = *this;
  for (const Column& c : columns_)
    if (c.type != ColumnType::String && c.null_count() > 0) out = out.fillna(c.name, value);
  return out;
}

Table Table::fillna(const std::string& value) const {
  Table out = *this;
  for (Column& c : out.columns_) {
    if (c.type != ColumnType::String) continue;
    for (int64_t r = 0; r < c.size(); ++r)
      if (c.missing[r]) c.missing[r] = 0, c.strings[r] = value;
  }
  return out;
}

Tensor Table::to_tensor(const std::vector<std::string>& names, DType dtype) const {
  std::vector<const Column*> cols;
  if (names.empty())
    for (const Column& c : columns_) cols.push_back(&c);
  for (const std::string& n : names) cols.push_back(&column(n));
  for (const Column* c : cols) check_numeric(*c);
  return columns_to_tensor(cols, dtype, "to_tensor");
}

Tensor Table::column_tensor(const std::string& name, std::optional<DType> dtype) const {
  const Column& c = column(name);
  DType dt = dtype.value_or(c.type == ColumnType::Float ? DType::f32 : DType::i64);
  Tensor nx1 = columns_to_tensor({&c}, dt, "column_tensor");
  return as_strided(nx1, {nx1.size(0)}, {1}, 0);  // (N, 1) contiguous -> (N); reshape lives in autograd/
}

TableSchema Table::fit_schema(const std::string& target, const std::vector<std::string>& features) const {
  TableSchema schema;
  if (!target.empty()) {
    const Column& t = column(target);
    schema.target = target;
    if (t.type == ColumnType::String) schema.classes = sorted_categories(t);
  }
  std::vector<std::string> names = features;
  if (names.empty())
    for (const Column& c : columns_)
      if (c.name != target) names.push_back(c.name);
  for (const std::string& n : names) {
    KILN_CHECK(n != target, "Table::fit_schema: the target '", target, "' is also listed as a feature");
    const Column& c = column(n);
    schema.names.push_back(n);
    schema.categorical.push_back(c.type == ColumnType::String ? 1 : 0);
    schema.categories.push_back(c.type == ColumnType::String ? sorted_categories(c)
                                                             : std::vector<std::string>{});
  }
  return schema;
}

Tensor Table::features(const TableSchema& schema, DType dtype) const {
  std::vector<const Column*> cols;
  for (int64_t j = 0; j < schema.num_features(); ++j) {
    const Column& c = column(schema.names[j]);
    const bool is_string = c.type == ColumnType::String;
    if (!schema.categorical[j]) check_numeric(c);
    KILN_CHECK(is_string || !schema.categorical[j], "Table::features: column '", c.name, "' holds ",
               column_type_name(c.type), " values but the schema was fitted on strings (categories)");
    cols.push_back(&c);
  }
  if (dtype != DType::f32 && dtype != DType::f64) return columns_to_tensor(cols, dtype, "features");
  const int64_t d = schema.num_features();
  Tensor out = empty({num_rows(), d}, {.dtype = dtype});
  for (int64_t j = 0; j < d; ++j) {
    const std::vector<std::string>* cats = schema.categorical[j] ? &schema.categories[j] : nullptr;
    if (dtype == DType::f64)
      write_feature(*cols[j], cats, out.data<double>() + j, d);
    else
      write_feature(*cols[j], cats, out.data<float>() + j, d);
  }
  return out;
}

Tensor Table::target(const TableSchema& schema) const {
  KILN_CHECK(!schema.target.empty(), "Table::target: the schema has no target column");
  const Column& c = column(schema.target);
  check_no_missing(c, "target");
  if (c.type != ColumnType::String)
    return column_tensor(c.name, c.type == ColumnType::Float ? DType::f64 : DType::i64);
  KILN_CHECK(!schema.classes.empty(), "Table::target: column '", c.name,
             "' holds strings but the schema was fitted on a numeric target");
  std::vector<int64_t> codes = codes_into(c, schema.classes);
  for (int64_t i = 0; i < c.size(); ++i)
    KILN_CHECK(codes[i] >= 0, "Table::target: row ", i, " of column '", c.name, "' has the class '",
               c.strings[i], "', which the training rows did not have");
  return from_vector(codes);
}

XY Table::to_xy(const std::string& target, DType dtype) const {
  KILN_CHECK(!target.empty(), "Table::to_xy: name the target column");
  return to_xy(fit_schema(target), dtype);
}

XY Table::to_xy(const TableSchema& fitted, DType dtype) const {
  return {features(fitted, dtype), target(fitted), fitted};
}

std::pair<Tensor, Tensor> Table::to_xy(const std::vector<std::string>& features,
                                       const std::string& target) const {
  XY xy = to_xy(fit_schema(target, features));
  return {xy.X, xy.y};
}

Categorical Table::categorical(const std::string& name) const {
  const Column& c = column(name);
  return categorical(name, c.type == ColumnType::String ? sorted_categories(c) : std::vector<std::string>{});
}

Categorical Table::categorical(const std::string& name, const std::vector<std::string>& categories) const {
  const Column& c = column(name);
  KILN_CHECK(c.type == ColumnType::String, "Table::categorical: column '", name, "' holds ",
             column_type_name(c.type), " values, not strings; use column_tensor");
  std::vector<int64_t> codes = codes_into(c, categories);
  for (int64_t& v : codes) v = std::max(v, kMissingCode);  // pandas: values outside the categories are -1
  return {from_vector(codes), categories};
}

}  // namespace kiln::data
