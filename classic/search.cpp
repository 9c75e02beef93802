// kiln/classic/search.cpp: BaseSearchCV (fit over candidates x folds, ranking, refit), GridSearchCV's
// candidate enumeration and RandomizedSearchCV's sampling (search.h).
#include "kiln/classic/search.h"
#include "kiln/classic/validation.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "kiln/classic/linear_detail.h"
#include "kiln/classic/model_selection_detail.h"

namespace kiln::classic {
namespace {

template <class P>
SearchParams search_params(const P& p) {
  return {p.scoring, p.scoring_fn, p.cv, p.splitter, p.refit, p.return_train_score, p.n_jobs};
}

void mean_std(const std::vector<double>& v, double& mean, double& sd) {
  mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  sd = std::sqrt(var / static_cast<double>(v.size()));
}

const std::string kPrefix = "estimator__";

}  // namespace

BaseSearchCV::BaseSearchCV(const Predictor& estimator, SearchParams search)
    : estimator_(selection_detail::clone_predictor(estimator, "search")), search_(std::move(search)) {}

BaseSearchCV::BaseSearchCV(const BaseSearchCV& other)
    : estimator_(selection_detail::clone_predictor(*other.estimator_, other.name())),
      search_(other.search_),
      schema_(other.schema_) {}

ParamMap BaseSearchCV::get_params() const {
  ParamMap m = {{"scoring", search_.scoring},
                {"cv", search_.cv},
                {"refit", search_.refit},
                {"return_train_score", search_.return_train_score},
                {"n_jobs", search_.n_jobs}};
  for (const auto& [k, v] : estimator_->get_params()) m[kPrefix + k] = v;
  return m;
}

void BaseSearchCV::set_params(const ParamMap& params) {
  SearchParams q = search_;
  ParamMap inner;
  for (const auto& [k, v] : params) {
    if (k.rfind(kPrefix, 0) == 0)
      inner[k.substr(kPrefix.size())] = v;
    else if (k == "scoring")
      param::assign(name(), k, v, q.scoring);
    else if (k == "cv")
      param::assign(name(), k, v, q.cv);
    else if (k == "refit")
      param::assign(name(), k, v, q.refit);
    else if (k == "return_train_score")
      param::assign(name(), k, v, q.return_train_score);
    else if (k == "n_jobs")
      param::assign(name(), k, v, q.n_jobs);
    else
      param::unknown(name(), k, get_params());
  }
  if (!inner.empty()) estimator_->set_params(inner);
  search_ = q;
}

BaseSearchCV& BaseSearchCV::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = name() + ".fit";
  std::vector<ParamMap> cands = candidates();
  KILN_CHECK(!cands.empty(), who, ": no candidate parameter settings (empty grid or n_iter = 0)");
  // Unknown names or wrong types fail here, once, rather than as NaN scores in every fold.
  for (const ParamMap& c : cands) selection_detail::clone_predictor(*estimator_, who)->set_params(c);
  selection_detail::FoldData data = selection_detail::make_fold_data(X, y, sample_weight, who);
  std::vector<Split> splits =
      selection_detail::resolve_cv(*estimator_, search_.cv, search_.splitter, X, y, who);
  ScoreFunction scorer = selection_detail::resolve_scorer(search_.scoring, search_.scoring_fn);
  const std::int64_t nc = static_cast<std::int64_t>(cands.size()),
                     nf = static_cast<std::int64_t>(splits.size());
  std::vector<selection_detail::FoldResult> res(nc * nf);
#pragma omp parallel for num_threads(selection_detail::resolve_jobs(search_.n_jobs)) schedule(dynamic)
  for (std::int64_t t = 0; t < nc * nf; ++t)
    res[t] = selection_detail::fit_and_score(*estimator_, cands[t / nf], data, splits[t % nf], scorer,
                                             search_.return_train_score);

