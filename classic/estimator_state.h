// kiln/classic/estimator_state.h: helpers for Estimator::fitted_state / load_fitted_state: std::vectors to
// tensors and back, with the checks a state read from a file needs (present, dtype, size). Depends on
// tensor/ only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor/state_dict.h"

namespace kiln::classic::state {

Tensor f64(const std::vector<double>& v);
Tensor i64(const std::vector<std::int64_t>& v);
Tensor f64_scalar(double v);
Tensor i64_scalar(std::int64_t v);

// The entry as values; kiln::Error "<who>.load_fitted_state: ..." when it is missing, of another dtype, or
// (size >= 0) of another element count.
std::vector<double> f64_values(const StateDict& s, const std::string& name, const std::string& who,
                               std::int64_t size = -1);
std::vector<std::int64_t> i64_values(const StateDict& s, const std::string& name, const std::string& who,
                                     std::int64_t size = -1);
double f64_item(const StateDict& s, const std::string& name, const std::string& who);
std::int64_t i64_item(const StateDict& s, const std::string& name, const std::string& who);

}  // namespace kiln::classic::state
