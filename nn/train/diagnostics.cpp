// The checks behind fit's end-of-run report. Each looks at one kind of evidence and either stays silent
// or returns a Finding whose fix is a concrete change (an option, a layer, a number). Thresholds are the
// DiagnosticsOptions; the defaults keep a healthy run (the demo's) silent.
#include "kiln/nn/train/diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>
#include <unordered_set>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::train {

namespace {

std::string num(double v, int digits = 4) {
  std::ostringstream os;
  os.precision(digits);
  os << v;
  return os.str();
}
std::string pct(double f) { return num(100.0 * f, 3) + "%"; }

// The finite values of a series with their epochs.
std::vector<std::pair<int64_t, double>> finite_points(const History& h, const std::string& key) {
  std::vector<std::pair<int64_t, double>> out;
  if (!h.has(key)) return out;
  const auto& s = h.at(key);
  for (std::size_t i = 0; i < s.size(); ++i)
    if (std::isfinite(s[i])) out.emplace_back(h.epochs()[i], s[i]);
  return out;
}

double window_mean(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  double s = 0;
  std::size_t n = 0;
  for (std::size_t i = begin; i < end && i < v.size(); ++i)
    if (std::isfinite(v[i])) s += v[i], ++n;
  return n ? s / static_cast<double>(n) : NAN;
}

bool all_finite(const Tensor& t) {
  autograd::NoGradGuard no_grad;
  if (!t.defined() || t.numel() == 0 || !is_floating(t.dtype())) return true;
  // inf * 0 and NaN * 0 are NaN: one reduction tells whether any element is not finite.
  return std::isfinite((t.to(DType::f64) * 0.0).sum().item<double>());
}

// Up to `count` examples spread evenly over the dataset, stacked.
data::Batch probe(const data::Dataset& ds, int64_t count) {
  const int64_t n = ds.size();
  const int64_t m = std::min(n, count);
  std::vector<int64_t> idx(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) idx[static_cast<size_t>(i)] = i * n / m;
  return ds.get_batch(idx);
}

std::vector<std::pair<std::string, ModulePtr>> leaf_modules(nn::Module& model) {
  std::vector<std::pair<std::string, ModulePtr>> out;
  for (auto& [name, m] : model.named_modules())
    if (m->named_children().empty()) out.emplace_back(name, m);
  return out;
}

// Keras's EarlyStopping on a finished series: the epoch index it would have stopped after, or -1.
int64_t simulated_stop(const std::vector<double>& v, int64_t patience) {
  double best = INFINITY;
  int64_t wait = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    ++wait;
    if (v[i] < best) {
      best = v[i];
      wait = 0;
      continue;
    }
    if (wait >= patience && i > 0) return static_cast<int64_t>(i);
  }
  return -1;
}

uint64_t hash_bytes(const unsigned char* p, std::size_t n) {
  // FNV-1a over 8-byte words (then the tail), enough to tell rows apart; equal rows always collide.
  uint64_t h = 1469598103934665603ull;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Row hashes of every example's features, in chunks.
std::vector<uint64_t> row_hashes(const data::Dataset& ds) {
  std::vector<uint64_t> out;
  const int64_t n = ds.size(), chunk = 4096;
  out.reserve(static_cast<size_t>(n));
  for (int64_t start = 0; start < n; start += chunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n, start + chunk); ++i) idx.push_back(i);
    Tensor x = ds.get_batch(idx).x.to(Device::cpu()).contiguous();
    const std::size_t row = static_cast<std::size_t>(x.numel() / x.size(0)) * dtype_size(x.dtype());
    const auto* base = static_cast<const unsigned char*>(x.data_ptr());
    for (int64_t r = 0; r < x.size(0); ++r)
      out.push_back(hash_bytes(base + static_cast<std::size_t>(r) * row, row));
  }
  return out;
}

// Class counts of integer labels (N), or empty for other targets.
std::vector<int64_t> class_counts(const data::Dataset& ds) {
  Tensor y = ds.targets();
  if (!y.defined() || y.dim() != 1 || is_floating(y.dtype()) || y.numel() == 0) return {};
  auto v = y.to(DType::i64).to_vector<int64_t>();
  int64_t lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  if (lo < 0 || hi > 100000) return {};
  std::vector<int64_t> counts(static_cast<size_t>(hi + 1), 0);
  for (int64_t c : v) ++counts[static_cast<size_t>(c)];
  return counts;
}

}  // namespace

