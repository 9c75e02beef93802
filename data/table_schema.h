// kiln/data/table_schema.h: TableSchema, what a training table fixes for every table converted after it:
// the feature columns in X's order, which of them are categorical (string columns, exported as codes) and
// their categories, and the target's classes. Codes come from the training rows' categories, so "Paris"
// has the same code in the training and in the test table, and a category the training rows never had is
// coded as unknown (-1) instead of silently reusing another's code. Depends on nothing but the standard
// library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

struct TableSchema {
  std::vector<std::string> names;                    // feature columns, in the order of X's columns
  std::vector<uint8_t> categorical;                  // per feature: 1 for a string column (exported as codes)
  std::vector<std::vector<std::string>> categories;  // per feature: sorted training categories, or empty
  std::string target;                                // the target column ("" when there is none)
  std::vector<std::string> classes;  // a string target's sorted classes (its codes); else empty

  int64_t num_features() const { return static_cast<int64_t>(names.size()); }
  // The position of feature `name` in X; throws kiln::Error listing the features when it is not one.
  int64_t index(const std::string& name) const;
  // Positions of the numeric / categorical features, ascending.
  std::vector<int64_t> numeric_columns() const;
  std::vector<int64_t> categorical_columns() const;
};

}  // namespace kiln::data
