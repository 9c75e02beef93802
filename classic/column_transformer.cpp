// ColumnTransformer (see column_transformer.h). Depends on preprocessing_util.
#include "kiln/classic/column_transformer.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <functional>

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic {

using prep_detail::Matrix;

namespace {
Matrix select_columns(const Matrix& m, const std::vector<int64_t>& cols) {
  Matrix out(m.rows, static_cast<int64_t>(cols.size()));
  for (int64_t r = 0; r < m.rows; ++r)
    for (size_t j = 0; j < cols.size(); ++j) out.at(r, static_cast<int64_t>(j)) = m.at(r, cols[j]);
  return out;
}
}  // namespace

ColumnTransformer::ColumnTransformer(const ColumnTransformer& other)
    : params_(other.params_), schema_(other.schema_) {
  for (const auto& e : other.entries_)
    entries_.push_back(
        {e.name, std::unique_ptr<Transformer>(dynamic_cast<Transformer*>(e.transformer->clone().release())),
         e.columns, e.selector});
}

ColumnTransformer& ColumnTransformer::operator=(const ColumnTransformer& other) {
  if (this != &other) *this = ColumnTransformer(other);
  return *this;
}

ColumnTransformer& ColumnTransformer::add(std::string name, std::unique_ptr<Transformer> transformer,
                                          std::vector<int64_t> columns) {
  KILN_CHECK(transformer != nullptr, "ColumnTransformer.add: transformer '", name, "' is null");
  KILN_CHECK(!name.empty() && name != "remainder", "ColumnTransformer.add: invalid transformer name '", name,
             "'");
  KILN_CHECK(name.find("__") == std::string::npos, "ColumnTransformer.add: name '", name, "' contains '__'");
  for (const auto& e : entries_)
    KILN_CHECK(e.name != name, "ColumnTransformer.add: duplicate name '", name, "'");
  KILN_CHECK(!columns.empty(), "ColumnTransformer.add: transformer '", name, "' has no columns");
  for (int64_t c : columns)
    KILN_CHECK(c >= 0, "ColumnTransformer.add: transformer '", name, "' has column ", c);
  entries_.push_back({std::move(name), std::move(transformer), std::move(columns)});
  fitted_ = false;
  return *this;
}

ColumnTransformer& ColumnTransformer::add(std::string name, std::unique_ptr<Transformer> transformer,
                                          ColumnSelector selector) {
  add(std::move(name), std::move(transformer), std::vector<int64_t>{0});  // the checks; columns come at fit
  entries_.back().selector = std::move(selector);
  return *this;
}

void ColumnTransformer::set_schema(const data::TableSchema& schema) {
  schema_ = schema;
  fitted_ = false;
}

ColumnTransformer& ColumnTransformer::fit(const data::Table& X) {
  fit_transform(X);
  return *this;
}

Tensor ColumnTransformer::fit_transform(const data::Table& X) {
  set_schema(X.fit_schema(""));
  return fit_transform(X.features(*schema_));
}

Tensor ColumnTransformer::transform(const data::Table& X) const {
  validation::check_fitted(fitted_ && schema_.has_value(), name() + ".transform");
  return transform(X.features(*schema_));
}

ParamMap ColumnTransformer::get_params() const {
  ParamMap out{{"remainder", params_.remainder}};
  for (const auto& e : entries_)
    for (const auto& [k, v] : e.transformer->get_params()) out[e.name + "__" + k] = v;
  return out;
}

void ColumnTransformer::set_params(const ParamMap& params) {
  for (const auto& [k, v] : params) {
    if (k == "remainder") {
      param::assign(name(), k, v, params_.remainder);
      continue;
    }
    size_t sep = k.find("__");
    if (sep == std::string::npos) param::unknown(name(), k, get_params());
    named_transformer(k.substr(0, sep)).set_params({{k.substr(sep + 2), v}});
  }
  fitted_ = false;
}

Transformer& ColumnTransformer::named_transformer(const std::string& name) const {
  std::string names;
  for (const auto& e : entries_) {
    if (e.name == name) return *e.transformer;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  KILN_CHECK(false, "ColumnTransformer: no transformer named '", name, "'; transformers are ", names);
  throw Error("unreachable");
}

void ColumnTransformer::prepare_fit(const Matrix& m, const Tensor& X) {
  const std::string who = "ColumnTransformer.fit";
  KILN_CHECK(params_.remainder == "drop" || params_.remainder == "passthrough", who,
             ": remainder must be 'drop' or 'passthrough', got '", params_.remainder, "'");
  KILN_CHECK(!entries_.empty() || params_.remainder == "passthrough", who, ": no transformers were added");
  n_features_in_ = m.cols;
  std::vector<bool> used(static_cast<size_t>(m.cols), false);
  for (auto& e : entries_) {
    if (!e.selector) continue;
    KILN_CHECK(schema_.has_value(), who, ": transformer '", e.name, "' selects ", e.selector->describe(),
               ", which needs the table's schema: fit on a data::Table, or call set_schema(schema) with the "
               "schema of Table::to_xy");
    KILN_CHECK(schema_->num_features() == m.cols, who, ": X has ", m.cols, " columns but the schema has ",
               schema_->num_features(), " features");
    e.columns = e.selector->resolve(*schema_, who + " (transformer '" + e.name + "')");
  }
  for (const auto& e : entries_)
    for (int64_t c : e.columns) {
      KILN_CHECK(c < m.cols, who, ": transformer '", e.name, "' names column ", c, " but X has ", m.cols,
                 " columns (shape ", shape_str(X.shape()), ")");
      used[c] = true;
    }
  remainder_.clear();
  if (params_.remainder == "passthrough")
    for (int64_t c = 0; c < m.cols; ++c)
      if (!used[c]) remainder_.push_back(c);
}

Tensor ColumnTransformer::assemble(const Matrix& m, const std::string& who,
                                   const std::function<Tensor(Transformer&, const Tensor&)>& apply,
                                   std::vector<int64_t>* widths) const {
  std::vector<Matrix> blocks;
  for (const auto& e : entries_) {
    Tensor out = apply(*e.transformer, prep_detail::from_matrix(select_columns(m, e.columns)));
    blocks.push_back(
        prep_detail::to_matrix(out, who + " (output of '" + e.name + "')", validation::Missing::allow_nan));
    KILN_CHECK(blocks.back().rows == m.rows, who, ": transformer '", e.name, "' returned ",
               blocks.back().rows, " rows for ", m.rows);
    if (widths) widths->push_back(blocks.back().cols);
  }
  blocks.push_back(select_columns(m, remainder_));
  int64_t width = 0;
  for (const auto& b : blocks) width += b.cols;
  Matrix out(m.rows, width);
  int64_t off = 0;
  for (const auto& b : blocks) {
    for (int64_t r = 0; r < m.rows; ++r)
      std::copy_n(b.v.begin() + r * b.cols, b.cols, out.v.begin() + r * width + off);
    off += b.cols;
  }
  return prep_detail::from_matrix(out);
}

ColumnTransformer& ColumnTransformer::fit(const Tensor& X, const Tensor& y) {
  fit_transform(X, y);
  return *this;
}

Tensor ColumnTransformer::fit_transform(const Tensor& X, const Tensor& y) {
  fitted_ = false;
  Matrix m = prep_detail::to_matrix(X, "ColumnTransformer.fit", validation::Missing::allow_nan);
  prepare_fit(m, X);
  std::vector<int64_t> widths;
  Tensor out = assemble(
      m, "ColumnTransformer.fit", [&](Transformer& t, const Tensor& sub) { return t.fit_transform(sub, y); },
      &widths);
  widths_ = std::move(widths);
  fitted_ = true;
  return out;
}

Tensor ColumnTransformer::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "ColumnTransformer.transform", validation::Missing::allow_nan);
  KILN_CHECK(m.cols == n_features_in_, "ColumnTransformer.transform: X has ", m.cols,
             " columns, but the transformer was fitted on ", n_features_in_);
  return assemble(
      m, "ColumnTransformer.transform", [](Transformer& t, const Tensor& sub) { return t.transform(sub); },
      nullptr);
}

std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> ColumnTransformer::output_indices_() const {
  validation::check_fitted(fitted_, name() + ".output_indices_");
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> out;
  int64_t off = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    out.push_back({entries_[i].name, {off, off + widths_[i]}});
    off += widths_[i];
  }
  if (!remainder_.empty()) out.push_back({"remainder", {off, off + static_cast<int64_t>(remainder_.size())}});
  return out;
}

}  // namespace kiln::classic
