// Tests of classic/imbalance.h: class weights against scikit-learn 1.2.1; SMOTE's synthetic rows lie on
// segments between a minority sample and one of its k nearest same-class neighbours, class counts follow
// each sampling strategy, the same seed gives the same rows; RandomUnderSampler's counts and rows; and an
// accuracy band against imbalanced-learn 0.10.1 (tests/fixtures/sklearn_imbalance.txt, written by
// tests/gen_sklearn_imbalance.py): balanced accuracy of scaler + SMOTE + 5-NN over fixed stratified folds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/fixture.h"
#include "support/helpers.h"

using namespace kiln;
using namespace kiln::classic;
using kiln::testing::error_of;

namespace {

const kiln::test::FixtureCase& fixture(const std::string& name) {
  static const auto cases = kiln::test::read_fixture_file(KILN_FIXTURES_DIR "/sklearn_imbalance.txt");
  for (const auto& c : cases)
    if (c.name == name) return c;
  throw std::runtime_error("no fixture case " + name);
}

// Brute-force k-NN with a majority vote (ties to the smallest label, as scikit-learn's mode).
class ToyKnn : public Classifier {
 public:
  explicit ToyKnn(int k = 5) : k_(k) {}
  std::string name() const override { return "ToyKnn"; }
  ParamMap get_params() const override { return {{"k", int64_t{k_}}}; }
  void set_params(const ParamMap&) override {}
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<ToyKnn>(k_); }
  bool is_fitted() const override { return !y_.empty(); }
  ToyKnn& fit(const Tensor& X, const Tensor& y, const Tensor& = {}) override {
    x_ = X.to_vector<double>();
    d_ = X.size(1);
    y_ = y.to_vector<int64_t>();
    return *this;
  }
  Tensor predict(const Tensor& X) const override {
    std::vector<double> q = X.to_vector<double>();
    std::vector<int64_t> out;
    const auto n = static_cast<int64_t>(y_.size());
    for (int64_t i = 0; i < X.size(0); ++i) {
      std::vector<std::pair<double, int64_t>> dist;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t f = 0; f < d_; ++f) s += std::pow(q[i * d_ + f] - x_[j * d_ + f], 2);
        dist.emplace_back(s, j);
      }
      std::partial_sort(dist.begin(), dist.begin() + k_, dist.end());
      std::map<int64_t, int> votes;
      for (int j = 0; j < k_; ++j) ++votes[y_[dist[j].second]];
      int64_t best = votes.begin()->first;
      for (const auto& [label, v] : votes)
        if (v > votes[best]) best = label;
      out.push_back(best);
    }
    return from_vector(out);
  }
  Tensor predict_proba(const Tensor&) const override { return Tensor(); }
  Tensor classes() const override { return Tensor(); }
  double score(const Tensor& X, const Tensor& y) const override { return accuracy_score(y, predict(X)); }

 private:
  int k_;
  int64_t d_ = 0;
  std::vector<double> x_;
  std::vector<int64_t> y_;
};

// Three Gaussian blobs with 60 / 15 / 8 rows.
std::pair<Tensor, Tensor> blobs(uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> x;
  std::vector<int64_t> y;
  const int counts[3] = {60, 15, 8};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < counts[c]; ++i) {
      x.push_back(n(rng) + 3.0 * c);
      x.push_back(n(rng) - 2.0 * c);
      x.push_back(n(rng));
      y.push_back(c == 2 ? 9 : c);  // labels 0, 1, 9
    }
  return {from_vector(x, Shape{static_cast<int64_t>(y.size()), 3}), from_vector(y)};
}

std::map<int64_t, int64_t> counts_of(const Tensor& y) {
  std::map<int64_t, int64_t> c;
  for (int64_t v : y.to_vector<int64_t>()) ++c[v];
  return c;
}

// Distance from p to the segment [a, b].
double segment_distance(const double* p, const double* a, const double* b, int64_t d) {
  double ab2 = 0, t = 0;
  for (int64_t f = 0; f < d; ++f) ab2 += (b[f] - a[f]) * (b[f] - a[f]), t += (p[f] - a[f]) * (b[f] - a[f]);
  t = ab2 == 0 ? 0 : std::clamp(t / ab2, 0.0, 1.0);
  double s = 0;
  for (int64_t f = 0; f < d; ++f) s += std::pow(p[f] - (a[f] + t * (b[f] - a[f])), 2);
  return std::sqrt(s);
}

