// classic/tree_builder.cpp: the CART engine (see tree_builder.h): feature ranks, depth-first growth with
// scikit-learn's stopping rules, exact best splits from per-node rank histograms or sorts. Depends on
// tree_common.h and OpenMP (FeatureCodes::make only).
#include "kiln/classic/tree_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace kiln::classic::detail {

namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
// Values closer than this count as equal, as in scikit-learn (FEATURE_THRESHOLD).
constexpr double kFeatureThreshold = 1e-7;

struct Frame {
  int64_t start, end, depth;
  int32_t parent;
  bool is_left;
  int64_t n_constants;  // features known to be constant here (found so in an ancestor)
};

// Grows one tree. A node's samples are the range [start, end) of samples_, partitioned in place.
// Statistics rows have width S: classification [count, W, w_0 .. w_{K-1}], regression [count, W, Wy, Wyy].
class Builder {
 public:
  Builder(const FeatureCodes& X, const TreeSettings& s, const int32_t* yc, const double* yr,
          const std::vector<double>& w, Rng& rng)
      : X_(X), s_(s), yc_(yc), yr_(yr), w_(w), rng_(rng) {
    classify_ = s.criterion != Criterion::squared_error;
    S_ = classify_ ? 2 + s.n_classes : 4;
    for (int64_t i = 0; i < X.n; ++i)
      if (w[i] > 0) samples_.push_back(static_cast<int32_t>(i));
    size_t max_u = 0;
    for (const auto& v : X.values) max_u = std::max(max_u, v.size());
    hist_.assign(max_u * S_, 0.0);
    total_.resize(S_), left_.resize(S_), right_.resize(S_), best_left_.resize(S_);
    features_.resize(X.d);
    for (int64_t f = 0; f < X.d; ++f) features_[f] = static_cast<int32_t>(f);
    constant_features_ = features_;
    scratch_.resize(samples_.size());
  }

  Tree run();

 private:
  void add_sample(double* row, int32_t i) const {
    const double w = w_[i];
    row[0] += 1;
    row[1] += w;
    if (classify_) {
      row[2 + yc_[i]] += w;
    } else {
      row[2] += w * yr_[i];
      row[3] += w * yr_[i] * yr_[i];
    }
  }
  // add_sample for the node's j-th row, from the node's gathered weights and targets (contiguous, unlike
  // w_ and y at the scattered row indices).
  void add_local(double* row, int64_t j) const {
    const double w = node_w_[j];
    row[0] += 1;
    row[1] += w;
    if (classify_) {
      row[2 + node_yc_[j]] += w;
    } else {
      row[2] += w * node_yr_[j];
      row[3] += w * node_yr_[j] * node_yr_[j];
    }
  }
  double impurity(const double* row) const;
  double proxy(const double* left, const double* right) const;
  // Tries every candidate threshold of feature f in [start, end); returns false if f is constant there.
  bool try_feature(int32_t f, int64_t start, int64_t end);
  template <class Code>
  bool try_feature(int32_t f, int64_t start, int64_t end, const Code* code);
  template <class Code>
  int64_t partition(int64_t start, int64_t end, const Code* code);
  // Finds the best split of [start, end) into best_*; returns the number of features known to be constant
  // there afterwards (for the children).
  int64_t find_split(int64_t start, int64_t end, int64_t n_known_constants);
  int32_t add_node(const Frame& fr, double imp);

  const FeatureCodes& X_;
  const TreeSettings& s_;
  const int32_t* yc_;
  const double* yr_;
  const std::vector<double>& w_;
  Rng& rng_;
  bool classify_;
  int64_t S_;
  Tree tree_;
  std::vector<int32_t> samples_, scratch_, features_, constant_features_;
  std::vector<double> hist_, runs_, total_, left_, right_, best_left_, node_w_, node_yr_;
  std::vector<int32_t> node_yc_;
  std::vector<uint32_t> run_codes_;
  std::vector<uint64_t> sort_buf_;
  // The best split so far at the current node.
  int32_t best_feature_ = -1;
  uint32_t best_code_ = 0;
  double best_threshold_ = 0, best_proxy_ = 0;
};

double Builder::impurity(const double* row) const {
  const double W = row[1];
  if (W <= 0) return 0.0;
  switch (s_.criterion) {
    case Criterion::gini: {
      double sq = 0;
      for (int64_t k = 0; k < s_.n_classes; ++k) sq += row[2 + k] * row[2 + k];
      return 1.0 - sq / (W * W);
    }
    case Criterion::entropy: {
      double e = 0;
      for (int64_t k = 0; k < s_.n_classes; ++k)
        if (row[2 + k] > 0) {
          const double p = row[2 + k] / W;
          e -= p * std::log2(p);
        }
      return e;
    }
    case Criterion::squared_error: {
      const double mean = row[2] / W;
      return row[3] / W - mean * mean;
    }
  }
  return 0.0;
}

