// classic/pipeline_table.cpp: Pipeline's data::Table forms (pipeline.h): the training table fixes the
// schema, every later table is converted with it.
#include "kiln/classic/pipeline.h"

namespace kiln::classic {

void Pipeline::set_schema(const data::TableSchema& schema) {
  schema_ = schema;
  for (auto& [_, step] : steps_) give_schema(*step, schema);
  fitted_ = false;
}

const data::TableSchema& Pipeline::schema() const {
  KILN_CHECK(schema_.has_value(), "Pipeline.schema: no schema; fit(table, target) or set_schema first");
  return *schema_;
}

Pipeline& Pipeline::fit(const data::Table& table, const std::string& target) {
  KILN_CHECK(!target.empty(), "Pipeline.fit: name the target column of the table");
  set_schema(table.fit_schema(target));
  return fit(table.features(*schema_), table.target(*schema_));
}

Tensor Pipeline::predict(const data::Table& table) const { return predict(table.features(schema())); }

Tensor Pipeline::predict_proba(const data::Table& table) const {
  return predict_proba(table.features(schema()));
}

double Pipeline::score(const data::Table& table) const {
  return score(table.features(schema()), table.target(schema()));
}

}  // namespace kiln::classic