// Checks that every synthetic row (from row n_orig on) lies on a segment from a same-class original row to
// one of that row's k nearest same-class original rows.
void expect_on_neighbour_segments(const Tensor& X, const Tensor& y, const Tensor& Xr, const Tensor& yr,
                                  int k) {
  const int64_t d = X.size(1), n = X.size(0);
  std::vector<double> x = X.to_vector<double>(), xr = Xr.to_vector<double>();
  std::vector<int64_t> lab = y.to_vector<int64_t>(), labr = yr.to_vector<int64_t>();
  for (int64_t i = 0; i < n * d; ++i) ASSERT_EQ(xr[i], x[i]) << "original rows come first, unchanged";
  for (int64_t s = n; s < Xr.size(0); ++s) {
    double best = INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      if (lab[i] != labr[s]) continue;
      std::vector<std::pair<double, int64_t>> dist;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i || lab[j] != lab[i]) continue;
        double dd = 0;
        for (int64_t f = 0; f < d; ++f) dd += std::pow(x[i * d + f] - x[j * d + f], 2);
        dist.emplace_back(dd, j);
      }
      std::sort(dist.begin(), dist.end());
      for (int j = 0; j < k; ++j)
        best = std::min(best, segment_distance(&xr[s * d], &x[i * d], &x[dist[j].second * d], d));
    }
    EXPECT_LT(best, 1e-9) << "synthetic row " << s << " of class " << labr[s]
                          << " is off every neighbour segment";
  }
}

}  // namespace

TEST(ClassicImbalance, ClassWeightsMatchSklearn) {
  const auto& c = fixture("class_weight");
  Tensor y = c.tensor("y"), classes = c.tensor("classes");
  auto expect_eq = [&](const Tensor& got, const std::string& label) {
    std::vector<double> g = got.to_vector<double>(), w = c.get(label).values;
    ASSERT_EQ(g.size(), w.size()) << label;
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-12) << label << "[" << i << "]";
  };
  expect_eq(compute_class_weight("balanced", classes, y), "balanced");
  expect_eq(compute_sample_weight("balanced", y), "sample_balanced");
  expect_eq(compute_sample_weight(std::map<int64_t, double>{{2, 0.5}, {9, 3.0}}, y), "sample_dict");
  EXPECT_EQ(compute_class_weight(std::map<int64_t, double>{{5, 2.0}}, classes, y).to_vector<double>(),
            (std::vector<double>{1, 2, 1}));
  EXPECT_CONTAINS(error_of([&] {
                    compute_class_weight("balanced", from_vector(std::vector<int64_t>{2, 5}), y);
                  }),
                  "y holds the label 9 which is not in classes");
  EXPECT_CONTAINS(error_of([&] {
                    compute_class_weight("balanced", from_vector(std::vector<int64_t>{2, 5, 9, 11}), y);
                  }),
                  "class 11 has no samples in y");
  EXPECT_CONTAINS(error_of([&] { compute_class_weight("auto", classes, y); }),
                  "class_weight must be 'balanced'");
  EXPECT_CONTAINS(error_of([&] {
                    compute_class_weight(std::map<int64_t, double>{{4, 1.0}}, classes, y);
                  }),
                  "class_weight names the class 4 which is not in classes");
}

TEST(ClassicImbalance, SmoteRowsLieOnNeighbourSegments) {
  auto [X, y] = blobs();
  for (int k : {1, 3, 5}) {
    SMOTE sm({.k_neighbors = k, .random_state = 11});
    auto [Xr, yr] = sm.fit_resample(X, y);
    EXPECT_EQ(counts_of(yr), (std::map<int64_t, int64_t>{{0, 60}, {1, 60}, {9, 60}}));
    EXPECT_EQ(sm.sampling_strategy_(), (std::map<int64_t, int64_t>{{1, 45}, {9, 52}}));
    expect_on_neighbour_segments(X, y, Xr, yr, k);
  }
}

TEST(ClassicImbalance, SmoteStrategies) {
  auto [X, y] = blobs();
  auto counts = [&](SMOTE::Params p) { return counts_of(SMOTE(p).fit_resample(X, y).second); };
  using M = std::map<int64_t, int64_t>;
  EXPECT_EQ(counts({.sampling_strategy = "minority"}), (M{{0, 60}, {1, 15}, {9, 60}}));
  EXPECT_EQ(counts({.sampling_strategy = "not minority"}), (M{{0, 60}, {1, 60}, {9, 8}}));
  EXPECT_EQ(counts({.sampling_strategy = "all"}), (M{{0, 60}, {1, 60}, {9, 60}}));
  EXPECT_EQ(counts({.sampling_counts = {{1, 20}, {9, 30}}}), (M{{0, 60}, {1, 20}, {9, 30}}));
  // A ratio needs binary y: keep classes 0 and 9.
  std::vector<int64_t> keep;
  std::vector<int64_t> labels = y.to_vector<int64_t>();
  std::vector<double> xs = X.to_vector<double>(), xb;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != 1)
      keep.push_back(labels[i]), xb.insert(xb.end(), xs.begin() + i * 3, xs.begin() + i * 3 + 3);
  Tensor Xb = from_vector(xb, Shape{static_cast<int64_t>(keep.size()), 3}), yb = from_vector(keep);
  EXPECT_EQ(counts_of(SMOTE({.sampling_ratio = 0.5}).fit_resample(Xb, yb).second), (M{{0, 60}, {9, 30}}));
  SMOTE by_name;
  by_name.set_params({{"sampling_strategy", 0.25}, {"k_neighbors", int64_t{2}}});
  EXPECT_EQ(counts_of(by_name.fit_resample(Xb, yb).second), (M{{0, 60}, {9, 15}}));
  EXPECT_EQ(std::get<double>(by_name.get_params().at("sampling_strategy")), 0.25);
}

