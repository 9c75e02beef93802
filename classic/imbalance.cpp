// Class weights, SMOTE and RandomUnderSampler (see imbalance.h). The neighbour search is brute force
// (O(n_c^2 D) per class, rows in parallel with OpenMP): SMOTE runs on a minority class, which is small.
// Randomness: one std::mt19937_64 seeded with random_state, consumed in sorted class order.
// Depends on preprocessing_util and tensor/threads.h.
#include "kiln/classic/imbalance.h"
#include "kiln/classic/validation.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "kiln/classic/preprocessing_util.h"
#include "kiln/tensor/threads.h"

namespace kiln::classic {

using prep_detail::Matrix;

namespace {

std::map<int64_t, int64_t> class_counts(const std::vector<int64_t>& y) {
  std::map<int64_t, int64_t> c;
  for (int64_t v : y) ++c[v];
  return c;
}

std::string counts_str(const std::map<int64_t, int64_t>& c) {
  std::string s = "{";
  for (const auto& [k, v] : c) s += (s.size() > 1 ? ", " : "") + std::to_string(k) + ": " + std::to_string(v);
  return s + "}";
}

// Checks X and y and returns them as a matrix and labels.
std::pair<Matrix, std::vector<int64_t>> xy(const Tensor& X, const Tensor& y, const std::string& who) {
  Matrix m = prep_detail::to_matrix(X, who);
  std::vector<int64_t> labels = prep_detail::to_labels(y, who);
  KILN_CHECK(static_cast<int64_t>(labels.size()) == m.rows, who, ": X has ", m.rows, " rows but y has ",
             labels.size(), " labels");
  KILN_CHECK(m.rows > 0, who, ": X has no rows");
  return {std::move(m), std::move(labels)};
}

// Sets the sampling fields from a ParamMap entry "sampling_strategy" (string or number).
void set_strategy(const ParamValue& v, std::string& strategy, double& ratio, const std::string& who) {
  if (std::holds_alternative<std::string>(v)) {
    strategy = std::get<std::string>(v);
    ratio = 0.0;
  } else {
    param::assign(who, "sampling_strategy", v, ratio);
  }
}

}  // namespace

// ---------------- class weights ----------------

Tensor compute_class_weight(const std::string& class_weight, const Tensor& classes, const Tensor& y) {
  const std::string who = "compute_class_weight";
  KILN_CHECK(class_weight == "balanced", who, ": class_weight must be 'balanced' or a map of weights, got '",
             class_weight, "'");
  std::vector<int64_t> cls = prep_detail::to_labels(classes, who, "classes");
  std::vector<int64_t> labels = prep_detail::to_labels(y, who);
  auto counts = class_counts(labels);
  for (const auto& [k, _] : counts)
    KILN_CHECK(std::find(cls.begin(), cls.end(), k) != cls.end(), who, ": y holds the label ", k,
               " which is not in classes; classes should include all valid labels");
  std::vector<double> w;
  const double n = static_cast<double>(labels.size()),
               k = static_cast<double>(prep_detail::unique_sorted(cls).size());
  for (int64_t c : cls) {
    auto it = counts.find(c);
    KILN_CHECK(it != counts.end(), who, ": class ", c,
               " has no samples in y, so its 'balanced' weight is undefined");
    w.push_back(n / (k * static_cast<double>(it->second)));
  }
  return prep_detail::values_tensor(w);
}

Tensor compute_class_weight(const std::map<int64_t, double>& class_weight, const Tensor& classes,
                            const Tensor& y) {
  const std::string who = "compute_class_weight";
  std::vector<int64_t> cls = prep_detail::to_labels(classes, who, "classes");
  prep_detail::to_labels(y, who);
  for (const auto& [k, _] : class_weight)
    KILN_CHECK(std::find(cls.begin(), cls.end(), k) != cls.end(), who, ": class_weight names the class ", k,
               " which is not in classes");
  std::vector<double> w;
  for (int64_t c : cls) {
    auto it = class_weight.find(c);
    w.push_back(it == class_weight.end() ? 1.0 : it->second);
  }
  return prep_detail::values_tensor(w);
}

namespace {
Tensor sample_weight_from(const Tensor& class_w, const std::vector<int64_t>& classes,
                          const std::vector<int64_t>& labels) {
  std::vector<double> cw = class_w.to_vector<double>(), out;
  for (int64_t l : labels)
    out.push_back(cw[std::lower_bound(classes.begin(), classes.end(), l) - classes.begin()]);
  return prep_detail::values_tensor(out);
}
}  // namespace

Tensor compute_sample_weight(const std::string& class_weight, const Tensor& y) {
  std::vector<int64_t> labels = prep_detail::to_labels(y, "compute_sample_weight");
  std::vector<int64_t> classes = prep_detail::unique_sorted(labels);
  KILN_CHECK(class_weight == "balanced",
             "compute_sample_weight: class_weight must be 'balanced' or a map, got '", class_weight, "'");
  return sample_weight_from(compute_class_weight(class_weight, prep_detail::labels_tensor(classes), y),
                            classes, labels);
}

Tensor compute_sample_weight(const std::map<int64_t, double>& class_weight, const Tensor& y) {
  std::vector<int64_t> labels = prep_detail::to_labels(y, "compute_sample_weight");
  std::vector<double> w;
  for (int64_t l : labels) {
    auto it = class_weight.find(l);
    w.push_back(it == class_weight.end() ? 1.0 : it->second);
  }
  return prep_detail::values_tensor(w);
}

// ---------------- sampling strategy ----------------

namespace prep_detail {
std::map<int64_t, int64_t> sampling_targets(const SamplingStrategy& s,
                                            const std::map<int64_t, int64_t>& counts, bool over,
                                            const std::string& who) {
  KILN_CHECK(counts.size() >= 2, who, ": y must hold at least 2 classes to resample, got counts ",
             counts_str(counts));
  // Minority / majority: the smallest / largest count, the smallest label on ties.
  int64_t minority = counts.begin()->first, majority = minority;
  for (const auto& [k, v] : counts) {
    if (v < counts.at(minority)) minority = k;
    if (v > counts.at(majority)) majority = k;
  }
  const int64_t n_min = counts.at(minority), n_maj = counts.at(majority);
  std::map<int64_t, int64_t> out;
  if (!s.sampling_counts.empty()) {
    for (const auto& [k, target] : s.sampling_counts) {
      auto it = counts.find(k);
      KILN_CHECK(it != counts.end(), who, ": sampling_counts names the class ", k, " which is not in y ",
                 counts_str(counts));
      KILN_CHECK(target >= 0, who, ": sampling_counts[", k, "] = ", target, " is negative");
      if (over) {
        KILN_CHECK(target >= it->second, who, ": sampling_counts[", k, "] = ", target, " is below the ",
                   it->second, " samples of that class; over-sampling cannot remove samples");
        out[k] = target - it->second;
      } else {
        KILN_CHECK(target <= it->second, who, ": sampling_counts[", k, "] = ", target, " is above the ",
                   it->second, " samples of that class; under-sampling cannot add samples");
        out[k] = target;
      }
    }
    return out;
  }
  if (s.sampling_ratio > 0) {
    KILN_CHECK(counts.size() == 2, who, ": a float sampling_strategy (", s.sampling_ratio,
               ") needs binary y, got counts ", counts_str(counts));
    validation::check_param(who, "sampling_strategy ratio", s.sampling_ratio, {0, 1, false, true});
    if (over) {
      auto target = static_cast<int64_t>(static_cast<double>(n_maj) * s.sampling_ratio);
      KILN_CHECK(target >= n_min, who, ": sampling_strategy ratio ", s.sampling_ratio,
                 " would remove samples from the minority class ", counts_str(counts),
                 "; increase the ratio");
      out[minority] = target - n_min;
    } else {
      auto target = static_cast<int64_t>(static_cast<double>(n_min) / s.sampling_ratio);
      KILN_CHECK(target <= n_maj, who, ": sampling_strategy ratio ", s.sampling_ratio,
                 " would add samples to the majority class ", counts_str(counts), "; increase the ratio");
      out[majority] = target;
    }
    return out;
  }
  std::string st =
      s.sampling_strategy == "auto" ? (over ? "not majority" : "not minority") : s.sampling_strategy;
  KILN_CHECK(
      st == "minority" || st == "majority" || st == "not minority" || st == "not majority" || st == "all",
      who,
      ": sampling_strategy must be 'auto', 'minority', 'majority', 'not minority', 'not majority' or "
      "'all', got '",
      s.sampling_strategy, "'");
  KILN_CHECK(!(over && st == "majority"), who,
             ": sampling_strategy 'majority' cannot be used when over-sampling");
  KILN_CHECK(!(!over && st == "minority"), who,
             ": sampling_strategy 'minority' cannot be used when under-sampling");
  for (const auto& [k, v] : counts) {
    bool take = st == "all" || (st == "minority" && k == minority) || (st == "majority" && k == majority) ||
                (st == "not minority" && k != minority) || (st == "not majority" && k != majority);
    if (take) out[k] = over ? n_maj - v : n_min;
  }
  return out;
}
}  // namespace prep_detail

// ---------------- SMOTE ----------------

ParamMap SMOTE::get_params() const {
  ParamMap p{{"k_neighbors", params_.k_neighbors},
             {"random_state", params_.random_state},
             {"n_jobs", params_.n_jobs}};
  if (params_.sampling_ratio > 0)
    p["sampling_strategy"] = params_.sampling_ratio;
  else
    p["sampling_strategy"] = params_.sampling_strategy;
  return p;
}

void SMOTE::set_params(const ParamMap& params) {
  for (const auto& [k, v] : params) {
    if (k == "sampling_strategy") {
      set_strategy(v, params_.sampling_strategy, params_.sampling_ratio, name());
    } else if (k == "k_neighbors") {
      param::assign(name(), k, v, params_.k_neighbors);
    } else if (k == "random_state") {
      param::assign(name(), k, v, params_.random_state);
    } else if (k == "n_jobs") {
      param::assign(name(), k, v, params_.n_jobs);
    } else {
      param::unknown(name(), k, get_params());
    }
  }
}

std::pair<Tensor, Tensor> SMOTE::fit_resample(const Tensor& X, const Tensor& y) {
  const std::string who = "SMOTE.fit_resample";
  KILN_CHECK(params_.k_neighbors >= 1, who, ": k_neighbors must be >= 1, got ", params_.k_neighbors);
  auto [m, labels] = xy(X, y, who);
  auto counts = class_counts(labels);
  n_new_ = prep_detail::sampling_targets(
      {params_.sampling_strategy, params_.sampling_ratio, params_.sampling_counts}, counts, true, who);
  const int64_t k = params_.k_neighbors, d = m.cols;
  int64_t total_new = 0;
  for (const auto& [c, n] : n_new_) {
    KILN_CHECK(n == 0 || counts[c] > k, who, ": class ", c, " has ", counts[c],
               " samples, too few for k_neighbors=", k,
               " (need at least k_neighbors + 1); lower k_neighbors");
    total_new += n;
  }
  Matrix out(m.rows + total_new, d);
  std::copy(m.v.begin(), m.v.end(), out.v.begin());
  std::vector<int64_t> out_y = labels;
  std::mt19937_64 rng(static_cast<uint64_t>(params_.random_state));
  int64_t row = m.rows;
  const int threads = params_.n_jobs > 0 ? static_cast<int>(params_.n_jobs) : kiln::get_num_threads();
  for (const auto& [c, n_new] : n_new_) {
    if (n_new == 0) continue;
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < m.rows; ++i)
      if (labels[i] == c) idx.push_back(i);
    const auto nc = static_cast<int64_t>(idx.size());
    // nn[i * k + j]: the j-th nearest other row of the class (ties broken by position).
    std::vector<int64_t> nn(static_cast<size_t>(nc * k));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < nc; ++i) {
      std::vector<std::pair<double, int64_t>> dist;
      dist.reserve(static_cast<size_t>(nc - 1));
      for (int64_t j = 0; j < nc; ++j) {
        if (j == i) continue;
        double s = 0;
        for (int64_t f = 0; f < d; ++f) {
          double diff = m.at(idx[i], f) - m.at(idx[j], f);
          s += diff * diff;
        }
        dist.emplace_back(s, j);
      }
      std::partial_sort(dist.begin(), dist.begin() + k, dist.end());
      for (int64_t j = 0; j < k; ++j) nn[i * k + j] = dist[j].second;
    }
    std::uniform_int_distribution<int64_t> pick(0, nc * k - 1);
    std::uniform_real_distribution<double> step(0.0, 1.0);
    for (int64_t s = 0; s < n_new; ++s, ++row) {
      int64_t p = pick(rng);
      int64_t a = idx[p / k], b = idx[nn[p]];
      double u = step(rng);
      for (int64_t f = 0; f < d; ++f) out.at(row, f) = m.at(a, f) + u * (m.at(b, f) - m.at(a, f));
      out_y.push_back(c);
    }
  }
  fitted_ = true;
  return {prep_detail::from_matrix(out), prep_detail::labels_tensor(out_y)};
}