std::string first_non_finite_module(nn::Module& model, const Tensor& x) {
  const bool was_training = model.is_training();
  auto leaves = leaf_modules(model);
  std::string found;
  std::vector<std::pair<ModulePtr, int64_t>> hooks;
  for (auto& [name, m] : leaves) {
    const std::string label = name + " (" + m->type_name() + ")";
    int64_t id = m->register_forward_hook([&found, label](Module& mod, const Tensor&, const Tensor& out) {
      if (!found.empty()) return Tensor();
      for (const auto& [pname, p] : mod.named_parameters(false))
        if (!all_finite(p)) {
          found = label + ", whose parameter '" + pname + "' is not finite";
          return Tensor();
        }
      if (!all_finite(out)) found = label;
      return Tensor();
    });
    hooks.emplace_back(m, id);
  }
  try {
    autograd::NoGradGuard no_grad;
    model.train(was_training);
    model(x);
  } catch (...) {
    // A forward that fails on non-finite values still leaves what the hooks saw.
  }
  for (auto& [m, id] : hooks) m->remove_hook(id);
  model.train(was_training);
  if (found.empty() && !all_finite(x)) found = "the input batch itself";
  return found;
}

std::optional<Finding> check_non_finite(const TrainingRecord& r) {
  if (!r.first_non_finite_batch) return std::nullopt;
  std::ostringstream ev;
  ev << "the loss was not finite first at batch " << *r.first_non_finite_batch << " (epoch "
     << r.first_non_finite_epoch.value_or(0) + 1 << ")";
  if (!r.first_non_finite_module.empty())
    ev << "; the first non-finite module output: " << r.first_non_finite_module;
  return Finding{"non_finite_loss", ev.str(),
                 "lower the learning rate (10x, or pick one with lr_find), clip gradients "
                 "(FitOptions::clip_grad_norm = 1.0), and add TerminateOnNaN to stop at the first bad batch"};
}

std::optional<Finding> check_overfitting(const History& h, const DiagnosticsOptions& o) {
  auto val = finite_points(h, "val_loss"), tr = finite_points(h, "loss");
  if (val.size() >= 2 && tr.size() >= 2) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < val.size(); ++i)
      if (val[i].second < val[best].second) best = i;
    const std::size_t after = val.size() - 1 - best;
    auto loss_at = [&](int64_t epoch) -> double {
      for (auto& [e, v] : tr)
        if (e == epoch) return v;
      return std::nan("");
    };
    const double l0 = loss_at(val[best].first), l1 = loss_at(val.back().first);
    if (static_cast<int64_t>(after) >= o.overfit_patience && val.back().second > val[best].second * 1.02 &&
        l1 < l0) {
      std::vector<double> vals;
      for (auto& p : val) vals.push_back(p.second);
      const int64_t stop = simulated_stop(vals, o.overfit_patience);
      std::ostringstream ev, fix;
      ev << "val_loss rose for " << after << " epochs, from " << num(val[best].second) << " (epoch "
         << val[best].first + 1 << ") to " << num(val.back().second) << ", while loss fell from " << num(l0)
         << " to " << num(l1);
      if (stop >= 0)
        fix << "EarlyStopping(patience=" << o.overfit_patience
            << ", restore_best_weights) would have stopped at epoch "
            << val[static_cast<size_t>(stop)].first + 1 << " with val_loss " << num(val[best].second) << "; ";
      fix << "add Dropout or weight decay, or use more training data";
      return Finding{"overfitting", ev.str(), fix.str()};
    }
  }
  auto acc = finite_points(h, "accuracy"), vacc = finite_points(h, "val_accuracy");
  if (!acc.empty() && !vacc.empty()) {
    const double gap = acc.back().second - vacc.back().second;
    if (gap > o.overfit_gap) {
      std::ostringstream ev;
      ev << "training accuracy " << num(acc.back().second) << " vs validation accuracy "
         << num(vacc.back().second) << " at the last epoch: a gap of " << num(gap, 3) << " (threshold "
         << o.overfit_gap << ")";
      return Finding{
          "overfitting", ev.str(),
          "add Dropout or weight decay (AdamW weight_decay 1e-2), augment the data, or use a smaller "
          "model; EarlyStopping(monitor=\"val_loss\", restore_best_weights) keeps the best epoch"};
    }
  }
  return std::nullopt;
}

