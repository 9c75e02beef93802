// classic/hist_gradient_boosting_core.cpp: binning and the leaf-wise histogram tree grower of
// hist_gradient_boosting_core.h. Histograms are feature-major arrays of 256 bins; features are processed
// in parallel (OpenMP) for large nodes, and the results never depend on the thread count (each feature's
// histogram is summed by one thread, in sample order; the best split is reduced in feature order).
#include "kiln/classic/hist_gradient_boosting_core.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace kiln::classic::detail {

namespace {

constexpr int64_t kBins = 256;               // histogram stride per feature
constexpr double kMinHessianToSplit = 1e-3;  // scikit-learn's min_hessian_to_split
constexpr int64_t kParallelWork = 32768;     // below this many (samples x features), one thread

struct HistBin {
  double g, h;
  double count;
};

struct SplitInfo {
  double gain = 0;
  int32_t feature = -1;
  int32_t bin = 0;
  double g_left = 0, h_left = 0, n_left = 0;
};

struct Node {
  int64_t start, end, depth;
  double g, h;
  int32_t hist = -1;  // pool slot, -1 when released
  SplitInfo split = {};
  int32_t left = -1, right = -1;
};

}  // namespace

BinMapper BinMapper::fit(const std::vector<double>& rows, int64_t n, int64_t d, int64_t max_bins) {
  BinMapper m;
  m.thresholds.resize(d);
  std::vector<double> col(n);
  for (int64_t f = 0; f < d; ++f) {
    for (int64_t i = 0; i < n; ++i) col[i] = rows[i * d + f];
    std::sort(col.begin(), col.end());
    std::vector<double> distinct(col);
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::vector<double>& t = m.thresholds[f];
    if (static_cast<int64_t>(distinct.size()) <= max_bins) {
      for (size_t j = 0; j + 1 < distinct.size(); ++j) t.push_back((distinct[j] + distinct[j + 1]) * 0.5);
    } else {
      // The midpoint percentiles at 100 * j / max_bins, j = 1 .. max_bins - 1 (numpy's method="midpoint").
      for (int64_t j = 1; j < max_bins; ++j) {
        const double pos =
            static_cast<double>(j) / static_cast<double>(max_bins) * static_cast<double>(n - 1);
        const int64_t lo = static_cast<int64_t>(std::floor(pos)), hi = static_cast<int64_t>(std::ceil(pos));
        t.push_back((col[lo] + col[hi]) * 0.5);
      }
      t.erase(std::unique(t.begin(), t.end()), t.end());
    }
  }
  return m;
}

std::vector<uint8_t> BinMapper::transform(const std::vector<double>& rows, int64_t n, int jobs) const {
  const int64_t d = n_features();
  std::vector<uint8_t> bins(static_cast<size_t>(n * d));
#pragma omp parallel for schedule(static) num_threads(jobs) if (n * d > kParallelWork)
  for (int64_t f = 0; f < d; ++f) {
    const std::vector<double>& t = thresholds[f];
    for (int64_t i = 0; i < n; ++i)
      bins[f * n + i] =
          static_cast<uint8_t>(std::lower_bound(t.begin(), t.end(), rows[i * d + f]) - t.begin());
  }
  return bins;
}

int64_t HgbTree::leaf_count() const {
  int64_t c = 0;
  for (int32_t l : left) c += l < 0;
  return c;
}

struct HgbGrower::Impl {
  const std::vector<uint8_t>& bins;
  int64_t n, d;
  const BinMapper& mapper;
  GrowerSettings s;
  std::vector<int32_t> samples, scratch;
  std::vector<double> og, oh;  // gradients and hessians gathered in a node's sample order
  std::vector<std::vector<HistBin>> pool;
  std::vector<int32_t> free_slots;
  std::vector<Node> nodes;
  std::vector<SplitInfo> per_feature;

  Impl(const std::vector<uint8_t>& b, int64_t n_, const BinMapper& m, const GrowerSettings& st)
      : bins(b), n(n_), d(m.n_features()), mapper(m), s(st) {
    samples.resize(n), scratch.resize(n), og.resize(n), oh.resize(n), per_feature.resize(d);
  }

