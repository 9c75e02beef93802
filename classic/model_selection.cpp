// kiln/classic/model_selection.cpp: train_test_split, KFold, StratifiedKFold, cross_validate and the
// per-fold fit-and-score shared with search.cpp (model_selection_detail.h). Scorers are in
// model_selection_scoring.cpp.
#include "kiln/classic/model_selection.h"
#include "kiln/classic/pipeline.h"
#include "kiln/classic/tensor_convert.h"
#include "kiln/tensor/checked.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include "kiln/classic/linear_detail.h"
#include "kiln/classic/model_selection_detail.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/threads.h"

namespace kiln::classic {
namespace selection_detail {

std::mt19937_64 make_rng(const std::optional<std::int64_t>& random_state) {
  if (random_state) return std::mt19937_64(static_cast<std::uint64_t>(*random_state));
  std::random_device dev;
  return std::mt19937_64((static_cast<std::uint64_t>(dev()) << 32) ^ dev());
}

std::int64_t uniform_below(std::mt19937_64& rng, std::int64_t n) {
  const std::uint64_t un = static_cast<std::uint64_t>(n);
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % un;
  std::uint64_t r;
  do r = rng();
  while (r >= limit);
  return static_cast<std::int64_t>(r % un);
}

void shuffle(std::vector<std::int64_t>& v, std::mt19937_64& rng) {
  for (std::int64_t i = static_cast<std::int64_t>(v.size()) - 1; i > 0; --i)
    std::swap(v[i], v[uniform_below(rng, i + 1)]);
}

FoldData make_fold_data(const Tensor& X, const Tensor& y, const Tensor& sample_weight,
                        const std::string& who) {
  KILN_CHECK(X.defined() && X.dim() == 2, who, ": X must be 2-D (N samples, D features), got ",
             X.defined() ? shape_str(X.shape()) : std::string("undefined"));
  FoldData f;
  f.n = X.shape()[0];
  f.d = X.shape()[1];
  KILN_CHECK(y.defined() && y.dim() == 1 && y.shape()[0] == f.n, who, ": y must have shape [", f.n, "], got ",
             y.defined() ? shape_str(y.shape()) : std::string("undefined"));
  f.x = X.to_vector<double>();
  f.y = y.to_vector<double>();
  f.y_dtype = y.dtype();
  if (sample_weight.defined()) {
    KILN_CHECK(sample_weight.dim() == 1 && sample_weight.shape()[0] == f.n, who,
               ": sample_weight must have shape [", f.n, "], got ", shape_str(sample_weight.shape()));
    f.sw = sample_weight.to_vector<double>();
    f.has_sw = true;
  }
  return f;
}

Tensor FoldData::X_rows(const std::vector<std::int64_t>& rows) const {
  std::vector<double> out;
  out.reserve(rows.size() * d);
  for (std::int64_t r : rows) out.insert(out.end(), x.begin() + r * d, x.begin() + (r + 1) * d);
  return from_vector(out, Shape{static_cast<std::int64_t>(rows.size()), d});
}

Tensor FoldData::y_rows(const std::vector<std::int64_t>& rows) const {
  if (is_integral(y_dtype)) {
    std::vector<std::int64_t> out;
    for (std::int64_t r : rows) out.push_back(static_cast<std::int64_t>(y[r]));
    return cpu_contiguous_as(from_vector(out), y_dtype);
  }
  std::vector<double> out;
  for (std::int64_t r : rows) out.push_back(y[r]);
  return cpu_contiguous_as(from_vector(out), y_dtype);
}

Tensor FoldData::sw_rows(const std::vector<std::int64_t>& rows) const {
  if (!has_sw) return {};
  std::vector<double> out;
  for (std::int64_t r : rows) out.push_back(sw[r]);
  return from_vector(out);
}

std::unique_ptr<Predictor> clone_predictor(const Predictor& proto, const std::string& who) {
  std::unique_ptr<Estimator> e = proto.clone();
  auto* p = dynamic_cast<Predictor*>(e.get());
  KILN_CHECK(p != nullptr, who, ": ", proto.name(), ".clone() did not return a Predictor");
  e.release();
  return std::unique_ptr<Predictor>(p);
}

FoldResult fit_and_score(const Predictor& proto, const ParamMap& params, const FoldData& data,
                         const Split& split, const ScoreFunction& scorer, bool train_score) {
  using clock = std::chrono::steady_clock;
  FoldResult r;
  try {
    std::unique_ptr<Predictor> est = clone_predictor(proto, "fit_and_score");
    if (!params.empty()) est->set_params(params);
    Tensor X_train = data.X_rows(split.train), y_train = data.y_rows(split.train);
    auto t0 = clock::now();
    est->fit(X_train, y_train, data.sw_rows(split.train));
    auto t1 = clock::now();
    r.test_score = scorer(*est, data.X_rows(split.test), data.y_rows(split.test));
    auto t2 = clock::now();
    if (train_score) r.train_score = scorer(*est, X_train, y_train);
    r.fit_time = std::chrono::duration<double>(t1 - t0).count();
    r.score_time = std::chrono::duration<double>(t2 - t1).count();
  } catch (const std::exception& e) {
    r.error = e.what();
    r.test_score = r.train_score = std::nan("");
  }
  return r;
}

std::vector<Split> resolve_cv(const Predictor& estimator, std::int64_t cv,
                              const std::shared_ptr<const CrossValidator>& splitter, const Tensor& X,
                              const Tensor& y, const std::string& who) {
  if (splitter) return splitter->split(X, y);
  KILN_CHECK(cv >= 2, who, ": cv must be >= 2 folds, got ", cv);
  // scikit-learn's check_cv: stratified for a classifier with a class-label target. kiln's convention
  // carries the target kind in the dtype (integer labels, floating regression targets). is_classifier
  // judges a Pipeline by its final step (a Pipeline is a Classifier type whatever that step is).
  const bool classification =
      is_classifier(estimator) && y.defined() && is_integral(y.dtype()) && y.dtype() != DType::boolean;
  if (classification) return StratifiedKFold({.n_splits = cv}).split(X, y);
  return KFold({.n_splits = cv}).split(X, y);
}

ScoreFunction resolve_scorer(const std::string& scoring, const ScoreFunction& fn) {
  return fn ? fn : get_scorer(scoring);
}

int resolve_jobs(std::int64_t n_jobs) {
  return n_jobs > 0 ? static_cast<int>(n_jobs) : std::max(1, kiln::get_num_threads());
}

}  // namespace selection_detail

// ---------------------------------------------------------------- train_test_split

namespace {

std::int64_t resolve_size(double size, std::int64_t n, bool test, const char* what) {
  KILN_CHECK(size > 0 && std::isfinite(size), "train_test_split: ", what, " must be positive, got ", size);
  if (size < 1) {
    const double v = size * static_cast<double>(n);
    return static_cast<std::int64_t>(test ? std::ceil(v) : std::floor(v));
  }
  KILN_CHECK(size == std::floor(size), "train_test_split: ", what,
             " must be a fraction in (0, 1) or a whole number of rows, got ", size);
  return to_int64(size, "train_test_split", what);
}

// Splits `total` into per-class parts proportional to `counts`, never above `avail`: floors first, then the
// largest remainders (ties to the earlier class).
std::vector<std::int64_t> allocate(std::int64_t total, const std::vector<std::int64_t>& counts,
                                   const std::vector<std::int64_t>& avail, std::int64_t n) {
  const size_t k = counts.size();
  std::vector<std::int64_t> out(k);
  std::vector<std::pair<double, size_t>> rem;
  std::int64_t used = 0;
  for (size_t c = 0; c < k; ++c) {
    const double exact = static_cast<double>(total) * static_cast<double>(counts[c]) / static_cast<double>(n);
    out[c] = std::min(avail[c], static_cast<std::int64_t>(std::floor(exact)));
    used += out[c];
    rem.push_back({exact - std::floor(exact), c});
  }
  std::stable_sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t i = 0; used < total && i < 4 * k + 4; ++i) {
    const size_t c = rem[i % k].second;
    if (out[c] < avail[c]) ++out[c], ++used;
  }
  return out;
}

}  // namespace