std::optional<Finding> check_underfitting(nn::Module& model, const History& h, const data::DatasetPtr& train,
                                          const DiagnosticsOptions& o) {
  auto acc = finite_points(h, "accuracy");
  if (!acc.empty() && train) {
    auto counts = class_counts(*train);
    if (!counts.empty()) {
      const double total = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
      const double majority = static_cast<double>(*std::max_element(counts.begin(), counts.end())) / total;
      if (acc.back().second <= majority + 0.02) {
        std::ostringstream ev;
        ev << "training accuracy " << num(acc.back().second) << " is at the majority-class rate "
           << num(majority) << ": the model predicts little more than the most frequent class";
        return Finding{
            "underfitting", ev.str(),
            "train longer or with a higher learning rate (lr_find), use a larger model, and check that "
            "inputs are scaled and labels match the inputs"};
      }
    }
  }
  auto loss = finite_points(h, "loss");
  if (loss.size() >= 3 &&
      std::abs(loss.front().second - loss.back().second) < 0.01 * std::abs(loss.front().second)) {
    std::ostringstream ev;
    ev << "the training loss stayed flat from the start: " << num(loss.front().second) << " at epoch 1, "
       << num(loss.back().second) << " at epoch " << loss.back().first + 1;
    return Finding{
        "underfitting", ev.str(),
        "raise the learning rate (lr_find suggests one), check that gradients reach the parameters "
        "(not frozen, the loss depends on the output), or use a larger model"};
  }
  // A hidden layer narrower than the output: the model cannot represent the classes apart.
  std::vector<std::pair<std::string, int64_t>> widths;
  for (auto& [name, m] : model.named_modules())
    if (m->type_name() == "Linear" || m->type_name() == "Conv2d")
      for (const auto& [pname, p] : m->named_parameters(false))
        if (pname == "weight") widths.emplace_back(name, p.size(0));
  auto vacc = finite_points(h, "val_accuracy");
  if (widths.size() >= 2 && !acc.empty()) {
    const int64_t out = widths.back().second;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      const bool small_gap = vacc.empty() || std::abs(acc.back().second - vacc.back().second) < 0.03;
      if (widths[i].second < out && acc.back().second < 0.95 && small_gap) {
        std::ostringstream ev;
        ev << "layer '" << widths[i].first << "' has " << widths[i].second << " units, fewer than the " << out
           << " outputs; training accuracy " << num(acc.back().second);
        if (!vacc.empty()) ev << " and validation accuracy " << num(vacc.back().second) << " are close";
        ev << " (high bias)";
        std::ostringstream fix;
        fix << "widen layer '" << widths[i].first << "' (e.g. to " << std::max<int64_t>(4 * out, 64)
            << " units) or add layers; train longer once the model has capacity";
        return Finding{"underfitting", ev.str(), fix.str()};
      }
    }
  }
  return std::nullopt;
}

std::optional<Finding> check_exploding_gradients(const TrainingRecord& r, const DiagnosticsOptions& o) {
  if (r.grad_norms.empty()) return std::nullopt;
  std::size_t bad = r.grad_norms.size();
  double worst = 0;
  for (std::size_t i = 0; i < r.grad_norms.size(); ++i) {
    const double g = r.grad_norms[i];
    if (!std::isfinite(g) || g > o.exploding_norm) {
      if (bad == r.grad_norms.size()) bad = i;
      worst = std::isfinite(g) ? std::max(worst, g) : INFINITY;
    }
  }
  std::vector<double> early(r.grad_norms.begin(),
                            r.grad_norms.begin() + std::min<std::size_t>(r.grad_norms.size(), 8));
  std::sort(early.begin(), early.end());
  const double median = early[early.size() / 2];
  double late_max = 0;
  for (std::size_t i = r.grad_norms.size() / 2; i < r.grad_norms.size(); ++i)
    if (std::isfinite(r.grad_norms[i])) late_max = std::max(late_max, r.grad_norms[i]);
  const bool grew =
      r.grad_norms.size() >= 16 && std::isfinite(median) && median > 0 && late_max > 100 * median;
  if (bad == r.grad_norms.size() && !grew) return std::nullopt;
  std::ostringstream ev;
  if (bad < r.grad_norms.size())
    ev << "the total gradient norm reached " << num(worst) << " (threshold " << num(o.exploding_norm)
       << ") at sampled step " << bad;
  else
    ev << "the total gradient norm grew from a median of " << num(median) << " early on to " << num(late_max);
  return Finding{
      "exploding_gradients", ev.str(),
      "clip gradients (FitOptions::clip_grad_norm = 1.0), lower the learning rate, or add normalization "
      "(BatchNorm / LayerNorm)"};
}

