// kiln/classic/estimator.h: the contracts every scikit-learn-style object in classic/ follows, so that
// Pipeline, cross-validation and grid search can drive any of them. Depends on tensor/ only.
//
// Conventions (scikit-learn's semantics; docs/ARCHITECTURE.md, "How to add"):
//  - X is a row-major (N, D) tensor (f32 or f64; estimators compute in f64); y is (N) — i64 class labels
//    for classifiers, floating for regressors.
//  - Each estimator has a nested `Params` struct (designated initializers) given to its constructor. The
//    struct lists its fields once in `fields()` (params.h); get_params() / set_params() / clone() and the
//    range checks fit() runs are generated from that list.
//  - fit() returns *this (covariant in each class); predict / predict_proba / transform / score are const
//    and throw kiln::Error naming the class when called before fit().
//  - Randomness comes only from `random_state`; threads from `n_jobs` (0 = kiln::get_num_threads()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "kiln/classic/params.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::classic {

class Estimator {
 public:
  virtual ~Estimator() = default;
  // A short class name for messages and reports ("StandardScaler").
  virtual std::string name() const = 0;
  virtual ParamMap get_params() const = 0;
  // Throws kiln::Error naming the estimator and the parameter for an unknown name or a wrong type.
  virtual void set_params(const ParamMap& params) = 0;
  // An unfitted copy with the same parameters (scikit-learn's clone()).
  virtual std::unique_ptr<Estimator> clone() const = 0;
  virtual bool is_fitted() const = 0;
  // The fitted attributes as named tensors (f64 values, i64 labels and counts), so a file format outside
  // classic/ can store them (classic::save, nn/io/checkpoint_estimator.h). kiln::Error before fit(), and
  // from estimators that do not expose their state yet (naming the class).
  virtual StateDict fitted_state() const;
  // Restores what fitted_state() returned into an estimator of the same class built with the same
  // parameters; it is then fitted. kiln::Error naming a missing or malformed entry.
  virtual void load_fitted_state(const StateDict& state);
};

// Learns statistics in fit() (from training rows only) and applies them in transform().
class Transformer : public virtual Estimator {
 public:
  virtual Transformer& fit(const Tensor& X, const Tensor& y = {}) = 0;
  virtual Tensor transform(const Tensor& X) const = 0;
  virtual Tensor fit_transform(const Tensor& X, const Tensor& y = {}) {
    fit(X, y);
    return transform(X);
  }
};

// Changes the training rows themselves (SMOTE, RandomUnderSampler). In a Pipeline it runs during fit only,
// never on the rows being predicted.
class Resampler : public virtual Estimator {
 public:
  virtual std::pair<Tensor, Tensor> fit_resample(const Tensor& X, const Tensor& y) = 0;
};

// A supervised model. sample_weight, when defined, is (N) floating.
class Predictor : public virtual Estimator {
 public:
  virtual Predictor& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) = 0;
  virtual Tensor predict(const Tensor& X) const = 0;
  // Accuracy for classifiers, R^2 for regressors (scikit-learn's default score).
  virtual double score(const Tensor& X, const Tensor& y) const = 0;
};

class Classifier : public Predictor {
 public:
  // (N, K) probabilities, columns in the order of classes().
  virtual Tensor predict_proba(const Tensor& X) const = 0;
  // (K) i64, sorted: the labels seen in fit().
  virtual Tensor classes() const = 0;
};

class Regressor : public Predictor {};

// An estimator that is a classifier or a regressor as the estimator it wraps is (a Pipeline's final step,
// a search's estimator): is_classifier / is_regressor look through it. Its type derives from Classifier
// so that predict_proba is there when the wrapped estimator has it.
class WrappingEstimator {
 public:
  virtual ~WrappingEstimator() = default;
  // The estimator that decides the kind; null when there is none yet (an empty Pipeline).
  virtual const Estimator* wrapped_estimator() const = 0;
};

}  // namespace kiln::classic
