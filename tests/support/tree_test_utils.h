// tests/support/tree_test_utils.h: helpers for the tree-model tests (test_classic_trees.cpp,
// test_classic_hgb.cpp): cases of tests/fixtures/sklearn_trees.txt, row selection, cross-validation on
// the fixture's folds, element-wise comparisons. Header-only; depends on fixture.h, classic_datasets.h.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/classic_datasets.h"
#include "support/fixture.h"

namespace kiln::tree_test {

// The case `name` of tests/fixtures/sklearn_trees.txt (read once).
inline kiln::test::FixtureCase fixture_case(const std::string& name) {
  static const std::vector<kiln::test::FixtureCase> cases =
      kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/sklearn_trees.txt");
  for (const auto& c : cases)
    if (c.name == name) return c;
  ADD_FAILURE() << "no case " << name << " in sklearn_trees.txt";
  return {};
}

inline void expect_near_all(const std::vector<double>& a, const std::vector<double>& b, double tol,
                            const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << what << "[" << i << "]";
}

// The rows idx of a 1-D or 2-D tensor (f64 or i64 kept).
inline Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx) {
  const int64_t n = static_cast<int64_t>(idx.size());
  const int64_t w = t.dim() == 2 ? t.size(1) : 1;
  Shape shape = t.dim() == 2 ? Shape{n, w} : Shape{n};
  if (t.dtype() == DType::i64) {
    const std::vector<int64_t> v = t.to_vector<int64_t>();
    std::vector<int64_t> out;
    for (int64_t i : idx) out.insert(out.end(), v.begin() + i * w, v.begin() + (i + 1) * w);
    return from_vector(out, shape);
  }
  const std::vector<double> v = t.to_vector<double>();
  std::vector<double> out;
  for (int64_t i : idx) out.insert(out.end(), v.begin() + i * w, v.begin() + (i + 1) * w);
  return from_vector(out, shape);
}

using FoldScore =
    std::function<double(const Tensor& Xtr, const Tensor& ytr, const Tensor& Xte, const Tensor& yte)>;

// Mean of score over the 5 folds of case folds_<data> (scikit-learn's splits of the generator).
inline double cross_validate_on_fixture_folds(const std::string& data, const FoldScore& score) {
  const auto ds = kiln::testing::load_dataset(data);
  const std::vector<double> fold = fixture_case("folds_" + data).get("fold").values;
  double total = 0;
  for (int k = 0; k < 5; ++k) {
    std::vector<int64_t> tr, te;
    for (size_t i = 0; i < fold.size(); ++i) (fold[i] == k ? te : tr).push_back(static_cast<int64_t>(i));
    total += score(take_rows(ds.X, tr), take_rows(ds.y, tr), take_rows(ds.X, te), take_rows(ds.y, te));
  }
  return total / 5;
}

// Indices of the k largest values, largest first.
inline std::vector<size_t> top_k(const std::vector<double>& v, size_t k) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  idx.resize(std::min(k, idx.size()));
  return idx;
}

// Mean of column cls of proba (N, K) over the rows whose label is cls.
inline double mean_proba_of_class(const Tensor& proba, const Tensor& y, int64_t cls) {
  const std::vector<double> p = proba.to_vector<double>();
  const std::vector<int64_t> labels = y.to_vector<int64_t>();
  const int64_t K = proba.size(1);
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == cls) sum += p[i * K + cls], ++count;
  return count ? sum / static_cast<double>(count) : 0.0;
}

}  // namespace kiln::tree_test