std::optional<Finding> check_learning_rate(const History& h, const TrainingRecord& r) {
  const auto& v = r.batch_losses;
  if (v.size() < 20 || r.first_non_finite_batch) return std::nullopt;
  const std::size_t w = std::max<std::size_t>(5, v.size() / 20);
  const double first = window_mean(v, 0, w), last = window_mean(v, v.size() - w, v.size());
  const double lr = h.has("lr") && !h.at("lr").empty() ? h.at("lr").front() : NAN;
  if (!std::isfinite(first) || !std::isfinite(last)) return std::nullopt;
  if (last > first * 1.05) {
    std::ostringstream ev;
    ev << "the training loss rose from " << num(first) << " (first " << w << " batches) to " << num(last)
       << " (last " << w << ")";
    if (std::isfinite(lr)) ev << " at lr " << num(lr);
    return Finding{
        "lr_too_high", ev.str(),
        "divide the learning rate by 10, or run lr_find and take its suggestion; a warm-up (OneCycleLR) "
        "helps when the first steps diverge"};
  }
  // Too low: every epoch improved on the last, yet the whole run moved the epoch loss less than 10% (the
  // first epoch's mean holds its early, high losses, so a run that converged shows a large drop).
  auto epochs = finite_points(h, "loss");
  bool falling = epochs.size() >= 2;
  for (std::size_t i = 1; i < epochs.size(); ++i)
    falling = falling && epochs[i].second < epochs[i - 1].second;
  const double e0 = falling ? epochs.front().second : NAN, e1 = falling ? epochs.back().second : NAN;
  const double drop = (e0 - e1) / std::abs(e0);
  if (falling && drop < 0.10) {
    std::ostringstream ev;
    ev << "the training loss fell only " << pct(drop) << " over " << epochs.size() << " epochs (" << num(e0)
       << " -> " << num(e1) << ") while still falling every epoch";
    if (std::isfinite(lr)) ev << ", at lr " << num(lr);
    return Finding{"lr_too_low", ev.str(),
                   "raise the learning rate 10x (lr_find suggests one: its steepest-descent rate), or use "
                   "OneCycleLR"};
  }
  return std::nullopt;
}

std::optional<Finding> check_dead_relus(nn::Module& model, const data::DatasetPtr& train,
                                        const DiagnosticsOptions& o) {
  if (!train || train->size() == 0) return std::nullopt;
  struct Seen {
    std::string name;
    Tensor ever_active;  // per unit: any positive output on the probe
  };
  std::vector<Seen> seen;
  std::vector<std::pair<ModulePtr, int64_t>> hooks;
  for (auto& [name, m] : leaf_modules(model)) {
    if (m->type_name() != "ReLU") continue;
    const std::size_t slot = seen.size();
    seen.push_back({name, Tensor()});
    int64_t id = m->register_forward_hook([&seen, slot](Module&, const Tensor&, const Tensor& out) {
      if (out.dim() < 2) return Tensor();
      // Units: features of (N, F), channels of (N, C, H, W).
      Shape dims = {0};
      for (int64_t d = 2; d < out.dim(); ++d) dims.push_back(d);
      seen[slot].ever_active = amax(out.detach(), dims) > 0.0;
      return Tensor();
    });
    hooks.emplace_back(m, id);
  }
  if (hooks.empty()) return std::nullopt;
  const bool was_training = model.is_training();
  Device device = Device::cpu();
  for (const auto& p : model.parameters()) {
    device = p.device();
    break;
  }
  try {
    autograd::NoGradGuard no_grad;
    model.eval();
    model(probe(*train, o.probe_samples).x.to(device));
  } catch (...) {
    for (auto& [m, id] : hooks) m->remove_hook(id);
    model.train(was_training);
    return std::nullopt;  // a model this check cannot run (custom inputs) is not a finding
  }
  for (auto& [m, id] : hooks) m->remove_hook(id);
  model.train(was_training);
  for (auto& s : seen) {
    if (!s.ever_active.defined()) continue;
    const int64_t units = s.ever_active.numel();
    const int64_t dead = units - s.ever_active.to(DType::i64).sum().item<int64_t>();
    const double frac = static_cast<double>(dead) / static_cast<double>(units);
    if (frac >= o.dead_relu_fraction) {
      std::ostringstream ev;
      ev << "ReLU '" << s.name << "': " << dead << " of " << units << " units (" << pct(frac)
         << ") were never active on " << std::min(train->size(), o.probe_samples) << " training examples";
      return Finding{
          "dead_relu", ev.str(),
          "lower the learning rate, use LeakyReLU or GELU, or initialize with nn::init::kaiming_normal_; "
          "BatchNorm before the ReLU also keeps units alive"};
    }
  }
  return std::nullopt;
}

