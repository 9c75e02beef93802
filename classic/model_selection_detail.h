// kiln/classic/model_selection_detail.h: internal pieces shared by model_selection.cpp and search.cpp —
// the rows of one fold as tensors, fitting and scoring a clone on one split, and resolving cv / scoring /
// n_jobs. Not a public header.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kiln/classic/model_selection.h"

namespace kiln::classic::detail {

// X, y and sample_weight copied once (f64) so that every fold's rows are cheap to gather, from any thread.
struct FoldData {
  std::vector<double> x, y, sw;
  std::int64_t n = 0, d = 0;
  DType y_dtype = DType::f64;
  bool has_sw = false;

  Tensor X_rows(const std::vector<std::int64_t>& rows) const;   // (rows, D) f64
  Tensor y_rows(const std::vector<std::int64_t>& rows) const;   // (rows) in y's dtype
  Tensor sw_rows(const std::vector<std::int64_t>& rows) const;  // (rows) f64, or undefined
};
FoldData make_fold_data(const Tensor& X, const Tensor& y, const Tensor& sample_weight,
                        const std::string& who);

struct FoldResult {
  double fit_time = 0, score_time = 0;
  double test_score = 0, train_score = 0;
  std::string error;  // the kiln::Error message when fit or scoring threw
};

// Clones `proto`, applies `params`, fits on split.train and scores on split.test (and split.train).
// Errors are caught into FoldResult::error, so this is safe inside a parallel region.
FoldResult fit_and_score(const Predictor& proto, const ParamMap& params, const FoldData& data,
                         const Split& split, const ScoreFunction& scorer, bool train_score);

std::unique_ptr<Predictor> clone_predictor(const Predictor& proto, const std::string& who);
std::vector<Split> resolve_cv(const Predictor& estimator, std::int64_t cv,
                              const std::shared_ptr<const CrossValidator>& splitter, const Tensor& X,
                              const Tensor& y, const std::string& who);
ScoreFunction resolve_scorer(const std::string& scoring, const ScoreFunction& fn);
int resolve_jobs(std::int64_t n_jobs);

// kiln's stream for splits and searches: mt19937_64 from random_state, or from std::random_device.
std::mt19937_64 make_rng(const std::optional<std::int64_t>& random_state);
// Uniform integer in [0, n) without modulo bias (portable, unlike std::uniform_int_distribution).
std::int64_t uniform_below(std::mt19937_64& rng, std::int64_t n);
void shuffle(std::vector<std::int64_t>& v, std::mt19937_64& rng);  // Fisher-Yates

}  // namespace kiln::classic::detail
