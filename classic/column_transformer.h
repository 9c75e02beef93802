// kiln/classic/column_transformer.h: ColumnTransformer, which applies a transformer to each listed group
// of columns and concatenates the results, for mixed numeric / categorical tables (data::Table exports
// categorical columns as integer codes in an f64 tensor, NaN for missing). Each transformer is fitted on
// the rows given to fit() only. Depends on classic/estimator.h.
//
// Shapes: X is (N, D). The output is (N, sum of the transformers' widths [+ remainder width]) f64: each
// transformer's columns in the order added, then, with remainder "passthrough", the columns no transformer
// named, in ascending order (scikit-learn's layout).
//
//   classic::ColumnTransformer ct({.remainder = "drop"});
//   ct.add("num", classic::StandardScaler(), {0, 1, 4})
//     .add("cat", classic::OneHotEncoder({.handle_unknown = "ignore"}), {2, 3});
// Columns by name or kind (table_input.h) need the training table's schema: fit(table) takes it from the
// table, set_schema gives it for tensor input (what a search over a Pipeline holding this passes on).
//   ct.add("num", classic::StandardScaler(), classic::numeric_columns())
//     .add("cat", classic::OneHotEncoder({.handle_unknown = "ignore"}), classic::columns({"city"}));
//   Tensor Xt = ct.fit_transform(train_table);  ...  ct.transform(test_table);
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/table_input.h"
#include "kiln/data/table.h"

namespace kiln::classic {

namespace prep_detail {
struct Matrix;
}

class ColumnTransformer : public Transformer, public TableSchemaUser {
 public:
  struct Params {
    std::string remainder = "drop";  // "drop" or "passthrough"
  };
  ColumnTransformer() : ColumnTransformer(Params{}) {}
  explicit ColumnTransformer(Params params) : params_(std::move(params)) {}
  ColumnTransformer(const ColumnTransformer& other);  // copies the transformers unfitted (clone)
  ColumnTransformer& operator=(const ColumnTransformer& other);
  ColumnTransformer(ColumnTransformer&&) = default;
  ColumnTransformer& operator=(ColumnTransformer&&) = default;

  // Appends a transformer for `columns` (indices into X's columns, each in [0, D)). A Pipeline whose
  // steps are all Transformers also qualifies. Names follow Pipeline's rules.
  ColumnTransformer& add(std::string name, std::unique_ptr<Transformer> transformer,
                         std::vector<int64_t> columns);
  template <class T, class = std::enable_if_t<std::is_base_of_v<Transformer, std::decay_t<T>>>>
  ColumnTransformer& add(std::string name, T&& transformer, std::vector<int64_t> columns) {
    return add(std::move(name),
               std::unique_ptr<Transformer>(new std::decay_t<T>(std::forward<T>(transformer))),
               std::move(columns));
  }

  // Appends a transformer for the columns `selector` picks in the schema (resolved at fit time).
  ColumnTransformer& add(std::string name, std::unique_ptr<Transformer> transformer, ColumnSelector selector);
  template <class T, class = std::enable_if_t<std::is_base_of_v<Transformer, std::decay_t<T>>>>
  ColumnTransformer& add(std::string name, T&& transformer, ColumnSelector selector) {
    return add(std::move(name),
               std::unique_ptr<Transformer>(new std::decay_t<T>(std::forward<T>(transformer))),
               std::move(selector));
  }
  void set_schema(const data::TableSchema& schema) override;
  // A table's columns (every column is a feature; drop the target first) converted with the schema fitted
  // on the training table (text as codes of its categories, NaN where missing).
  ColumnTransformer& fit(const data::Table& X);
  Tensor fit_transform(const data::Table& X);
  Tensor transform(const data::Table& X) const;

  std::string name() const override { return "ColumnTransformer"; }
  // "remainder" and "<transformer>__<param>".
  ParamMap get_params() const override;
  void set_params(const ParamMap& params) override;
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<ColumnTransformer>(*this); }
  bool is_fitted() const override { return fitted_; }

  ColumnTransformer& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor fit_transform(const Tensor& X, const Tensor& y = {}) override;

  // The transformer with this name (throws naming the known ones if there is none).
  Transformer& named_transformer(const std::string& name) const;
  // [start, end) of each transformer's block in the output, by name ("remainder" last when passed through).
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> output_indices_() const;

 private:
  struct Entry {
    std::string name;
    std::unique_ptr<Transformer> transformer;
    std::vector<int64_t> columns;
    std::optional<ColumnSelector> selector;  // resolves `columns` against schema_ at fit time
  };
  // Validates the column lists against X (m) and computes the remainder columns.
  void prepare_fit(const prep_detail::Matrix& m, const Tensor& X);
  // Applies `apply` to each transformer's columns and concatenates the blocks and the remainder.
  Tensor assemble(const prep_detail::Matrix& m, const std::string& who,
                  const std::function<Tensor(Transformer&, const Tensor&)>& apply,
                  std::vector<int64_t>* widths) const;
  Params params_;
  std::vector<Entry> entries_;
  bool fitted_ = false;
  int64_t n_features_in_ = 0;
  std::vector<int64_t> remainder_;
  std::vector<int64_t> widths_;
  std::optional<data::TableSchema> schema_;
};

}  // namespace kiln::classic
