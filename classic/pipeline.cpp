// Pipeline (see pipeline.h). Depends on classic/estimator.h and preprocessing_util.
#include "kiln/classic/pipeline.h"
#include "kiln/classic/validation.h"

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic {

namespace {
std::string step_names(const std::vector<Pipeline::Step>& steps) {
  std::string s;
  for (const auto& [n, _] : steps) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "(none)" : s;
}
}  // namespace

Pipeline::Pipeline(std::vector<Step> steps) {
  for (auto& [n, e] : steps) add(n, std::move(e));
}

Pipeline::Pipeline(const Pipeline& other) : schema_(other.schema_) {
  for (const auto& [n, e] : other.steps_) steps_.emplace_back(n, e->clone());
}

Pipeline& Pipeline::operator=(const Pipeline& other) {
  if (this != &other) {
    steps_.clear();
    for (const auto& [n, e] : other.steps_) steps_.emplace_back(n, e->clone());
    schema_ = other.schema_;
    fitted_ = false;
  }
  return *this;
}

Pipeline& Pipeline::add(std::string name, std::unique_ptr<Estimator> step) {
  KILN_CHECK(step != nullptr, "Pipeline.add: step '", name, "' is null");
  KILN_CHECK(!name.empty(), "Pipeline.add: a step name is empty");
  KILN_CHECK(name.find("__") == std::string::npos, "Pipeline.add: step name '", name,
             "' contains '__', which separates step and parameter names");
  for (const auto& [n, _] : steps_) KILN_CHECK(n != name, "Pipeline.add: duplicate step name '", name, "'");
  steps_.emplace_back(std::move(name), std::move(step));
  fitted_ = false;
  return *this;
}

ParamMap Pipeline::get_params() const {
  ParamMap out;
  for (const auto& [n, e] : steps_)
    for (const auto& [k, v] : e->get_params()) out[n + "__" + k] = v;
  return out;
}

void Pipeline::set_params(const ParamMap& params) {
  for (const auto& [k, v] : params) {
    size_t sep = k.find("__");
    KILN_CHECK(sep != std::string::npos, "Pipeline.set_params: unknown parameter '", k,
               "'; parameters are named '<step>__<param>' with steps ", step_names(steps_));
    named_step(k.substr(0, sep)).set_params({{k.substr(sep + 2), v}});
  }
  fitted_ = false;
}

std::unique_ptr<Estimator> Pipeline::clone() const { return std::make_unique<Pipeline>(*this); }

Estimator& Pipeline::named_step(const std::string& name) const {
  for (const auto& [n, e] : steps_)
    if (n == name) return *e;
  KILN_CHECK(false, "Pipeline: no step named '", name, "'; steps are ", step_names(steps_));
  throw Error("unreachable");
}

Estimator& Pipeline::final_step(const std::string& method) const {
  KILN_CHECK(!steps_.empty(), "Pipeline.", method, ": the pipeline has no steps");
  return *steps_.back().second;
}

Pipeline& Pipeline::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  fitted_ = false;
  Estimator& last = final_step("fit");
  Tensor Xt = X, yt = y;
  for (size_t i = 0; i + 1 < steps_.size(); ++i) {
    const auto& [n, e] = steps_[i];
    if (auto* t = dynamic_cast<Transformer*>(e.get())) {
      Xt = t->fit_transform(Xt, yt);
    } else if (auto* r = dynamic_cast<Resampler*>(e.get())) {
      KILN_CHECK(!sample_weight.defined(),
                 "Pipeline.fit: sample_weight cannot be combined with the resampler step '", n, "' (",
                 e->name(), "), which changes the rows");
      KILN_CHECK(yt.defined(), "Pipeline.fit: the resampler step '", n, "' (", e->name(), ") needs y");
      std::tie(Xt, yt) = r->fit_resample(Xt, yt);
    } else {
      KILN_CHECK(false, "Pipeline.fit: step '", n, "' (", e->name(),
                 ") is neither a Transformer nor a Resampler; only the last step may be a Predictor");
    }
  }
  if (auto* p = dynamic_cast<Predictor*>(&last)) {
    KILN_CHECK(yt.defined(), "Pipeline.fit: the final step '", steps_.back().first, "' (", last.name(),
               ") is a Predictor and needs y");
    p->fit(Xt, yt, sample_weight);
  } else if (auto* t = dynamic_cast<Transformer*>(&last)) {
    t->fit(Xt, yt);
  } else {
    KILN_CHECK(false, "Pipeline.fit: the final step '", steps_.back().first, "' (", last.name(),
               ") must be a Predictor or a Transformer");
  }
  fitted_ = true;
  return *this;
}

Pipeline& Pipeline::fit(const Tensor& X, const Tensor& y) { return fit(X, y, Tensor()); }

Tensor Pipeline::transform_head(const Tensor& X, const std::string& method) const {
  validation::check_fitted(fitted_, name() + "." + method);
  Tensor Xt = X;
  for (size_t i = 0; i + 1 < steps_.size(); ++i)
    if (auto* t = dynamic_cast<Transformer*>(steps_[i].second.get())) Xt = t->transform(Xt);
  return Xt;
}

namespace {
template <class T>
T& final_as(Estimator& last, const std::string& step, const std::string& method, const char* kind) {
  auto* p = dynamic_cast<T*>(&last);
  KILN_CHECK(p != nullptr, "Pipeline.", method, ": the final step '", step, "' (", last.name(), ") is not a ",
             kind);
  return *p;
}
}  // namespace

Tensor Pipeline::predict(const Tensor& X) const {
  Tensor Xt = transform_head(X, "predict");
  return final_as<Predictor>(final_step("predict"), steps_.back().first, "predict", "Predictor").predict(Xt);
}

Tensor Pipeline::predict_proba(const Tensor& X) const {
  Tensor Xt = transform_head(X, "predict_proba");
  return final_as<Classifier>(final_step("predict_proba"), steps_.back().first, "predict_proba", "Classifier")
      .predict_proba(Xt);
}

Tensor Pipeline::classes() const {
  validation::check_fitted(fitted_, name() + ".classes");
  return final_as<Classifier>(final_step("classes"), steps_.back().first, "classes", "Classifier").classes();
}

double Pipeline::score(const Tensor& X, const Tensor& y) const {
  Tensor Xt = transform_head(X, "score");
  return final_as<Predictor>(final_step("score"), steps_.back().first, "score", "Predictor").score(Xt, y);
}

Tensor Pipeline::transform(const Tensor& X) const {
  Tensor Xt = transform_head(X, "transform");
  return final_as<Transformer>(final_step("transform"), steps_.back().first, "transform", "Transformer")
      .transform(Xt);
}

bool is_classifier(const Estimator& estimator) {
  if (const auto* w = dynamic_cast<const WrappingEstimator*>(&estimator))
    return w->wrapped_estimator() != nullptr && is_classifier(*w->wrapped_estimator());
  return dynamic_cast<const Classifier*>(&estimator) != nullptr;
}

bool is_regressor(const Estimator& estimator) {
  if (const auto* w = dynamic_cast<const WrappingEstimator*>(&estimator))
    return w->wrapped_estimator() != nullptr && is_regressor(*w->wrapped_estimator());
  return dynamic_cast<const Regressor*>(&estimator) != nullptr;
}

}  // namespace kiln::classic