  CVResults r;
  r.params = cands;
  warnings_.clear();
  std::int64_t failed = 0;
  for (std::int64_t c = 0; c < nc; ++c) {
    std::vector<double> test, train, fit_t, score_t;
    for (std::int64_t f = 0; f < nf; ++f) {
      const auto& fr = res[c * nf + f];
      if (!fr.error.empty()) {
        ++failed;
        warnings_.push_back(name() + ": candidate " + std::to_string(c) + ", fold " + std::to_string(f) +
                            " failed (score set to NaN): " + fr.error);
      }
      test.push_back(fr.test_score);
      train.push_back(fr.train_score);
      fit_t.push_back(fr.fit_time);
      score_t.push_back(fr.score_time);
    }
    double m, s;
    mean_std(test, m, s);
    r.mean_test_score.push_back(m), r.std_test_score.push_back(s);
    mean_std(fit_t, m, s);
    r.mean_fit_time.push_back(m), r.std_fit_time.push_back(s);
    mean_std(score_t, m, s);
    r.mean_score_time.push_back(m), r.std_score_time.push_back(s);
    r.split_test_scores.push_back(test);
    if (search_.return_train_score) {
      mean_std(train, m, s);
      r.mean_train_score.push_back(m), r.std_train_score.push_back(s);
      r.split_train_scores.push_back(train);
    }
  }
  KILN_CHECK(failed < nc * nf, who, ": all ", nc * nf, " fits failed; the first error: ", res[0].error);
  // Rank: 1 + the number of candidates with a strictly higher mean; NaN means rank after every number.
  for (std::int64_t c = 0; c < nc; ++c) {
    const double mc = r.mean_test_score[c];
    std::int64_t rank = 1;
    for (std::int64_t o = 0; o < nc; ++o) {
      const double mo = r.mean_test_score[o];
      if (std::isnan(mc) ? !std::isnan(mo) : (!std::isnan(mo) && mo > mc)) ++rank;
    }
    r.rank_test_score.push_back(rank);
  }
  best_index_ =
      std::min_element(r.rank_test_score.begin(), r.rank_test_score.end()) - r.rank_test_score.begin();
  for (const auto& w : warnings_) linear_detail::warn_once(w);
  results_ = std::move(r);
  n_splits_ = nf;
  best_estimator_.reset();
  if (search_.refit) {
    best_estimator_ = selection_detail::clone_predictor(*estimator_, who);
    best_estimator_->set_params(cands[best_index_]);
    best_estimator_->fit(X, y, sample_weight);
  }
  fitted_ = true;
  return *this;
}

void BaseSearchCV::check_fitted(const std::string& who, bool need_refit) const {
  validation::check_fitted(fitted_, who);
  KILN_CHECK(!need_refit || best_estimator_ != nullptr, who,
             ": needs refit = true (no best estimator was refitted)");
}

Tensor BaseSearchCV::predict(const Tensor& X) const {
  check_fitted(name() + ".predict", true);
  return best_estimator_->predict(X);
}

const Classifier& BaseSearchCV::best_classifier(const std::string& who) const {
  check_fitted(who, true);
  const auto* clf = dynamic_cast<const Classifier*>(best_estimator_.get());
  KILN_CHECK(clf != nullptr, who, ": the best estimator (", best_estimator_->name(), ") is not a Classifier");
  return *clf;
}

Tensor BaseSearchCV::predict_proba(const Tensor& X) const {
  return best_classifier(name() + ".predict_proba").predict_proba(X);
}

Tensor BaseSearchCV::classes() const { return best_classifier(name() + ".classes").classes(); }

double BaseSearchCV::score(const Tensor& X, const Tensor& y) const {
  check_fitted(name() + ".score", true);
  return selection_detail::resolve_scorer(search_.scoring, search_.scoring_fn)(*best_estimator_, X, y);
}

const Predictor& BaseSearchCV::best_estimator() const {
  check_fitted(name() + ".best_estimator", true);
  return *best_estimator_;
}

const ParamMap& BaseSearchCV::best_params() const {
  check_fitted(name() + ".best_params", false);
  return results_.params[best_index_];
}

double BaseSearchCV::best_score() const {
  check_fitted(name() + ".best_score", false);
  return results_.mean_test_score[best_index_];
}

std::int64_t BaseSearchCV::best_index() const {
  check_fitted(name() + ".best_index", false);
  return best_index_;
}

const CVResults& BaseSearchCV::cv_results() const {
  check_fitted(name() + ".cv_results", false);
  return results_;
}

// ---------------------------------------------------------------- GridSearchCV

GridSearchCV::GridSearchCV(const Predictor& estimator, Params p)
    : BaseSearchCV(estimator, search_params(p)), grid_(std::move(p.param_grid)) {
  for (const auto& g : grid_)
    for (const auto& [k, values] : g)
      KILN_CHECK(!values.empty(), "GridSearchCV: parameter \"", k, "\" has an empty list of values");
}

std::unique_ptr<Estimator> GridSearchCV::clone() const {
  Params p{grid_,
           search_.scoring,
           search_.scoring_fn,
           search_.cv,
           search_.splitter,
           search_.refit,
           search_.return_train_score,
           search_.n_jobs};
  return std::make_unique<GridSearchCV>(*estimator_, p);
}

