// kiln/classic/table_input.h: the way from a data::Table into classic/: ColumnSelector picks a
// ColumnTransformer's columns by name or by kind (scikit-learn's make_column_selector), resolved against the
// TableSchema of the training table, and TableSchemaUser is any estimator that needs that schema (a
// ColumnTransformer, a Pipeline holding one). Depends on classic/estimator.h and data/table_schema.h.
//
//   auto [X, y, schema] = train.to_xy("churn");        // f64, text as codes, NaN where missing
//   classic::ColumnTransformer ct;
//   ct.add("num", numeric_pipeline, classic::numeric_columns())
//     .add("cat", classic::OneHotEncoder({.handle_unknown = "ignore"}), classic::columns({"city", "plan"}));
//   pipe.set_schema(schema);                            // or pipe.fit(train, "churn"), which does it
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/data/table_schema.h"

namespace kiln::classic {

struct ColumnSelector {
  enum class Kind { names, numeric, categorical };
  // Explicit, with no default: `{}` keeps meaning an (empty) index list in ColumnTransformer::add.
  explicit ColumnSelector(Kind k, std::vector<std::string> n = {}) : kind(k), names(std::move(n)) {}
  Kind kind;
  std::vector<std::string> names;  // Kind::names: the columns, in this order

  // The positions of the selected features in X. Throws kiln::Error naming `who` and the column for a
  // name the schema lacks, and for a kind that selects nothing.
  std::vector<int64_t> resolve(const data::TableSchema& schema, const std::string& who) const;
  std::string describe() const;  // "columns ['age', 'city']", "numeric columns", "categorical columns"
};
inline ColumnSelector columns(std::vector<std::string> names) {
  return ColumnSelector(ColumnSelector::Kind::names, std::move(names));
}
inline ColumnSelector numeric_columns() { return ColumnSelector(ColumnSelector::Kind::numeric); }
inline ColumnSelector categorical_columns() { return ColumnSelector(ColumnSelector::Kind::categorical); }

class TableSchemaUser {
 public:
  virtual ~TableSchemaUser() = default;
  // The schema of the table whose features the estimator will be given (Table::fit_schema / to_xy).
  virtual void set_schema(const data::TableSchema& schema) = 0;
};

// Gives `estimator` the schema when it uses one; other estimators ignore it.
void give_schema(Estimator& estimator, const data::TableSchema& schema);

}  // namespace kiln::classic
