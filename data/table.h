// kiln/data/table.h: data::Table, a small column-typed table (what read_csv returns), and its conversion
// to tensors. Each column has one type (integer, float, boolean or string/categorical) and a mask of
// missing cells; the table is a value type (copies copy the cells). Depends on tensor/ only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/data/table_schema.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

enum class ColumnType { Int, Float, Bool, String };
const char* column_type_name(ColumnType t);  // "int", "float", "bool", "string"

// One named column. Exactly one of the value vectors is used (the one of `type`); it has one entry per
// row, and a missing cell holds a placeholder (0, NaN, false or "") with missing[row] = 1.
struct Column {
  std::string name;
  ColumnType type = ColumnType::Float;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<uint8_t> bools;
  std::vector<std::string> strings;
  std::vector<uint8_t> missing;

  int64_t size() const { return static_cast<int64_t>(missing.size()); }
  int64_t null_count() const;
  bool is_numeric() const { return type != ColumnType::String; }
  // The cell as a double (Int, Float, Bool; NaN where missing). Throws kiln::Error for a string column.
  double as_double(int64_t row) const;
};

// A string column as integer codes into its category list (pandas' Categorical): codes (N) i64, -1 where
// the cell is missing or its value is not among the categories.
struct Categorical {
  Tensor codes;
  std::vector<std::string> categories;
};

// Features, target and the schema that produced them (Table::to_xy).
struct XY {
  Tensor X, y;
  TableSchema schema;
};

class Table {
 public:
  Table() = default;
  // Throws kiln::Error if the columns differ in length or repeat a name.
  explicit Table(std::vector<Column> columns);

  int64_t num_rows() const { return columns_.empty() ? 0 : columns_.front().size(); }
  int64_t num_cols() const { return static_cast<int64_t>(columns_.size()); }
  std::vector<std::string> column_names() const;
  bool has_column(const std::string& name) const { return find(name) >= 0; }
  // Throws kiln::Error listing the table's columns when `name` is not one of them.
  const Column& column(const std::string& name) const;
  const Column& column(int64_t index) const;
  const Column& operator[](const std::string& name) const { return column(name); }
  const std::vector<Column>& columns() const { return columns_; }

  // New tables (pandas semantics). select keeps the given columns in the given order; drop removes them.
  Table select(const std::vector<std::string>& names) const;
  Table drop(const std::vector<std::string>& names) const;
  // Rows without a missing cell in `subset` (all columns when empty).
  Table dropna(const std::vector<std::string>& subset = {}) const;
  // Missing cells of the numeric and boolean columns get `value` (int columns need an integral value,
  // bool columns 0 or 1); fillna(std::string) fills the string columns. Throws kiln::Error otherwise.
  Table fillna(double value) const;
  Table fillna(const std::string& value) const;
  Table fillna(const std::string& column, double value) const;
  Table take(const std::vector<int64_t>& rows) const;  // rows in the given order

  // The columns as one (N, D) tensor of `dtype` (f32, f64, i64 or i32), columns in the given order (all
  // columns when empty). Throws kiln::Error naming the column and the first row with a missing value
  // (dropna()/fillna() first), and for a string column, naming its first cell that is not a number (a
  // numeric column with bad cells reads as strings; real categories need categorical() and one-hot).
  Tensor to_tensor(const std::vector<std::string>& names = {}, DType dtype = DType::f32) const;
  // One column as an (N) tensor; dtype i64 for int, bool and string (codes) columns, f32 for float ones
  // unless given.
  Tensor column_tensor(const std::string& name, std::optional<DType> dtype = std::nullopt) const;
  // The schema fitted on this table's rows: `features` (all columns but the target when empty), their
  // kinds and categories, and the target's classes (`target` may be "" for a table without one).
  TableSchema fit_schema(const std::string& target, const std::vector<std::string>& features = {}) const;
  // X (N, D) by a schema fitted on the training table: numeric columns as values (NaN where missing),
  // string columns as codes into the schema's categories (NaN where missing, -1 for a category the
  // training rows did not have, so OneHotEncoder's handle_unknown decides). f64 unless asked (f32); the
  // integer dtypes refuse missing cells. Throws kiln::Error naming a column that is absent or whose kind
  // differs from the schema's.
  Tensor features(const TableSchema& schema, DType dtype = DType::f64) const;
  // y (N) by the schema: i64 labels for int, bool and string columns (string classes as codes into
  // schema.classes), f64 for float columns. Throws naming the first missing cell or unseen class.
  Tensor target(const TableSchema& schema) const;
  // One line from a table to an estimator's input: auto [X, y, schema] = train.to_xy("label"); then
  // test.to_xy(schema) converts the test table with the training table's categories.
  XY to_xy(const std::string& target, DType dtype = DType::f64) const;
  XY to_xy(const TableSchema& fitted, DType dtype = DType::f64) const;
  // Features from `features` (all but the target when empty) and the target, as to_xy(target) gives them.
  std::pair<Tensor, Tensor> to_xy(const std::vector<std::string>& features, const std::string& target) const;
  // A string column as codes into its sorted distinct values. Each table gets its own codes, so to code a
  // test table like the training one pass the training categories (or use fit_schema / to_xy). Throws
  // kiln::Error for a numeric column.
  Categorical categorical(const std::string& name) const;
  Categorical categorical(const std::string& name, const std::vector<std::string>& categories) const;

 private:
  int64_t find(const std::string& name) const;
  std::vector<Column> columns_;
};

}  // namespace kiln::data