// Larger is better; orders splits like the weighted child impurity (scikit-learn's proxy improvement).
double Builder::proxy(const double* l, const double* r) const {
  if (s_.criterion == Criterion::squared_error) return l[2] * l[2] / l[1] + r[2] * r[2] / r[1];
  return -(r[1] * impurity(r)) - (l[1] * impurity(l));
}

bool Builder::try_feature(int32_t f, int64_t start, int64_t end) {
  if (X_.values[f].size() <= 1) return false;
  const int64_t at = static_cast<int64_t>(f) * X_.n;
  return X_.code8.empty() ? try_feature(f, start, end, X_.code.data() + at)
                          : try_feature(f, start, end, X_.code8.data() + at);
}

template <class Code>
bool Builder::try_feature(int32_t f, int64_t start, int64_t end, const Code* code) {
  const std::vector<double>& vals = X_.values[f];
  const int64_t U = static_cast<int64_t>(vals.size());
  const int64_t n = end - start;
  const int32_t* idx = samples_.data() + start;
  run_codes_.clear();
  // Large nodes: a histogram over the feature's ranks; small ones: sort the node's ranks.
  const bool use_hist = static_cast<double>(U) <= 4.0 * n * std::max(1.0, std::log2(static_cast<double>(n)));
  if (use_hist) {
    for (int64_t j = 0; j < n; ++j) {
      // The node's rows are scattered over the column: fetch ahead to overlap the cache misses.
      if (j + 16 < n) __builtin_prefetch(code + idx[j + 16]);
      const uint32_t c = code[idx[j]];
      double* row = &hist_[c * S_];
      if (row[0] == 0) run_codes_.push_back(c);
      add_local(row, j);
    }
    // The occupied bins in order: sort the few touched ones, or scan all when most are touched.
    if (static_cast<int64_t>(run_codes_.size()) * 16 < U) {
      std::sort(run_codes_.begin(), run_codes_.end());
    } else {
      run_codes_.clear();
      for (int64_t c = 0; c < U; ++c)
        if (hist_[c * S_] > 0) run_codes_.push_back(static_cast<uint32_t>(c));
    }
  } else {
    sort_buf_.resize(n);
    for (int64_t j = 0; j < n; ++j)
      sort_buf_[j] = (static_cast<uint64_t>(code[idx[j]]) << 32) | static_cast<uint32_t>(j);
    std::sort(sort_buf_.begin(), sort_buf_.end());
    runs_.clear();
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t c = static_cast<uint32_t>(sort_buf_[j] >> 32);
      if (run_codes_.empty() || run_codes_.back() != c) {
        run_codes_.push_back(c);
        runs_.resize(runs_.size() + S_, 0.0);
      }
      add_local(&runs_[runs_.size() - S_], static_cast<int64_t>(sort_buf_[j] & 0xffffffffu));
    }
  }
  const int64_t R = static_cast<int64_t>(run_codes_.size());
  auto stats = [&](int64_t r) { return use_hist ? &hist_[run_codes_[r] * S_] : &runs_[r * S_]; };
  const bool constant = vals[run_codes_[R - 1]] <= vals[run_codes_[0]] + kFeatureThreshold;
  if (!constant) {
    std::fill(left_.begin(), left_.end(), 0.0);
    const double msl = static_cast<double>(s_.min_samples_leaf);
    // Gini: the proxy -(W_l gini_l + W_r gini_r) equals sq_l / W_l + sq_r / W_r - W, with sq the sums of
    // squared class weights, which are updated only for the classes present in each run.
    const bool gini = s_.criterion == Criterion::gini;
    const int64_t K = s_.n_classes;
    double sq_l = 0, sq_r = 0;
    if (gini)
      for (int64_t k = 0; k < K; ++k) sq_r += total_[2 + k] * total_[2 + k];
    for (int64_t r = 0; r + 1 < R; ++r) {
      const double* st = stats(r);
      if (gini) {
        left_[0] += st[0], left_[1] += st[1];
        for (int64_t k = 0; k < K; ++k) {
          if (st[2 + k] == 0) continue;
          const double a = left_[2 + k], b = a + st[2 + k], ra = total_[2 + k] - a, rb = total_[2 + k] - b;
          sq_l += b * b - a * a, sq_r += rb * rb - ra * ra;
          left_[2 + k] = b;
        }
      } else {
        for (int64_t k = 0; k < S_; ++k) left_[k] += st[k];
      }
      const double lo = vals[run_codes_[r]], hi = vals[run_codes_[r + 1]];
      if (hi <= lo + kFeatureThreshold) continue;
      if (left_[0] < msl || total_[0] - left_[0] < msl) continue;
      double p;
      if (gini) {
        p = sq_l / left_[1] + sq_r / (total_[1] - left_[1]) - total_[1];
      } else {
        for (int64_t k = 0; k < S_; ++k) right_[k] = total_[k] - left_[k];
        p = proxy(left_.data(), right_.data());
      }
      if (best_feature_ < 0 || p > best_proxy_) {
        best_feature_ = f;
        best_code_ = run_codes_[r];
        best_proxy_ = p;
        double t = lo / 2.0 + hi / 2.0;
        if (t == hi || !std::isfinite(t)) t = lo;
        best_threshold_ = t;
        best_left_ = left_;
      }
    }
  }
  if (use_hist)
    for (uint32_t c : run_codes_) std::fill_n(&hist_[c * S_], S_, 0.0);
  return !constant;
}