TEST(ClassicImbalance, SmoteIsDeterministicPerSeed) {
  auto [X, y] = blobs();
  auto a = SMOTE({.random_state = 5}).fit_resample(X, y);
  auto b = SMOTE({.random_state = 5, .n_jobs = 1}).fit_resample(X, y);
  auto c = SMOTE({.random_state = 6}).fit_resample(X, y);
  EXPECT_EQ(a.first.to_vector<double>(), b.first.to_vector<double>());
  EXPECT_EQ(a.second.to_vector<int64_t>(), b.second.to_vector<int64_t>());
  EXPECT_NE(a.first.to_vector<double>(), c.first.to_vector<double>());
  // Float inputs are accepted and computed in f64.
  auto f = SMOTE({.random_state = 5}).fit_resample(from_vector(X.to_vector<float>(), X.shape()), y);
  EXPECT_EQ(f.first.dtype(), DType::f64);
}

TEST(ClassicImbalance, SmoteErrors) {
  auto [X, y] = blobs();
  EXPECT_CONTAINS(error_of([&] { SMOTE({.k_neighbors = 8}).fit_resample(X, y); }),
                  "SMOTE.fit_resample: class 9 has 8 samples, too few for k_neighbors=8");
  EXPECT_CONTAINS(error_of([&] { SMOTE({.k_neighbors = 0}).fit_resample(X, y); }),
                  "k_neighbors must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([&] { SMOTE({.sampling_strategy = "majority"}).fit_resample(X, y); }),
                  "'majority' cannot be used when over-sampling");
  EXPECT_CONTAINS(error_of([&] { SMOTE({.sampling_strategy = "most"}).fit_resample(X, y); }),
                  "sampling_strategy must be 'auto', 'minority'");
  EXPECT_CONTAINS(error_of([&] { SMOTE({.sampling_ratio = 0.5}).fit_resample(X, y); }),
                  "a float sampling_strategy (0.5) needs binary y, got counts {0: 60, 1: 15, 9: 8}");
  EXPECT_CONTAINS(error_of([&] {
                    SMOTE({.sampling_counts = {{1, 10}}}).fit_resample(X, y);
                  }),
                  "sampling_counts[1] = 10 is below the 15 samples of that class");
  EXPECT_CONTAINS(error_of([&] {
                    SMOTE({.sampling_counts = {{4, 10}}}).fit_resample(X, y);
                  }),
                  "sampling_counts names the class 4 which is not in y");
  EXPECT_CONTAINS(error_of([&] {
                    SMOTE().fit_resample(X, from_vector(std::vector<int64_t>{1, 2}));
                  }),
                  "X has 83 rows but y has 2 labels");
  EXPECT_CONTAINS(error_of([&] { SMOTE().fit_resample(X, from_vector(std::vector<int64_t>(83, 4))); }),
                  "y must hold at least 2 classes");
  EXPECT_CONTAINS(error_of([&] { SMOTE().sampling_strategy_(); }),
                  "SMOTE.sampling_strategy_: this estimator is not fitted yet");
  EXPECT_CONTAINS(error_of([&] {
                    SMOTE().set_params({{"k", int64_t{1}}});
                  }),
                  "SMOTE.set_params: unknown parameter 'k'");
}