std::optional<Finding> check_class_imbalance(const data::DatasetPtr& train, const DiagnosticsOptions& o) {
  if (!train) return std::nullopt;
  auto counts = class_counts(*train);
  if (counts.size() < 2) return std::nullopt;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0, lo_c = 0, hi_c = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) continue;
    if (counts[c] < lo) lo = counts[c], lo_c = static_cast<int64_t>(c);
    if (counts[c] > hi) hi = counts[c], hi_c = static_cast<int64_t>(c);
  }
  if (lo == std::numeric_limits<int64_t>::max() ||
      static_cast<double>(hi) < o.imbalance_ratio * static_cast<double>(lo))
    return std::nullopt;
  std::ostringstream ev;
  ev << "class " << hi_c << " has " << hi << " training examples, class " << lo_c << " only " << lo << " ("
     << num(static_cast<double>(hi) / static_cast<double>(lo), 3) << "x)";
  return Finding{
      "class_imbalance", ev.str(),
      "pass FitOptions::class_weight = \"balanced\", or sample with data::WeightedRandomSampler; watch "
      "f1_macro or recall_macro rather than accuracy"};
}

std::optional<Finding> check_input_scale(const data::DatasetPtr& train, const DiagnosticsOptions& o) {
  if (!train || train->size() < 2) return std::nullopt;
  Tensor x = probe(*train, o.probe_samples).x;
  if (!x.defined() || !is_floating(x.dtype()) || x.dim() < 2 || x.size(0) < 2) return std::nullopt;
  autograd::NoGradGuard no_grad;
  Tensor f = x.to(Device::cpu()).to(DType::f64).reshape({x.size(0), -1});
  auto means = f.mean({0}).to_vector<double>();
  auto stds = kiln::std(f, {0}, 0).to_vector<double>();
  double max_abs_mean = 0, max_std = 0;
  for (double m : means) max_abs_mean = std::max(max_abs_mean, std::abs(m));
  for (double s : stds) max_std = std::max(max_std, s);
  if (max_abs_mean <= 10 && max_std <= 10) return std::nullopt;
  std::ostringstream ev;
  ev << "feature means reach " << num(max_abs_mean) << " and spreads (std) " << num(max_std) << " over "
     << f.size(1) << " features of " << f.size(0) << " training examples (expected near 0 and 1)";
  return Finding{
      "unscaled_inputs", ev.str(),
      "standardize the inputs on training statistics (classic::StandardScaler, or a data transform "
      "(x - mean) / std); image pixels: divide by 255"};
}

std::optional<Finding> check_train_val_overlap(const data::DatasetPtr& train,
                                               const data::DatasetPtr& validation) {
  if (!train || !validation || train->size() == 0 || validation->size() == 0) return std::nullopt;
  std::vector<uint64_t> tr = row_hashes(*train);
  std::unordered_set<uint64_t> seen(tr.begin(), tr.end());
  int64_t dup = 0;
  for (uint64_t h : row_hashes(*validation)) dup += seen.count(h) ? 1 : 0;
  if (dup == 0) return std::nullopt;
  std::ostringstream ev;
  ev << dup << " of " << validation->size() << " validation examples ("
     << pct(static_cast<double>(dup) / static_cast<double>(validation->size()))
     << ") have features identical to a training example (row hashes)";
  return Finding{
      "train_val_overlap", ev.str(),
      "deduplicate the rows before splitting (or split by group), so validation measures unseen data"};
}

std::vector<Finding> diagnose(nn::Module& model, const History& history, const TrainingRecord& record,
                              const data::DatasetPtr& train, const data::DatasetPtr& validation,
                              const DiagnosticsOptions& options) {
  std::vector<Finding> out;
  auto add = [&](std::optional<Finding> f) {
    if (f) out.push_back(std::move(*f));
  };
  add(check_non_finite(record));
  add(check_exploding_gradients(record, options));
  add(check_learning_rate(history, record));
  add(check_overfitting(history, options));
  add(check_underfitting(model, history, train, options));
  if (!record.first_non_finite_batch) add(check_dead_relus(model, train, options));
  add(check_class_imbalance(train, options));
  add(check_input_scale(train, options));
  add(check_train_val_overlap(train, validation));
  if (!record.seeded)
    out.push_back(
        {"not_reproducible",
         "kiln::manual_seed was never called: initialization, dropout and shuffling used the built-in seed",
         "call kiln::manual_seed(42) (any fixed seed) before building the model and the loaders"});
  return out;
}

std::string format_findings(const std::vector<Finding>& findings) {
  if (findings.empty()) return "Diagnostics: no problems found\n";
  std::ostringstream os;
  os << "Diagnostics: " << findings.size() << (findings.size() == 1 ? " finding" : " findings") << "\n";
  for (const auto& f : findings)
    os << "  [" << f.kind << "] " << f.evidence << "\n    fix: " << f.fix << "\n";
  return os.str();
}

}  // namespace kiln::nn::train