int64_t Builder::find_split(int64_t start, int64_t end, int64_t n_known) {
  best_feature_ = -1;
  const int64_t D = X_.d, n = end - start;
  node_w_.resize(n);
  for (int64_t j = 0; j < n; ++j) node_w_[j] = w_[samples_[start + j]];
  if (classify_) {
    node_yc_.resize(n);
    for (int64_t j = 0; j < n; ++j) node_yc_[j] = yc_[samples_[start + j]];
  } else {
    node_yr_.resize(n);
    for (int64_t j = 0; j < n; ++j) node_yr_[j] = yr_[samples_[start + j]];
  }
  // scikit-learn's feature sampling, also when max_features is every feature: visiting the features in a
  // seeded random order per node breaks ties between equally good splits by the seed, not by the column
  // order. features_ is always a permutation of the features: [0, n_known) are the constant features
  // inherited from the ancestors (drawn at no cost), constants found here move next to them, and tried
  // non-constant features move to the end. Drawing stops after max_features draws, or later if all of
  // them were constant.
  int64_t f_i = D, n_drawn = 0, n_found = 0, n_total = n_known, visited = 0;
  while (f_i > n_total && (visited < s_.max_features || visited <= n_found + n_drawn)) {
    ++visited;
    int64_t f_j = n_drawn + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(f_i - n_found - n_drawn)));
    if (f_j < n_known) {
      std::swap(features_[n_drawn], features_[f_j]);
      ++n_drawn;
      continue;
    }
    f_j += n_found;
    if (!try_feature(features_[f_j], start, end)) {
      std::swap(features_[f_j], features_[n_total]);
      ++n_found, ++n_total;
      continue;
    }
    --f_i;
    std::swap(features_[f_i], features_[f_j]);
  }
  // Drawing permuted features_[0, n_known); put the inherited constants back in the order the ancestors
  // recorded, so that every later node (a sibling, after this node's whole subtree) finds in
  // features_[0, its n_known) exactly the constant_features_ prefix it was given. Restoring only at the
  // start of a node instead would overwrite that prefix with features a descendant had moved there,
  // duplicating some features and dropping others.
  std::copy_n(constant_features_.begin(), n_known, features_.begin());
  std::copy_n(features_.begin() + n_known, n_found, constant_features_.begin() + n_known);
  return n_total;
}

int32_t Builder::add_node(const Frame& fr, double imp) {
  const int32_t id = static_cast<int32_t>(tree_.left.size());
  tree_.left.push_back(-1), tree_.right.push_back(-1), tree_.feature.push_back(-2);
  tree_.threshold.push_back(-2.0);
  tree_.impurity.push_back(imp);
  tree_.weighted_n.push_back(total_[1]);
  tree_.n_samples.push_back(static_cast<int64_t>(total_[0]));
  // A forest's bootstrap can draw only rows of weight 0: that tree is one leaf with no weight, which
  // predicts uniform probabilities (or 0) rather than 0 / 0.
  const double W = total_[1];
  if (classify_) {
    for (int64_t k = 0; k < s_.n_classes; ++k)
      tree_.value.push_back(W > 0 ? total_[2 + k] / W : 1.0 / static_cast<double>(s_.n_classes));
  } else {
    tree_.value.push_back(W > 0 ? total_[2] / W : 0.0);
  }
  if (fr.parent >= 0) (fr.is_left ? tree_.left : tree_.right)[fr.parent] = id;
  tree_.max_depth = std::max(tree_.max_depth, fr.depth);
  return id;
}

// A stable partition keeps each node's sample indices increasing, so the per-feature loops read the
// feature columns front to back.
template <class Code>
int64_t Builder::partition(int64_t start, int64_t end, const Code* code) {
  int64_t split = start, n_right = 0;
  for (int64_t j = start; j < end; ++j) {
    const int32_t i = samples_[j];
    if (code[i] <= best_code_)
      samples_[split++] = i;
    else
      scratch_[n_right++] = i;
  }
  std::copy_n(scratch_.begin(), n_right, samples_.begin() + split);
  return split;
}