const std::map<int64_t, int64_t>& SMOTE::sampling_strategy_() const {
  validation::check_fitted(fitted_, name() + ".sampling_strategy_");
  return n_new_;
}

// ---------------- RandomUnderSampler ----------------

ParamMap RandomUnderSampler::get_params() const {
  ParamMap p{{"replacement", params_.replacement}, {"random_state", params_.random_state}};
  if (params_.sampling_ratio > 0)
    p["sampling_strategy"] = params_.sampling_ratio;
  else
    p["sampling_strategy"] = params_.sampling_strategy;
  return p;
}

void RandomUnderSampler::set_params(const ParamMap& params) {
  for (const auto& [k, v] : params) {
    if (k == "sampling_strategy") {
      set_strategy(v, params_.sampling_strategy, params_.sampling_ratio, name());
    } else if (k == "replacement") {
      param::assign(name(), k, v, params_.replacement);
    } else if (k == "random_state") {
      param::assign(name(), k, v, params_.random_state);
    } else {
      param::unknown(name(), k, get_params());
    }
  }
}

std::pair<Tensor, Tensor> RandomUnderSampler::fit_resample(const Tensor& X, const Tensor& y) {
  const std::string who = "RandomUnderSampler.fit_resample";
  auto [m, labels] = xy(X, y, who);
  auto counts = class_counts(labels);
  n_keep_ = prep_detail::sampling_targets(
      {params_.sampling_strategy, params_.sampling_ratio, params_.sampling_counts}, counts, false, who);
  std::mt19937_64 rng(static_cast<uint64_t>(params_.random_state));
  indices_.clear();
  for (const auto& [c, n] : counts) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < m.rows; ++i)
      if (labels[i] == c) idx.push_back(i);
    auto it = n_keep_.find(c);
    if (it != n_keep_.end()) {
      std::vector<int64_t> chosen;
      if (params_.replacement) {
        std::uniform_int_distribution<size_t> pick(0, idx.size() - 1);
        for (int64_t s = 0; s < it->second; ++s) chosen.push_back(idx[pick(rng)]);
      } else {
        std::shuffle(idx.begin(), idx.end(), rng);
        chosen.assign(idx.begin(), idx.begin() + it->second);
      }
      std::sort(chosen.begin(), chosen.end());
      idx = std::move(chosen);
    }
    indices_.insert(indices_.end(), idx.begin(), idx.end());
  }
  std::vector<int64_t> out_y;
  for (int64_t i : indices_) out_y.push_back(labels[i]);
  fitted_ = true;
  return {prep_detail::from_matrix(prep_detail::take_rows(m, indices_)), prep_detail::labels_tensor(out_y)};
}

const std::map<int64_t, int64_t>& RandomUnderSampler::sampling_strategy_() const {
  validation::check_fitted(fitted_, name() + ".sampling_strategy_");
  return n_keep_;
}

Tensor RandomUnderSampler::sample_indices_() const {
  validation::check_fitted(fitted_, name() + ".sample_indices_");
  return prep_detail::labels_tensor(indices_);
}

}  // namespace kiln::classic
