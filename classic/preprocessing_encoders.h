// kiln/classic/preprocessing_encoders.h: LabelEncoder, OneHotEncoder, OrdinalEncoder with scikit-learn's
// semantics (1.2). Categorical feature columns hold numeric codes (integer values in an f64 tensor, NaN for
// missing: the form data::Table exports); each column's categories are its sorted distinct values, NaN
// last (a category of its own, as in scikit-learn). Depends on classic/estimator.h.
//
// Shapes: X is (N, D); OneHotEncoder gives (N, sum of K_j) f64 (columns grouped by feature, categories in
// order), OrdinalEncoder (N, D) f64 codes 0..K_j-1. LabelEncoder maps a 1-D label tensor (N) to i64 codes.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

// Labels (any integers, or strings) to 0..K-1 in sorted order. X is the 1-D label tensor; y is ignored.
class LabelEncoder : public Transformer {
 public:
  struct Params {
    template <class Visit>
    void fields(Visit&&) {}
  };
  LabelEncoder() = default;
  explicit LabelEncoder(Params) {}

  std::string name() const override { return "LabelEncoder"; }
  ParamMap get_params() const override { return params::to_map(Params{}); }
  void set_params(const ParamMap& params) override {
    Params none;
    params::assign(none, params, name());
  }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<LabelEncoder>(); }
  bool is_fitted() const override { return fitted_; }

  LabelEncoder& fit(const Tensor& y, const Tensor& unused = {}) override;
  Tensor transform(const Tensor& y) const override;  // (N) i64; an unseen label throws
  Tensor inverse_transform(const Tensor& codes) const;
  Tensor classes_() const;  // (K) i64, sorted

  // String labels: classes sorted as std::string compares (byte order, like numpy for ASCII).
  LabelEncoder& fit(const std::vector<std::string>& y);
  Tensor transform(const std::vector<std::string>& y) const;
  std::vector<std::string> inverse_transform_strings(const Tensor& codes) const;
  const std::vector<std::string>& string_classes_() const;

 private:
  bool fitted_ = false;
  bool strings_ = false;
  std::vector<int64_t> classes_v_;
  std::vector<std::string> string_classes_v_;
};

class OneHotEncoder : public Transformer {
 public:
  struct Params {
    std::string handle_unknown = "error";  // "error" or "ignore" (an unknown value gives all zeros)
    std::string drop = "none";             // "none", "first", or "if_binary" (drop the first of two)
    template <class Visit>
    void fields(Visit&& visit) {
      visit("handle_unknown", handle_unknown);
      visit("drop", drop);
    }
  };
  OneHotEncoder() : OneHotEncoder(Params{}) {}
  explicit OneHotEncoder(Params params) : params_(std::move(params)) {}

  std::string name() const override { return "OneHotEncoder"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<OneHotEncoder>(params_); }
  bool is_fitted() const override { return fitted_; }

  OneHotEncoder& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor inverse_transform(const Tensor& X) const;

  const Params& params() const { return params_; }
  // categories_()[j]: the sorted categories of feature j (NaN last).
  const std::vector<std::vector<double>>& categories_() const;
  // Output names "<input>_<category>" (inputs default to x0, x1, ...), as get_feature_names_out.
  std::vector<std::string> get_feature_names_out(const std::vector<std::string>& input_features = {}) const;

 private:
  int64_t dropped(size_t j) const;  // index of the dropped category of feature j, or -1
  Params params_;
  bool fitted_ = false;
  std::vector<std::vector<double>> categories_v_;
};

class OrdinalEncoder : public Transformer {
 public:
  struct Params {
    std::string handle_unknown = "error";  // "error" or "use_encoded_value" (then unknown_value is used)
    double unknown_value = std::numeric_limits<double>::quiet_NaN();
    // Code for NaN inputs in features that had NaN in fit; NaN (the default) keeps them missing. A NaN in a
    // feature without NaN in fit is an unknown category, as scikit-learn.
    double encoded_missing_value = std::numeric_limits<double>::quiet_NaN();
    template <class Visit>
    void fields(Visit&& visit) {
      visit("handle_unknown", handle_unknown);
      visit("unknown_value", unknown_value);
      visit("encoded_missing_value", encoded_missing_value);
    }
  };
  OrdinalEncoder() : OrdinalEncoder(Params{}) {}
  explicit OrdinalEncoder(Params params) : params_(params) {}

  std::string name() const override { return "OrdinalEncoder"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<OrdinalEncoder>(params_); }
  bool is_fitted() const override { return fitted_; }

  OrdinalEncoder& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor inverse_transform(const Tensor& X) const;

  const Params& params() const { return params_; }
  // Sorted non-missing categories of each feature (NaN is not coded as a category here).
  const std::vector<std::vector<double>>& categories_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::vector<std::vector<double>> categories_v_;
  std::vector<bool> nan_seen_;  // NaN in fit makes it the missing category; otherwise it is unknown
};

}  // namespace kiln::classic