Tree Builder::run() {
  tree_.width = classify_ ? s_.n_classes : 1;
  std::vector<Frame> stack = {{0, static_cast<int64_t>(samples_.size()), 0, -1, false, 0}};
  while (!stack.empty()) {
    const Frame fr = stack.back();
    stack.pop_back();
    std::fill(total_.begin(), total_.end(), 0.0);
    for (int64_t j = fr.start; j < fr.end; ++j) add_sample(total_.data(), samples_[j]);
    const int64_t n = fr.end - fr.start;
    const double imp = impurity(total_.data());
    bool leaf = (s_.max_depth >= 0 && fr.depth >= s_.max_depth) || n < s_.min_samples_split ||
                n < 2 * s_.min_samples_leaf || imp <= kEpsilon;
    const int32_t id = add_node(fr, imp);
    int64_t n_constants = 0;
    if (!leaf) n_constants = find_split(fr.start, fr.end, fr.n_constants);
    if (!leaf && best_feature_ >= 0) {
      for (int64_t k = 0; k < S_; ++k) right_[k] = total_[k] - best_left_[k];
      const double W = total_[1];
      const double improvement =
          (W / tree_.weighted_n[0]) *
          (imp - best_left_[1] / W * impurity(best_left_.data()) - right_[1] / W * impurity(right_.data()));
      leaf = improvement + kEpsilon < s_.min_impurity_decrease;
    } else {
      leaf = true;
    }
    if (leaf) continue;
    const int64_t at = static_cast<int64_t>(best_feature_) * X_.n;
    const int64_t split = X_.code8.empty() ? partition(fr.start, fr.end, X_.code.data() + at)
                                           : partition(fr.start, fr.end, X_.code8.data() + at);
    tree_.feature[id] = best_feature_;
    tree_.threshold[id] = best_threshold_;
    stack.push_back({split, fr.end, fr.depth + 1, id, false, n_constants});
    stack.push_back({fr.start, split, fr.depth + 1, id, true, n_constants});
  }
  tree_.pack();
  return std::move(tree_);
}

}  // namespace

FeatureCodes FeatureCodes::make(const std::vector<float>& rows, int64_t n, int64_t d, int n_threads) {
  KILN_CHECK(n < (int64_t{1} << 31), "tree: at most 2^31 - 1 training rows are supported, got ", n);
  FeatureCodes fc;
  fc.n = n, fc.d = d;
  fc.code.resize(static_cast<size_t>(n * d));
  fc.values.resize(d);
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<std::pair<float, int32_t>> col(n);
#pragma omp for schedule(dynamic, 8)
    for (int64_t f = 0; f < d; ++f) {
      for (int64_t i = 0; i < n; ++i) col[i] = {rows[i * d + f], static_cast<int32_t>(i)};
      std::sort(col.begin(), col.end());
      std::vector<double>& vals = fc.values[f];
      uint32_t* code = fc.code.data() + f * n;
      for (int64_t i = 0; i < n; ++i) {
        if (vals.empty() || static_cast<double>(col[i].first) != vals.back()) vals.push_back(col[i].first);
        code[col[i].second] = static_cast<uint32_t>(vals.size() - 1);
      }
    }
  }
  // One byte per value when every column has at most 256 distinct values (images, counts): a quarter of
  // the memory traffic.
  size_t max_u = 0;
  for (const auto& v : fc.values) max_u = std::max(max_u, v.size());
  if (max_u <= 256) {
    fc.code8.assign(fc.code.begin(), fc.code.end());
    std::vector<uint32_t>().swap(fc.code);
  }
  return fc;
}

void Tree::pack() {
  packed.resize(left.size());
  for (size_t i = 0; i < left.size(); ++i) packed[i] = {left[i], right[i], feature[i], threshold[i]};
}

int64_t Tree::leaf_count() const {
  int64_t c = 0;
  for (int32_t l : left) c += l < 0;
  return c;
}

void Tree::add_importances(std::vector<double>& importances) const {
  for (int64_t i = 0; i < node_count(); ++i) {
    if (left[i] < 0) continue;
    const int32_t l = left[i], r = right[i];
    importances[feature[i]] +=
        weighted_n[i] * impurity[i] - weighted_n[l] * impurity[l] - weighted_n[r] * impurity[r];
  }
}

Tree build_tree(const FeatureCodes& X, const TreeSettings& settings, const int32_t* y_class,
                const double* y_reg, const std::vector<double>& weight, Rng& rng) {
  Builder b(X, settings, y_class, y_reg, weight, rng);
  return b.run();
}

}  // namespace kiln::classic::detail
