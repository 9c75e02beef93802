// data/table_schema.cpp: TableSchema's look-ups (see table_schema.h).
#include "kiln/data/table_schema.h"

#include "kiln/tensor/error.h"

namespace kiln::data {
namespace {

std::vector<int64_t> columns_where(const std::vector<uint8_t>& categorical, uint8_t want) {
  std::vector<int64_t> out;
  for (size_t j = 0; j < categorical.size(); ++j)
    if (categorical[j] == want) out.push_back(static_cast<int64_t>(j));
  return out;
}

}  // namespace

int64_t TableSchema::index(const std::string& name) const {
  for (size_t j = 0; j < names.size(); ++j)
    if (names[j] == name) return static_cast<int64_t>(j);
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "'" : ", '") + n + "'";
  KILN_CHECK(false, "TableSchema: no feature column named '", name, "'",
             name == target ? " (it is the target)" : "", "; the features are [", known, "]");
  return -1;
}

std::vector<int64_t> TableSchema::numeric_columns() const { return columns_where(categorical, 0); }
std::vector<int64_t> TableSchema::categorical_columns() const { return columns_where(categorical, 1); }

}  // namespace kiln::data
