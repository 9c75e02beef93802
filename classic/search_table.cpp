// classic/search_table.cpp: the searches' data::Table forms (search.h).
#include "kiln/classic/search.h"

namespace kiln::classic {

void BaseSearchCV::set_schema(const data::TableSchema& schema) {
  schema_ = schema;
  give_schema(*estimator_, schema);
}

BaseSearchCV& BaseSearchCV::fit(const data::Table& table, const std::string& target) {
  KILN_CHECK(!target.empty(), name(), ".fit: name the target column of the table");
  set_schema(table.fit_schema(target));
  return fit(table.features(*schema_), table.target(*schema_));
}

Tensor BaseSearchCV::predict(const data::Table& table) const {
  KILN_CHECK(schema_.has_value(), name(), ".predict: a table needs fit(table, target) first");
  return predict(table.features(*schema_));
}

Tensor BaseSearchCV::predict_proba(const data::Table& table) const {
  KILN_CHECK(schema_.has_value(), name(), ".predict_proba: a table needs fit(table, target) first");
  return predict_proba(table.features(*schema_));
}

}  // namespace kiln::classic