Split train_test_split_indices(std::int64_t n, const TrainTestSplitParams& p) {
  KILN_CHECK(n >= 2, "train_test_split: needs at least 2 rows, got ", n);
  const std::int64_t n_test = resolve_size(p.test_size, n, true, "test_size");
  const std::int64_t n_train =
      p.train_size == 0 ? n - n_test : resolve_size(p.train_size, n, false, "train_size");
  KILN_CHECK(n_test >= 1 && n_train >= 1 && n_test + n_train <= n, "train_test_split: ", n_train, " train + ",
             n_test, " test rows do not fit in ", n, " rows (test_size ", p.test_size, ", train_size ",
             p.train_size, ")");
  Split s;
  auto rng = selection_detail::make_rng(p.random_state);
  if (!p.stratify.defined()) {
    std::vector<std::int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    if (!p.shuffle) {
      s.train.assign(idx.begin(), idx.begin() + n_train);
      s.test.assign(idx.begin() + n_train, idx.begin() + n_train + n_test);
      return s;
    }
    selection_detail::shuffle(idx, rng);
    s.test.assign(idx.begin(), idx.begin() + n_test);
    s.train.assign(idx.begin() + n_test, idx.begin() + n_test + n_train);
    return s;
  }
  KILN_CHECK(p.shuffle, "train_test_split: stratify requires shuffle = true (as in scikit-learn)");
  KILN_CHECK(p.stratify.dim() == 1 && p.stratify.shape()[0] == n,
             "train_test_split: stratify must have shape [", n, "], got ", shape_str(p.stratify.shape()));
  std::vector<double> labels = p.stratify.to_vector<double>();
  std::map<double, std::vector<std::int64_t>> by_class;
  for (std::int64_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);
  std::vector<std::int64_t> counts;
  for (auto& [label, rows] : by_class) {
    KILN_CHECK(rows.size() >= 2, "train_test_split: the least populated class in stratify (", label,
               ") has only 1 member; every class needs at least 2");
    counts.push_back(static_cast<std::int64_t>(rows.size()));
  }
  const std::int64_t k = static_cast<std::int64_t>(counts.size());
  KILN_CHECK(n_test >= k && n_train >= k, "train_test_split: with stratify, test (", n_test, ") and train (",
             n_train, ") rows must each be at least the number of classes (", k, ")");
  std::vector<std::int64_t> test_k = allocate(n_test, counts, counts, n);
  std::vector<std::int64_t> left(k);
  for (std::int64_t c = 0; c < k; ++c) left[c] = counts[c] - test_k[c];
  std::vector<std::int64_t> train_k = allocate(n_train, counts, left, n);
  std::int64_t c = 0;
  for (auto& [label, rows] : by_class) {
    selection_detail::shuffle(rows, rng);
    s.test.insert(s.test.end(), rows.begin(), rows.begin() + test_k[c]);
    s.train.insert(s.train.end(), rows.begin() + test_k[c], rows.begin() + test_k[c] + train_k[c]);
    ++c;
  }
  selection_detail::shuffle(s.test, rng);
  selection_detail::shuffle(s.train, rng);
  return s;
}

