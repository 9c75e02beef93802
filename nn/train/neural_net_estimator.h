// kiln/nn/train/neural_net_estimator.h: NeuralNetClassifier and NeuralNetRegressor, networks as
// scikit-learn estimators (skorch's idea): a module factory plus Params, trained by train::fit, behind
// classic's Classifier / Regressor contract, so a network goes into a Pipeline after a scaler, into
// cross_val_score, GridSearchCV and RandomizedSearchCV ("lr", "hidden_sizes" tuned by name) like any
// classic estimator. Depends on classic (the contracts), nn, optim and train::fit.
//
//   nn::train::NeuralNetClassifier net({.hidden_sizes = {64, 32}, .lr = 3e-3, .epochs = 40,
//                                       .early_stopping = true, .class_weight = "balanced"});
//   classic::GridSearchCV search(net, {.param_grid = {{{"lr", {1e-3, 3e-3}}, {"hidden_sizes", {"32",
//   "64"}}}},
//                                      .scoring = "roc_auc", .n_jobs = 2});
//
// Shapes: X (N, D) floating (computed in f32, the network's dtype), no NaN (impute first); classifier y (N)
// integer labels (any values; predict returns them, predict_proba's columns follow classes()); regressor y
// (N) floating. sample_weight is refused (use class_weight).
// Reproducibility: every fit seeds initialization, dropout, shuffling and the validation split from
// random_state alone, so a fit gives the same network in any thread and for any n_jobs of the search
// around it. kiln's random stream is one per process, so fits and predictions of these estimators run
// one at a time (a search's other candidates still run in parallel), and kiln's default generator is
// left as it was found.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/params.h"
#include "kiln/nn/module.h"
#include "kiln/nn/train/history.h"

namespace kiln::nn::train {

struct NeuralNetParams {
  // Widths of the hidden layers of the default factory's MLP. In a ParamMap: "64,32" (or the integer 64 for
  // one layer), so a grid can tune the width.
  std::vector<int64_t> hidden_sizes = {64};
  std::string activation = "relu";  // "relu", "tanh" or "gelu"
  double dropout = 0.0;             // after each hidden activation; in [0, 1)
  std::string optimizer = "adam";   // "adam", "adamw" or "sgd" (momentum 0.9)
  double lr = 1e-3;
  double weight_decay = 0.0;
  int64_t epochs = 50;
  int64_t batch_size = 64;
  // Hold out validation_fraction of fit()'s rows and stop after `patience` epochs without a lower
  // validation loss, keeping the best epoch's weights (Keras's EarlyStopping, restore_best_weights).
  bool early_stopping = false;
  double validation_fraction = 0.1;
  int64_t patience = 5;
  std::string class_weight = "";  // classifier only: "" or "balanced" (scikit-learn's compute_class_weight)
  int64_t random_state = 0;
  int64_t verbose = 0;  // train::fit's verbose

  // Every field but hidden_sizes (a list, which ParamValue cannot hold; NetCore maps it to "64,32").
  template <class Visit>
  void fields(Visit&& visit) {
    namespace P = classic::param;
    visit("activation", activation, P::one_of({"relu", "tanh", "gelu"}));
    visit("batch_size", batch_size, P::at_least(1));
    visit("class_weight", class_weight, P::one_of({"", "balanced"}));
    visit("dropout", dropout, P::interval(0, 1, true, false));
    visit("early_stopping", early_stopping);
    visit("epochs", epochs, P::at_least(1));
    visit("lr", lr, P::greater_than(0));
    visit("optimizer", optimizer, P::one_of({"adam", "adamw", "sgd"}));
    visit("patience", patience, P::at_least(0));
    visit("random_state", random_state, P::at_least(0));
    visit("validation_fraction", validation_fraction, P::open(0, 1));
    visit("verbose", verbose, P::closed(0, 2));
    visit("weight_decay", weight_decay, P::at_least(0));
  }
};

// Builds the network for n_features inputs and n_outputs outputs (classes, or 1 for a regressor).
using ModuleFactory =
    std::function<nn::ModulePtr(int64_t n_features, int64_t n_outputs, const NeuralNetParams& params)>;
// The default factory: Linear -> activation [-> Dropout] per hidden size, then Linear to n_outputs.
nn::ModulePtr mlp_factory(int64_t n_features, int64_t n_outputs, const NeuralNetParams& params);

namespace estimator_detail {
// What both estimators share: parameters by name, the fitted network, fitting and forwarding.
class NetCore {
 public:
  NetCore(NeuralNetParams params, ModuleFactory factory);
  NetCore(const NetCore& other);  // an unfitted copy (clone)
  NetCore& operator=(const NetCore& other);