TEST(ClassicImbalance, RandomUnderSampler) {
  auto [X, y] = blobs();
  using M = std::map<int64_t, int64_t>;
  RandomUnderSampler rus({.random_state = 2});
  auto [Xr, yr] = rus.fit_resample(X, y);
  EXPECT_EQ(counts_of(yr), (M{{0, 8}, {1, 8}, {9, 8}}));
  // Every kept row is an original row with its label.
  std::vector<int64_t> idx = rus.sample_indices_().to_vector<int64_t>();
  std::vector<double> x = X.to_vector<double>(), xr = Xr.to_vector<double>();
  std::vector<int64_t> lab = y.to_vector<int64_t>(), labr = yr.to_vector<int64_t>();
  ASSERT_EQ(idx.size(), 24u);
  for (size_t r = 0; r < idx.size(); ++r) {
    EXPECT_EQ(labr[r], lab[idx[r]]);
    for (int f = 0; f < 3; ++f) EXPECT_EQ(xr[r * 3 + f], x[idx[r] * 3 + f]);
  }
  EXPECT_EQ(std::set<int64_t>(idx.begin(), idx.end()).size(), idx.size()) << "without replacement";
  auto counts = [&](RandomUnderSampler::Params p) {
    return counts_of(RandomUnderSampler(p).fit_resample(X, y).second);
  };
  EXPECT_EQ(counts({.sampling_strategy = "majority"}), (M{{0, 8}, {1, 15}, {9, 8}}));
  EXPECT_EQ(counts({.sampling_strategy = "not majority"}), (M{{0, 60}, {1, 8}, {9, 8}}));
  EXPECT_EQ(counts({.sampling_counts = {{0, 30}}}), (M{{0, 30}, {1, 15}, {9, 8}}));
  EXPECT_EQ(counts({.replacement = true}), (M{{0, 8}, {1, 8}, {9, 8}}));
  // Same seed, same rows; another seed, other rows.
  EXPECT_EQ(RandomUnderSampler({.random_state = 2}).fit_resample(X, y).first.to_vector<double>(), xr);
  EXPECT_NE(RandomUnderSampler({.random_state = 3}).fit_resample(X, y).first.to_vector<double>(), xr);
  EXPECT_CONTAINS(error_of([&] { RandomUnderSampler({.sampling_strategy = "minority"}).fit_resample(X, y); }),
                  "'minority' cannot be used when under-sampling");
  EXPECT_CONTAINS(error_of([&] {
                    RandomUnderSampler({.sampling_counts = {{9, 20}}}).fit_resample(X, y);
                  }),
                  "sampling_counts[9] = 20 is above the 8 samples of that class");
  EXPECT_CONTAINS(error_of([&] { RandomUnderSampler().sample_indices_(); }), "not fitted yet");
}

TEST(ClassicImbalance, SmoteAccuracyBandAgainstImbalancedLearn) {
  const auto& c = fixture("smote_band");
  Tensor X = c.tensor("X"), y = c.tensor("y");
  std::vector<int64_t> fold = c.tensor("fold").to_vector<int64_t>();
  std::vector<double> xs = X.to_vector<double>();
  std::vector<int64_t> ys = y.to_vector<int64_t>();
  const int64_t d = X.size(1);
  auto part = [&](int k, bool test) {
    std::vector<double> px;
    std::vector<int64_t> py;
    for (size_t i = 0; i < ys.size(); ++i)
      if ((fold[i] == k) == test)
        px.insert(px.end(), xs.begin() + i * d, xs.begin() + (i + 1) * d), py.push_back(ys[i]);
    return std::pair{from_vector(px, Shape{static_cast<int64_t>(py.size()), d}), from_vector(py)};
  };
  auto cv = [&](const Pipeline& proto) {
    double sum = 0;
    for (int k = 0; k < 5; ++k) {
      auto [Xtr, ytr] = part(k, false);
      auto [Xte, yte] = part(k, true);
      Pipeline p = proto;
      p.fit(Xtr, ytr);
      sum += balanced_accuracy_score(yte, p.predict(Xte));
    }
    return sum / 5;
  };
  Pipeline base;
  base.add("scale", StandardScaler()).add("knn", ToyKnn(5));
  double baseline = cv(base);
  // The same model without SMOTE is deterministic: it matches scikit-learn's 5-NN closely.
  EXPECT_NEAR(baseline, c.get("baseline_balanced_accuracy").values[0], 0.01);
  double smote = 0;
  for (int64_t seed = 0; seed < 10; ++seed) {
    Pipeline p;
    p.add("scale", StandardScaler())
        .add("smote", SMOTE({.k_neighbors = 5, .random_state = seed}))
        .add("knn", ToyKnn(5));
    smote += cv(p) / 10;
  }
  const double reference = c.get("smote_balanced_accuracy").values[0];
  std::cout << "balanced accuracy, 5-fold CV: 5-NN " << baseline << "; + SMOTE kiln " << smote
            << ", imbalanced-learn " << reference << "\n";
  EXPECT_NEAR(smote, reference, 0.03) << "SMOTE's effect must match imbalanced-learn's within the band";
  EXPECT_GT(smote, baseline + 0.02) << "SMOTE must help the minority class on held-out folds";
}