TrainTestSplit train_test_split(const Tensor& X, const Tensor& y, const TrainTestSplitParams& params) {
  selection_detail::FoldData data = selection_detail::make_fold_data(X, y, Tensor{}, "train_test_split");
  Split s = train_test_split_indices(data.n, params);
  return {cpu_contiguous_as(data.X_rows(s.train), X.dtype()),
          cpu_contiguous_as(data.X_rows(s.test), X.dtype()), data.y_rows(s.train), data.y_rows(s.test)};
}

// ---------------------------------------------------------------- K-fold

namespace {

std::int64_t rows_of(const Tensor& X, const std::string& who) {
  KILN_CHECK(X.defined() && X.dim() >= 1, who, ".split: X must have a first dimension of samples");
  return X.shape()[0];
}

std::vector<Split> splits_from_folds(const std::vector<std::int64_t>& fold_of, std::int64_t n_splits) {
  std::vector<Split> out(n_splits);
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(fold_of.size()); ++i)
    for (std::int64_t f = 0; f < n_splits; ++f) (f == fold_of[i] ? out[f].test : out[f].train).push_back(i);
  return out;
}

}  // namespace

std::vector<Split> KFold::split(const Tensor& X, const Tensor& /*y*/) const {
  const std::int64_t n = rows_of(X, "KFold");
  KILN_CHECK(p_.n_splits >= 2, "KFold: n_splits must be >= 2, got ", p_.n_splits);
  KILN_CHECK(p_.n_splits <= n, "KFold: cannot have n_splits = ", p_.n_splits,
             " greater than the number of samples ", n);
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (p_.shuffle) {
    auto rng = selection_detail::make_rng(p_.random_state);
    selection_detail::shuffle(order, rng);
  }
  std::vector<std::int64_t> fold_of(n);
  std::int64_t start = 0;
  for (std::int64_t f = 0; f < p_.n_splits; ++f) {
    const std::int64_t size = n / p_.n_splits + (f < n % p_.n_splits ? 1 : 0);
    for (std::int64_t i = start; i < start + size; ++i) fold_of[order[i]] = f;
    start += size;
  }
  return splits_from_folds(fold_of, p_.n_splits);
}