  classic::ParamMap get_params() const;
  void set_params(const std::string& cls, const classic::ParamMap& params);
  // Trains a fresh network on X and the prepared target (i64 class indices or (N, 1) f32 values).
  void fit(const std::string& cls, const Tensor& X, const Tensor& target, int64_t n_outputs, bool classify,
           const Tensor& sample_weight);
  Tensor forward(const std::string& who, const Tensor& X) const;  // (N, n_outputs) f32 outputs
  StateDict state() const;
  void load_state(const std::string& cls, const StateDict& state, int64_t n_outputs);

  NeuralNetParams params;
  ModuleFactory factory;
  nn::ModulePtr module;
  History history;
  int64_t n_features_in = 0;
};
}  // namespace estimator_detail

class NeuralNetClassifier : public classic::Classifier {
 public:
  using Params = NeuralNetParams;
  NeuralNetClassifier() : NeuralNetClassifier(Params{}) {}
  explicit NeuralNetClassifier(Params params, ModuleFactory factory = mlp_factory);

  std::string name() const override { return "NeuralNetClassifier"; }
  classic::ParamMap get_params() const override { return core_.get_params(); }
  void set_params(const classic::ParamMap& params) override { core_.set_params(name(), params); }
  std::unique_ptr<classic::Estimator> clone() const override;
  bool is_fitted() const override { return core_.module != nullptr; }
  StateDict fitted_state() const override;
  void load_fitted_state(const StateDict& state) override;

  NeuralNetClassifier& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) i64, labels of classes()
  Tensor predict_proba(const Tensor& X) const override;           // (N, K) f64, softmax of the outputs
  double score(const Tensor& X, const Tensor& y) const override;  // accuracy
  Tensor classes() const override;

  const Params& params() const { return core_.params; }
  nn::Module& module_() const;      // the fitted network
  const History& history_() const;  // train::fit's History of the last fit
  int64_t n_features_in_() const { return core_.n_features_in; }

 private:
  estimator_detail::NetCore core_;
  std::vector<int64_t> classes_;
};

class NeuralNetRegressor : public classic::Regressor {
 public:
  using Params = NeuralNetParams;
  NeuralNetRegressor() : NeuralNetRegressor(Params{}) {}
  explicit NeuralNetRegressor(Params params, ModuleFactory factory = mlp_factory);

  std::string name() const override { return "NeuralNetRegressor"; }
  classic::ParamMap get_params() const override { return core_.get_params(); }
  void set_params(const classic::ParamMap& params) override { core_.set_params(name(), params); }
  std::unique_ptr<classic::Estimator> clone() const override;
  bool is_fitted() const override { return core_.module != nullptr; }
  StateDict fitted_state() const override;
  void load_fitted_state(const StateDict& state) override;

  NeuralNetRegressor& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) f64
  double score(const Tensor& X, const Tensor& y) const override;  // R^2

  const Params& params() const { return core_.params; }
  nn::Module& module_() const;
  const History& history_() const;
  int64_t n_features_in_() const { return core_.n_features_in; }

 private:
  estimator_detail::NetCore core_;
};

}  // namespace kiln::nn::train