  int32_t take_slot() {
    if (free_slots.empty()) {
      pool.emplace_back(static_cast<size_t>(d * kBins));
      return static_cast<int32_t>(pool.size() - 1);
    }
    const int32_t slot = free_slots.back();
    free_slots.pop_back();
    return slot;
  }
  void release(Node& node) {
    if (node.hist >= 0) free_slots.push_back(node.hist);
    node.hist = -1;
  }

  int64_t n_bins(int64_t f) const { return static_cast<int64_t>(mapper.thresholds[f].size()) + 1; }

  void build_histogram(const Node& node, const double* g, const double* h) {
    const int64_t m = node.end - node.start;
    const int32_t* idx = samples.data() + node.start;
    for (int64_t j = 0; j < m; ++j) og[j] = g[idx[j]], oh[j] = h[idx[j]];
    HistBin* hist = pool[node.hist].data();
#pragma omp parallel for schedule(static) num_threads(s.jobs) if (m * d > kParallelWork)
    for (int64_t f = 0; f < d; ++f) {
      HistBin* hb = hist + f * kBins;
      std::fill_n(hb, n_bins(f), HistBin{0, 0, 0});
      const uint8_t* bf = bins.data() + f * n;
      for (int64_t j = 0; j < m; ++j) {
        HistBin& b = hb[bf[idx[j]]];
        b.g += og[j], b.h += oh[j], b.count += 1;
      }
    }
  }

  void subtract_histogram(int32_t from, int32_t sub) {  // pool[from] -= pool[sub]
    HistBin* a = pool[from].data();
    const HistBin* b = pool[sub].data();
    for (int64_t f = 0; f < d; ++f)
      for (int64_t k = 0, nb = n_bins(f); k < nb; ++k) {
        HistBin& x = a[f * kBins + k];
        const HistBin& y = b[f * kBins + k];
        x.g -= y.g, x.h -= y.h, x.count -= y.count;
      }
  }

  double node_loss(double g, double h) const { return g * g / (h + s.l2_regularization); }

  void find_split(Node& node) {
    const HistBin* hist = pool[node.hist].data();
    const double total_n = static_cast<double>(node.end - node.start),
                 msl = static_cast<double>(s.min_samples_leaf);
    const double parent = node_loss(node.g, node.h);
#pragma omp parallel for schedule(static) num_threads(s.jobs) if ((node.end - node.start) * d > kParallelWork)
    for (int64_t f = 0; f < d; ++f) {
      SplitInfo best;
      const HistBin* hb = hist + f * kBins;
      double gl = 0, hl = 0, nl = 0;
      for (int64_t b = 0, nb = n_bins(f); b + 1 < nb; ++b) {
        gl += hb[b].g, hl += hb[b].h, nl += hb[b].count;
        if (nl < msl) continue;
        if (total_n - nl < msl) break;
        const double gr = node.g - gl, hr = node.h - hl;
        if (hl < kMinHessianToSplit || hr < kMinHessianToSplit) continue;
        const double gain = node_loss(gl, hl) + node_loss(gr, hr) - parent;
        if (gain > best.gain) best = {gain, static_cast<int32_t>(f), static_cast<int32_t>(b), gl, hl, nl};
      }
      per_feature[f] = best;
    }
    node.split = SplitInfo{};
    for (int64_t f = 0; f < d; ++f)
      if (per_feature[f].feature >= 0 && per_feature[f].gain > node.split.gain) node.split = per_feature[f];
  }

  bool splittable(const Node& node) const {
    return (s.max_depth < 0 || node.depth < s.max_depth) && node.end - node.start >= 2 * s.min_samples_leaf;
  }

  // Stable partition of the node's samples: left (bin <= split bin) first, sample order kept.
  int64_t partition(const Node& node) {
    const uint8_t* bf = bins.data() + static_cast<int64_t>(node.split.feature) * n;
    const uint8_t cut = static_cast<uint8_t>(node.split.bin);
    int64_t l = node.start, r = 0;
    for (int64_t j = node.start; j < node.end; ++j) {
      const int32_t i = samples[j];
      if (bf[i] <= cut)
        samples[l++] = i;
      else
        scratch[r++] = i;
    }
    std::copy_n(scratch.begin(), r, samples.begin() + l);
    return l;
  }
};