std::vector<Split> StratifiedKFold::split(const Tensor& X, const Tensor& y) const {
  const std::int64_t n = rows_of(X, "StratifiedKFold");
  KILN_CHECK(p_.n_splits >= 2, "StratifiedKFold: n_splits must be >= 2, got ", p_.n_splits);
  KILN_CHECK(y.defined() && y.dim() == 1 && y.shape()[0] == n, "StratifiedKFold.split: y must have shape [",
             n, "], got ", y.defined() ? shape_str(y.shape()) : std::string("undefined"));
  std::vector<double> labels = y.to_vector<double>();
  // Classes numbered in order of first appearance, as scikit-learn encodes them.
  std::map<double, std::int64_t> code;
  std::vector<std::int64_t> enc(n), counts;
  for (std::int64_t i = 0; i < n; ++i) {
    KILN_CHECK(std::isfinite(labels[i]) && labels[i] == std::floor(labels[i]),
               "StratifiedKFold.split: y must hold class labels (integers), got ", labels[i], " at index ",
               i);
    auto [it, fresh] = code.emplace(labels[i], static_cast<std::int64_t>(counts.size()));
    if (fresh) counts.push_back(0);
    enc[i] = it->second;
    ++counts[it->second];
  }
  const std::int64_t k = static_cast<std::int64_t>(counts.size());
  const std::int64_t largest = *std::max_element(counts.begin(), counts.end());
  KILN_CHECK(p_.n_splits <= largest, "StratifiedKFold: n_splits = ", p_.n_splits,
             " cannot be greater than the number of members in each class (largest class: ", largest, ")");
  const std::int64_t smallest = *std::min_element(counts.begin(), counts.end());
  if (p_.n_splits > smallest)
    linear_detail::warn_once("StratifiedKFold: the least populated class in y has only " +
                             std::to_string(smallest) +
                             " members, which is less than n_splits = " + std::to_string(p_.n_splits));
  // allocation[f][c]: how many of class c go to fold f — scikit-learn deals the sorted labels round-robin.
  std::vector<std::int64_t> sorted = enc;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<std::int64_t>> allocation(p_.n_splits, std::vector<std::int64_t>(k, 0));
  for (std::int64_t i = 0; i < n; ++i) ++allocation[i % p_.n_splits][sorted[i]];
  auto rng = selection_detail::make_rng(p_.random_state);
  std::vector<std::int64_t> fold_of(n);
  for (std::int64_t c = 0; c < k; ++c) {
    std::vector<std::int64_t> folds;
    for (std::int64_t f = 0; f < p_.n_splits; ++f) folds.insert(folds.end(), allocation[f][c], f);
    if (p_.shuffle) selection_detail::shuffle(folds, rng);
    std::int64_t j = 0;
    for (std::int64_t i = 0; i < n; ++i)
      if (enc[i] == c) fold_of[i] = folds[j++];
  }
  return splits_from_folds(fold_of, p_.n_splits);
}

// ---------------------------------------------------------------- cross_validate

CrossValidateResult cross_validate(const Predictor& estimator, const Tensor& X, const Tensor& y,
                                   const CrossValidateParams& p, const Tensor& sample_weight) {
  const std::string who = "cross_validate";
  selection_detail::FoldData data = selection_detail::make_fold_data(X, y, sample_weight, who);
  std::vector<Split> splits = selection_detail::resolve_cv(estimator, p.cv, p.splitter, X, y, who);
  ScoreFunction scorer = selection_detail::resolve_scorer(p.scoring, p.scoring_fn);
  const std::int64_t folds = static_cast<std::int64_t>(splits.size());
  std::vector<selection_detail::FoldResult> results(folds);
#pragma omp parallel for num_threads(selection_detail::resolve_jobs(p.n_jobs)) schedule(dynamic)
  for (std::int64_t f = 0; f < folds; ++f)
    results[f] =
        selection_detail::fit_and_score(estimator, {}, data, splits[f], scorer, p.return_train_score);
  CrossValidateResult out;
  for (std::int64_t f = 0; f < folds; ++f) {
    const auto& r = results[f];
    KILN_CHECK(r.error.empty(), who, ": fold ", f, " of ", folds, " (", estimator.name(),
               ") failed: ", r.error);
    out.fit_time.push_back(r.fit_time);
    out.score_time.push_back(r.score_time);
    out.test_score.push_back(r.test_score);
    if (p.return_train_score) out.train_score.push_back(r.train_score);
  }
  return out;
}

std::vector<double> cross_val_score(const Predictor& estimator, const Tensor& X, const Tensor& y,
                                    const CrossValidateParams& params, const Tensor& sample_weight) {
  return cross_validate(estimator, X, y, params, sample_weight).test_score;
}

}  // namespace kiln::classic