std::vector<ParamMap> GridSearchCV::candidates() const {
  std::vector<ParamMap> out;
  for (const ParamGrid& g : grid_) {
    std::vector<ParamMap> partial = {{}};
    for (const auto& [k, values] : g) {  // names in sorted order; the last one varies fastest
      std::vector<ParamMap> next;
      for (const ParamMap& base : partial)
        for (const ParamValue& v : values) {
          ParamMap m = base;
          m[k] = v;
          next.push_back(std::move(m));
        }
      partial = std::move(next);
    }
    out.insert(out.end(), partial.begin(), partial.end());
  }
  return out;
}

// ---------------------------------------------------------------- RandomizedSearchCV

RandomizedSearchCV::RandomizedSearchCV(const Predictor& estimator, Params p)
    : BaseSearchCV(estimator, search_params(p)),
      dist_(std::move(p.param_distributions)),
      n_iter_(p.n_iter),
      random_state_(p.random_state) {
  KILN_CHECK(n_iter_ >= 1, "RandomizedSearchCV: n_iter must be >= 1, got ", n_iter_);
  for (const auto& [k, d] : dist_) {
    if (const auto* list = std::get_if<std::vector<ParamValue>>(&d)) {
      KILN_CHECK(!list->empty(), "RandomizedSearchCV: parameter \"", k, "\" has an empty list of values");
    } else {
      const auto& dist = std::get<Distribution>(d);
      KILN_CHECK(dist.low < dist.high && std::isfinite(dist.low) && std::isfinite(dist.high) &&
                     (dist.kind != Distribution::Kind::loguniform || dist.low > 0),
                 "RandomizedSearchCV: parameter \"", k, "\" has an invalid distribution range [", dist.low,
                 ", ", dist.high, "]");
    }
  }
}

std::unique_ptr<Estimator> RandomizedSearchCV::clone() const {
  Params p{dist_,
           n_iter_,
           random_state_,
           search_.scoring,
           search_.scoring_fn,
           search_.cv,
           search_.splitter,
           search_.refit,
           search_.return_train_score,
           search_.n_jobs};
  return std::make_unique<RandomizedSearchCV>(*estimator_, p);
}

std::vector<ParamMap> RandomizedSearchCV::candidates() const {
  auto rng = selection_detail::make_rng(random_state_);
  bool all_lists = true;
  std::int64_t grid_size = 1;
  for (const auto& [k, d] : dist_) {
    if (const auto* list = std::get_if<std::vector<ParamValue>>(&d))
      grid_size = std::min<std::int64_t>(grid_size * static_cast<std::int64_t>(list->size()), 1 << 30);
    else
      all_lists = false;
  }
  std::vector<ParamMap> out;
  if (all_lists) {
    // Distinct grid points: a partial Fisher-Yates over the grid's flat indices (mixed radix, last name
    // fastest).
    const std::int64_t take = std::min(n_iter_, grid_size);
    std::vector<std::int64_t> idx(grid_size);
    for (std::int64_t i = 0; i < grid_size; ++i) idx[i] = i;
    for (std::int64_t i = 0; i < take; ++i)
      std::swap(idx[i], idx[i + selection_detail::uniform_below(rng, grid_size - i)]);
    for (std::int64_t i = 0; i < take; ++i) {
      ParamMap m;
      std::int64_t rest = idx[i];
      for (auto it = dist_.rbegin(); it != dist_.rend(); ++it) {
        const auto& list = std::get<std::vector<ParamValue>>(it->second);
        const std::int64_t size = static_cast<std::int64_t>(list.size());
        m[it->first] = list[rest % size];
        rest /= size;
      }
      out.push_back(std::move(m));
    }
    return out;
  }
  for (std::int64_t i = 0; i < n_iter_; ++i) {
    ParamMap m;
    for (const auto& [k, d] : dist_) {
      if (const auto* list = std::get_if<std::vector<ParamValue>>(&d)) {
        m[k] = (*list)[selection_detail::uniform_below(rng, static_cast<std::int64_t>(list->size()))];
        continue;
      }
      const auto& dist = std::get<Distribution>(d);
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1), portable
      switch (dist.kind) {
        case Distribution::Kind::uniform:
          m[k] = dist.low + (dist.high - dist.low) * u;
          break;
        case Distribution::Kind::loguniform:
          m[k] = std::exp(std::log(dist.low) + (std::log(dist.high) - std::log(dist.low)) * u);
          break;
        case Distribution::Kind::randint:
          m[k] = static_cast<std::int64_t>(dist.low) +
                 selection_detail::uniform_below(rng, static_cast<std::int64_t>(dist.high - dist.low));
          break;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace kiln::classic
