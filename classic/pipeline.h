// kiln/classic/pipeline.h: Pipeline, a chain of named steps fitted as one estimator, so that every
// statistic is learned from the rows given to fit() only (no leakage from held-out rows, e.g. in
// cross-validation). Depends on classic/estimator.h.
//
// Steps before the last are Transformers (fit_transform on the training rows, transform at predict time)
// or Resamplers (fit_resample on the training rows; skipped at predict/transform time, as
// imbalanced-learn's Pipeline). The last step is a Predictor (then predict / predict_proba / score work)
// or a Transformer (then transform works, e.g. a chain inside a ColumnTransformer).
// Parameters are exposed as "<step>__<param>" (scikit-learn's names), so grid search can tune any step.
//
//   classic::Pipeline pipe;
//   pipe.add("scale", classic::StandardScaler()).add("smote", classic::SMOTE({.random_state = 0}))
//       .add("clf", classic::LogisticRegression());
//   pipe.fit(X_train, y_train);
// From a data::Table: pipe.fit(train, "target") fits a schema on the training table (features, kinds,
// categories, the target's classes), gives it to the steps that select columns by name, and converts the
// table; predict(test) / predict_proba(test) / score(test) convert the test table with that schema.
#pragma once

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

class Pipeline : public Classifier, public Transformer, public WrappingEstimator, public TableSchemaUser {
 public:
  using Step = std::pair<std::string, std::unique_ptr<Estimator>>;

  Pipeline() = default;
  // Names must be non-empty, unique, and free of "__".
  explicit Pipeline(std::vector<Step> steps);
  Pipeline(const Pipeline& other);  // copies the steps unfitted (clone)
  Pipeline& operator=(const Pipeline& other);
  Pipeline(Pipeline&&) = default;
  Pipeline& operator=(Pipeline&&) = default;

  // Appends a step (taking ownership); returns *this for chaining.
  Pipeline& add(std::string name, std::unique_ptr<Estimator> step);
  template <class T, class = std::enable_if_t<std::is_base_of_v<Estimator, std::decay_t<T>>>>
  Pipeline& add(std::string name, T&& step) {
    return add(std::move(name), std::unique_ptr<Estimator>(new std::decay_t<T>(std::forward<T>(step))));
  }

  std::string name() const override { return "Pipeline"; }
  ParamMap get_params() const override;
  void set_params(const ParamMap& params) override;
  std::unique_ptr<Estimator> clone() const override;
  bool is_fitted() const override { return fitted_; }
  const Estimator* wrapped_estimator() const override {
    return steps_.empty() ? nullptr : steps_.back().second.get();
  }

  // Fits the steps in order on the given rows. sample_weight goes to the final Predictor; it cannot be
  // combined with a Resampler step (the rows change).
  Pipeline& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) override;
  Pipeline& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor predict(const Tensor& X) const override;
  Tensor predict_proba(const Tensor& X) const override;
  Tensor classes() const override;
  double score(const Tensor& X, const Tensor& y) const override;
  // All steps must be Transformers (Resamplers are skipped).
  Tensor transform(const Tensor& X) const override;

  // The table forms (pipeline_table.cpp). A string target's labels are codes into schema().classes.
  Pipeline& fit(const data::Table& table, const std::string& target);
  Tensor predict(const data::Table& table) const;
  Tensor predict_proba(const data::Table& table) const;
  double score(const data::Table& table) const;  // the table holds the target column
  // Remembers the schema and passes it to every step that selects columns by name.
  void set_schema(const data::TableSchema& schema) override;
  const data::TableSchema& schema() const;

  size_t size() const { return steps_.size(); }
  const std::vector<Step>& steps() const { return steps_; }
  // The step with this name (throws naming the known steps if there is none).
  Estimator& named_step(const std::string& name) const;
  template <class T>
  T& get(const std::string& name) const {
    auto* p = dynamic_cast<T*>(&named_step(name));
    KILN_CHECK(p != nullptr, "Pipeline.get: step '", name, "' is a ", named_step(name).name(),
               ", not the requested type");
    return *p;
  }

 private:
  // X after every step but the last (Transformers applied, Resamplers skipped).
  Tensor transform_head(const Tensor& X, const std::string& method) const;
  Estimator& final_step(const std::string& method) const;
  std::vector<Step> steps_;
  bool fitted_ = false;
  std::optional<data::TableSchema> schema_;
};

// scikit-learn's is_classifier / is_regressor: a WrappingEstimator (a Pipeline, a search) is what the
// estimator it wraps is. Use these rather than dynamic_cast<Classifier*>, which is true for every wrapper.
bool is_classifier(const Estimator& estimator);
bool is_regressor(const Estimator& estimator);

}  // namespace kiln::classic
