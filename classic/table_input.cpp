// classic/table_input.cpp: ColumnSelector and give_schema (table_input.h).
#include "kiln/classic/table_input.h"

#include "kiln/tensor/error.h"

namespace kiln::classic {

std::vector<int64_t> ColumnSelector::resolve(const data::TableSchema& schema, const std::string& who) const {
  std::vector<int64_t> out;
  if (kind == Kind::names)
    for (const std::string& n : names) out.push_back(schema.index(n));
  if (kind == Kind::numeric) out = schema.numeric_columns();
  if (kind == Kind::categorical) out = schema.categorical_columns();
  KILN_CHECK(!out.empty(), who, ": ", describe(), " selects no column of the table");
  return out;
}

std::string ColumnSelector::describe() const {
  if (kind == Kind::numeric) return "numeric columns";
  if (kind == Kind::categorical) return "categorical columns";
  std::string out = "columns [";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", '" : "'") + names[i] + "'";
  return out + "]";
}

void give_schema(Estimator& estimator, const data::TableSchema& schema) {
  if (auto* user = dynamic_cast<TableSchemaUser*>(&estimator)) user->set_schema(schema);
}

}  // namespace kiln::classic
