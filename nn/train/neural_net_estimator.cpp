// nn/train/neural_net_estimator.cpp: NeuralNetClassifier / NeuralNetRegressor (neural_net_estimator.h).
// The parameters are declared once (visit_params); get_params, set_params and the checks are built on it.
#include "kiln/nn/train/neural_net_estimator.h"

#include <cmath>
#include <mutex>
#include <sstream>

#include "kiln/autograd/ops.h"
#include "kiln/classic/metrics.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/container.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/train/callbacks.h"
#include "kiln/nn/train/fit.h"
#include "kiln/optim/adam.h"
#include "kiln/optim/sgd.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/random.h"

namespace kiln::nn::train {
namespace {

std::string join_sizes(const std::vector<int64_t>& sizes) {
  std::string out;
  for (int64_t s : sizes) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

// hidden_sizes from a ParamMap value: "64,32", or one integer width.
std::vector<int64_t> parse_sizes(const std::string& cls, const classic::ParamValue& value) {
  std::string text;
  if (const auto* i = std::get_if<int64_t>(&value)) text = std::to_string(*i);
  KILN_CHECK(text.size() || std::holds_alternative<std::string>(value), cls,
             ".set_params: parameter 'hidden_sizes' must be a width (int) or widths (\"64,32\"), got ",
             classic::param::str(value));
  if (text.empty()) text = std::get<std::string>(value);
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
    }
    KILN_CHECK(used == part.size() && v > 0, cls,
               ".set_params: hidden_sizes must be positive widths like \"64,32\", got \"", text, "\"");
    out.push_back(v);
  }
  return out;
}

void check_params(const std::string& cls, const NeuralNetParams& p, bool classify) {
  const std::string who = cls + ".fit";
  classic::params::validate(p, who);
  for (int64_t h : p.hidden_sizes) KILN_CHECK(h > 0, who, ": hidden_sizes must be positive, got ", h);
  KILN_CHECK(p.class_weight.empty() || classify, who,
             ": class_weight is a classifier's option; a regressor takes \"\", got '", p.class_weight, "'");
}

// X as the network's f32 input: 2-D, floating, finite, with the features seen in fit.
Tensor network_input(const std::string& who, const Tensor& X, int64_t n_features) {
  KILN_CHECK(X.defined() && X.dim() == 2 && X.size(0) > 0, who, ": X must be a non-empty (N, D) matrix, got ",
             X.defined() ? shape_str(X.shape()) : std::string("an undefined tensor"));
  KILN_CHECK(is_floating(X.dtype()), who, ": X must be floating (f32 or f64), got ", X.dtype());
  KILN_CHECK(n_features == 0 || X.size(1) == n_features, who, ": X has ", X.size(1),
             " features, but the network was fitted with ", n_features);
  std::vector<double> v = X.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    KILN_CHECK(std::isfinite(v[i]), who, ": X has a non-finite value (", v[i], ") in row ", i / X.size(1),
               ", column ", i % X.size(1), "; impute missing cells first (SimpleImputer)");
  return X.to(DType::f32).contiguous();
}

std::unique_ptr<optim::Optimizer> make_optimizer(nn::Module& m, const NeuralNetParams& p) {
  if (p.optimizer == "sgd")
    return std::make_unique<optim::SGD>(
        m.parameters(), optim::SGDOptions{.lr = p.lr, .momentum = 0.9, .weight_decay = p.weight_decay});
  if (p.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(m.parameters(),
                                          optim::AdamWOptions{.lr = p.lr, .weight_decay = p.weight_decay});
  return std::make_unique<optim::Adam>(m.parameters(),
                                       optim::AdamOptions{.lr = p.lr, .weight_decay = p.weight_decay});
}

// kiln's random stream is one per process: a fit holds it (seeded from random_state) from start to end,
// then gives it back as it was, so concurrent fits in a search neither interleave nor disturb the caller.
std::mutex& stream_mutex() {
  static std::mutex m;
  return m;
}
class SeededStream {
 public:
  explicit SeededStream(int64_t seed) : lock_(stream_mutex()), saved_(default_generator()) {
    manual_seed(static_cast<uint64_t>(seed));
  }
  ~SeededStream() { default_generator() = saved_; }

 private:
  std::lock_guard<std::mutex> lock_;
  Generator saved_;
};

std::vector<int64_t> labels_of(const std::string& who, const Tensor& y, int64_t n) {
  KILN_CHECK(y.defined() && y.dim() == 1 && y.size(0) == n, who, ": y must have shape [", n, "], got ",
             y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  KILN_CHECK(is_integral(y.dtype()), who, ": y must hold integer class labels, got ", y.dtype(),
             "; a floating target needs NeuralNetRegressor");
  return y.to(DType::i64).to_vector<int64_t>();
}

}  // namespace

nn::ModulePtr mlp_factory(int64_t n_features, int64_t n_outputs, const NeuralNetParams& p) {
  auto net = std::make_shared<nn::Sequential>();
  int64_t width = n_features;
  for (int64_t h : p.hidden_sizes) {
    net->push_back(nn::Linear(width, h));
    if (p.activation == "tanh")
      net->push_back(nn::Tanh());
    else if (p.activation == "gelu")
      net->push_back(nn::GELU());
    else
      net->push_back(nn::ReLU());
    if (p.dropout > 0) net->push_back(nn::Dropout(p.dropout));
    width = h;
  }
  net->push_back(nn::Linear(width, n_outputs));
  return net;
}

namespace estimator_detail {

NetCore::NetCore(NeuralNetParams p, ModuleFactory f) : params(std::move(p)), factory(std::move(f)) {
  KILN_CHECK(factory != nullptr, "NeuralNet: the module factory is empty");
}
NetCore::NetCore(const NetCore& other) : params(other.params), factory(other.factory) {}
NetCore& NetCore::operator=(const NetCore& other) {
  params = other.params, factory = other.factory, module.reset(), history = {}, n_features_in = 0;
  return *this;
}

classic::ParamMap NetCore::get_params() const {
  classic::ParamMap m = classic::params::to_map(params);
  m["hidden_sizes"] = join_sizes(params.hidden_sizes);
  return m;
}

void NetCore::set_params(const std::string& cls, const classic::ParamMap& changes) {
  const classic::ParamMap known = get_params();  // the error for an unknown name lists hidden_sizes too
  for (const auto& [key, _] : changes)
    if (!known.count(key)) classic::param::unknown(cls, key, known);
  classic::ParamMap rest = changes;
  NeuralNetParams next = params;  // all or nothing: a bad entry leaves the parameters as they were
  if (auto it = rest.find("hidden_sizes"); it != rest.end()) {
    next.hidden_sizes = parse_sizes(cls, it->second);
    rest.erase(it);
  }
  classic::params::assign(next, rest, cls);
  params = next;
}

void NetCore::fit(const std::string& cls, const Tensor& X, const Tensor& target, int64_t n_outputs,
                  bool classify, const Tensor& sample_weight) {
  const std::string who = cls + ".fit";
  KILN_CHECK(!sample_weight.defined(), who,
             ": sample_weight is not supported; use class_weight = \"balanced\"");
  check_params(cls, params, classify);
  Tensor x = network_input(who, X, 0);
  SeededStream stream(params.random_state);
  nn::ModulePtr net = factory(x.size(1), n_outputs, params);
  KILN_CHECK(net != nullptr, who, ": the module factory returned no module");
  std::unique_ptr<optim::Optimizer> opt = make_optimizer(*net, params);
  FitOptions o{.epochs = params.epochs, .verbose = static_cast<int>(params.verbose), .diagnostics = false};
  if (!classify) o.loss = [](const Tensor& out, const Tensor& t) { return nn::functional::mse_loss(out, t); };
  if (!params.class_weight.empty()) o.class_weight = params.class_weight;
  Validation validation;
  if (params.early_stopping) {
    validation = Validation::split(params.validation_fraction);
    o.callbacks.push_back(std::make_shared<EarlyStopping>(EarlyStoppingOptions{
        .monitor = "val_loss", .patience = params.patience, .restore_best_weights = true}));
  }
  auto data = std::make_shared<data::TensorDataset>(x, target);
  History h = train::fit(*net, *opt, data,
                         data::LoaderOptions{.batch_size = params.batch_size,
                                             .shuffle = true,
                                             .seed = static_cast<uint64_t>(params.random_state)},
                         validation, o);
  net->eval();
  module = std::move(net), history = std::move(h), n_features_in = x.size(1);
}

Tensor NetCore::forward(const std::string& who, const Tensor& X) const {
  KILN_CHECK(module != nullptr, who, ": called before fit()");
  Tensor x = network_input(who, X, n_features_in);
  std::lock_guard<std::mutex> lock(stream_mutex());  // the graph-free forward shares autograd's state
  return train::predict(*module, x, {.batch_size = 4096});
}

StateDict NetCore::state() const {
  KILN_CHECK(module != nullptr, "NeuralNet.fitted_state: called before fit()");
  StateDict out;
  out.insert("n_features_in", full({}, static_cast<double>(n_features_in), {.dtype = DType::i64}));
  for (const auto& [k, v] : module->state_dict()) out.insert("module." + k, v);
  return out;
}

void NetCore::load_state(const std::string& cls, const StateDict& state, int64_t n_outputs) {
  const int64_t n_in = state.at("n_features_in").item<int64_t>();
  KILN_CHECK(n_in > 0, cls, ".load_fitted_state: n_features_in must be > 0, got ", n_in);
  nn::ModulePtr net = factory(n_in, n_outputs, params);
  StateDict weights;
  for (const auto& [k, v] : state)
    if (k.rfind("module.", 0) == 0) weights.insert(k.substr(7), v);
  net->load_state_dict(weights);
  net->eval();
  module = std::move(net), n_features_in = n_in, history = {};
}

}  // namespace estimator_detail

// ---------------------------------------------------------------- NeuralNetClassifier

NeuralNetClassifier::NeuralNetClassifier(Params params, ModuleFactory factory)
    : core_(std::move(params), std::move(factory)) {}

std::unique_ptr<classic::Estimator> NeuralNetClassifier::clone() const {
  auto c = std::make_unique<NeuralNetClassifier>(*this);
  c->core_ = core_;  // NetCore's assignment drops the fitted network
  c->classes_.clear();
  return c;
}

NeuralNetClassifier& NeuralNetClassifier::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = name() + ".fit";
  KILN_CHECK(X.defined() && X.dim() == 2, who, ": X must be (N, D)");
  std::vector<int64_t> labels = labels_of(who, y, X.size(0));
  std::vector<int64_t> classes = labels;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  KILN_CHECK(classes.size() >= 2, who, ": y has one class (", classes.empty() ? 0 : classes[0],
             "); a classifier needs at least two");
  std::vector<int64_t> index(labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    index[i] = std::lower_bound(classes.begin(), classes.end(), labels[i]) - classes.begin();
  core_.fit(name(), X, from_vector(index), static_cast<int64_t>(classes.size()), true, sample_weight);
  classes_ = std::move(classes);
  return *this;
}

Tensor NeuralNetClassifier::predict_proba(const Tensor& X) const {
  return softmax(core_.forward(name() + ".predict_proba", X), 1).to(DType::f64);
}

Tensor NeuralNetClassifier::predict(const Tensor& X) const {
  std::vector<int64_t> best = core_.forward(name() + ".predict", X).argmax(1).to_vector<int64_t>();
  for (int64_t& b : best) b = classes_[b];
  return from_vector(best);
}

double NeuralNetClassifier::score(const Tensor& X, const Tensor& y) const {
  return classic::accuracy_score(y, predict(X));
}

Tensor NeuralNetClassifier::classes() const {
  KILN_CHECK(is_fitted(), name(), ".classes: called before fit()");
  return from_vector(classes_);
}

StateDict NeuralNetClassifier::fitted_state() const {
  StateDict s = core_.state();
  s.insert("classes", from_vector(classes_));
  return s;
}

void NeuralNetClassifier::load_fitted_state(const StateDict& state) {
  std::vector<int64_t> classes = state.at("classes").to(DType::i64).to_vector<int64_t>();
  KILN_CHECK(classes.size() >= 2, name(), ".load_fitted_state: 'classes' must hold at least two labels");
  core_.load_state(name(), state, static_cast<int64_t>(classes.size()));
  classes_ = std::move(classes);
}

nn::Module& NeuralNetClassifier::module_() const {
  KILN_CHECK(is_fitted(), name(), ".module_: called before fit()");
  return *core_.module;
}

const History& NeuralNetClassifier::history_() const {
  KILN_CHECK(is_fitted(), name(), ".history_: called before fit()");
  return core_.history;
}

// ---------------------------------------------------------------- NeuralNetRegressor

NeuralNetRegressor::NeuralNetRegressor(Params params, ModuleFactory factory)
    : core_(std::move(params), std::move(factory)) {}

std::unique_ptr<classic::Estimator> NeuralNetRegressor::clone() const {
  auto c = std::make_unique<NeuralNetRegressor>(*this);
  c->core_ = core_;
  return c;
}

NeuralNetRegressor& NeuralNetRegressor::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = name() + ".fit";
  KILN_CHECK(X.defined() && X.dim() == 2, who, ": X must be (N, D)");
  KILN_CHECK(y.defined() && y.dim() == 1 && y.size(0) == X.size(0), who, ": y must have shape [", X.size(0),
             "], got ", y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  Tensor target = network_input(who, y.reshape({-1, 1}).to(DType::f64), 1);
  core_.fit(name(), X, target, 1, false, sample_weight);
  return *this;
}

Tensor NeuralNetRegressor::predict(const Tensor& X) const {
  return core_.forward(name() + ".predict", X).reshape({-1}).to(DType::f64);
}

double NeuralNetRegressor::score(const Tensor& X, const Tensor& y) const {
  return classic::r2_score(y.to(DType::f64), predict(X));
}

StateDict NeuralNetRegressor::fitted_state() const { return core_.state(); }

void NeuralNetRegressor::load_fitted_state(const StateDict& state) { core_.load_state(name(), state, 1); }

nn::Module& NeuralNetRegressor::module_() const {
  KILN_CHECK(is_fitted(), name(), ".module_: called before fit()");
  return *core_.module;
}

const History& NeuralNetRegressor::history_() const {
  KILN_CHECK(is_fitted(), name(), ".history_: called before fit()");
  return core_.history;
}

}  // namespace kiln::nn::train