HgbGrower::HgbGrower(const std::vector<uint8_t>& bins, int64_t n, const BinMapper& mapper,
                     const GrowerSettings& s)
    : impl_(std::make_unique<Impl>(bins, n, mapper, s)) {}
HgbGrower::~HgbGrower() = default;

HgbTree HgbGrower::grow(const double* g, const double* h, double* raw, int64_t raw_stride, int64_t raw_col) {
  Impl& m = *impl_;
  for (int64_t i = 0; i < m.n; ++i) m.samples[i] = static_cast<int32_t>(i);
  m.nodes.clear();
  Node root{0, m.n, 0, 0, 0};
  for (int64_t i = 0; i < m.n; ++i) root.g += g[i], root.h += h[i];
  root.hist = m.take_slot();
  m.nodes.push_back(root);
  auto by_gain = [&](int32_t a, int32_t b) { return m.nodes[a].split.gain < m.nodes[b].split.gain; };
  std::priority_queue<int32_t, std::vector<int32_t>, decltype(by_gain)> heap(by_gain);
  auto consider = [&](int32_t id) {
    Node& node = m.nodes[id];
    if (m.splittable(node)) m.find_split(node);
    if (node.split.feature >= 0)
      heap.push(id);
    else
      m.release(node);
  };
  m.build_histogram(m.nodes[0], g, h);
  consider(0);
  int64_t leaves = 1;
  while (!heap.empty() && (m.s.max_leaf_nodes < 0 || leaves < m.s.max_leaf_nodes)) {
    const int32_t pid = heap.top();
    heap.pop();
    const int64_t mid = m.partition(m.nodes[pid]);
    const Node p = m.nodes[pid];
    Node left{p.start, mid, p.depth + 1, p.split.g_left, p.split.h_left};
    Node right{mid, p.end, p.depth + 1, p.g - p.split.g_left, p.h - p.split.h_left};
    // The smaller child gets a fresh histogram; the larger one takes the parent's, minus the smaller's.
    const bool left_small = mid - p.start <= p.end - mid;
    Node& small = left_small ? left : right;
    Node& large = left_small ? right : left;
    small.hist = m.take_slot();
    large.hist = p.hist;
    m.build_histogram(small, g, h);
    m.subtract_histogram(large.hist, small.hist);
    const int32_t lid = static_cast<int32_t>(m.nodes.size());
    m.nodes[pid].left = lid, m.nodes[pid].right = lid + 1, m.nodes[pid].hist = -1;
    m.nodes.push_back(left);
    m.nodes.push_back(right);
    ++leaves;
    consider(lid);
    consider(lid + 1);
  }
  while (!heap.empty()) m.release(m.nodes[heap.top()]), heap.pop();

  HgbTree tree;
  const int64_t count = static_cast<int64_t>(m.nodes.size());
  tree.left.resize(count), tree.right.resize(count), tree.feature.assign(count, -1);
  tree.bin.assign(count, 0), tree.threshold.assign(count, 0.0), tree.value.assign(count, 0.0);
  for (int64_t k = 0; k < count; ++k) {
    const Node& node = m.nodes[k];
    tree.left[k] = node.left, tree.right[k] = node.right;
    if (node.left >= 0) {
      tree.feature[k] = node.split.feature;
      tree.bin[k] = static_cast<uint8_t>(node.split.bin);
      tree.threshold[k] = m.mapper.thresholds[node.split.feature][node.split.bin];
      continue;
    }
    // scikit-learn's leaf value, -G / (H + l2), shrunk by the learning rate.
    const double v = m.s.learning_rate * (-node.g / (node.h + m.s.l2_regularization + 1e-15));
    tree.value[k] = v;
    for (int64_t j = node.start; j < node.end; ++j) raw[m.samples[j] * raw_stride + raw_col] += v;
  }
  return tree;
}

}  // namespace kiln::classic::detail
