// kiln/classic/estimator_state.cpp: the default fitted-state hooks and their helpers (estimator.h,
// estimator_state.h).
#include "kiln/classic/estimator_state.h"

#include "kiln/classic/estimator.h"
#include "kiln/tensor/error.h"

namespace kiln::classic {

StateDict Estimator::fitted_state() const {
  KILN_CHECK(false, name(), ": saving a fitted ", name(), " is not supported yet (no fitted_state())");
  return {};
}

void Estimator::load_fitted_state(const StateDict&) {
  KILN_CHECK(false, name(), ": loading a fitted ", name(), " is not supported yet (no load_fitted_state())");
}

namespace state {

Tensor f64(const std::vector<double>& v) { return from_vector(v); }
Tensor i64(const std::vector<std::int64_t>& v) { return from_vector(v); }
Tensor f64_scalar(double v) { return scalar_tensor(v, {.dtype = DType::f64}); }
Tensor i64_scalar(std::int64_t v) {
  Tensor t = scalar_tensor(0, {.dtype = DType::i64});
  *t.data<std::int64_t>() = v;
  return t;
}

namespace {
const Tensor& entry(const StateDict& s, const std::string& name, const std::string& who, DType dtype,
                    std::int64_t size) {
  KILN_CHECK(s.contains(name), who, ".load_fitted_state: no entry '", name, "'");
  const Tensor& t = s.at(name);
  KILN_CHECK(t.dtype() == dtype, who, ".load_fitted_state: '", name, "' is ", t.dtype(), ", expected ",
             dtype);
  KILN_CHECK(size < 0 || t.numel() == size, who, ".load_fitted_state: '", name, "' has ", t.numel(),
             " elements, expected ", size);
  return t;
}
}  // namespace

std::vector<double> f64_values(const StateDict& s, const std::string& name, const std::string& who,
                               std::int64_t size) {
  return entry(s, name, who, DType::f64, size).to_vector<double>();
}
std::vector<std::int64_t> i64_values(const StateDict& s, const std::string& name, const std::string& who,
                                     std::int64_t size) {
  return entry(s, name, who, DType::i64, size).to_vector<std::int64_t>();
}
double f64_item(const StateDict& s, const std::string& name, const std::string& who) {
  return entry(s, name, who, DType::f64, 1).to_vector<double>()[0];
}
std::int64_t i64_item(const StateDict& s, const std::string& name, const std::string& who) {
  return entry(s, name, who, DType::i64, 1).to_vector<std::int64_t>()[0];
}

}  // namespace state
}  // namespace kiln::classic
