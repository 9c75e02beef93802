// kiln/nn/io/checkpoint_estimator.cpp: classic::save / classic::load (checkpoint_estimator.h).
#include "kiln/nn/io/checkpoint_estimator.h"

#include "kiln/nn/io/hdf5_format.h"
#include "kiln/tensor/error.h"

namespace kiln::classic {

namespace {

namespace d = kiln::nn::io::detail;
constexpr const char* kKindAttr = "kiln_kind";

void write_params(const d::H5Out& out, const ParamMap& params) {
  d::Handle g = d::create_group(out, out.file, "params");
  for (const auto& [name, value] : params) {
    d::Handle ds;
    std::string kind;
    if (const bool* b = std::get_if<bool>(&value)) {
      Tensor t = scalar_tensor(0, {.dtype = DType::boolean});
      *t.data<bool>() = *b;
      ds = d::write_tensor(out, g, name, t), kind = "bool";
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
      Tensor t = scalar_tensor(0, {.dtype = DType::i64});
      *t.data<std::int64_t>() = *i;
      ds = d::write_tensor(out, g, name, t), kind = "int";
    } else if (const auto* r = std::get_if<double>(&value)) {
      ds = d::write_tensor(out, g, name, scalar_tensor(*r, {.dtype = DType::f64})), kind = "real";
    } else {
      ds = d::write_string_dataset(out, g, name, std::get<std::string>(value)), kind = "string";
    }
    d::write_string_attr(out, ds, kKindAttr, kind);
  }
  d::write_int_attr(out, g, d::kEntriesAttr, static_cast<std::int64_t>(params.size()));
}

ParamMap read_params(const d::H5In& in, hid_t group) {
  ParamMap params;
  for (const std::string& name : d::list_group(in, group, "params")) {
    const std::string shown = "params/" + name;
    d::Handle ds = d::hdf5_own(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, in.path,
                               "cannot open the dataset '" + shown + "'");
    const std::string kind = d::read_string_attr(in, ds, kKindAttr).value_or("");
    if (kind == "string") {
      params[name] = d::read_string_dataset(in, group, name, shown);
      continue;
    }
    const Tensor t = d::read_tensor(in, group, name, shown);
    KILN_CHECK(t.dim() == 0, in.path, ": '", shown, "' is not a scalar");
    if (kind == "bool" && t.dtype() == DType::boolean) {
      params[name] = t.item<bool>();
    } else if (kind == "int" && t.dtype() == DType::i64) {
      params[name] = t.item<std::int64_t>();
    } else {
      KILN_CHECK(kind == "real" && t.dtype() == DType::f64, in.path, ": '", shown, "' has the kind '", kind,
                 "' and dtype ", t.dtype(), ", not a parameter kiln wrote");
      params[name] = t.item<double>();
    }
  }
  return params;
}

}  // namespace

void save(const std::string& path, const Estimator& estimator) {
  KILN_CHECK(estimator.is_fitted(), path, ": cannot save an unfitted ", estimator.name(),
             " (call fit() first)");
  const ParamMap params = estimator.get_params();
  const StateDict fitted = estimator.fitted_state();
  d::write_kiln_file(path, "estimator", estimator.name(), [&](const d::H5Out& out) {
    d::write_string_attr(out, out.file, "estimator", estimator.name());
    write_params(out, params);
    d::write_state_dict(out, out.file, "fitted", fitted);
  });
}

void load(const std::string& path, Estimator& estimator) {
  ParamMap params;
  StateDict fitted;
  {
    auto lock = d::hdf5_lock();
    d::H5In in = d::open_kiln_file(path, "estimator");
    KILN_CHECK(in.kiln_file, path, ": not a kiln estimator file (no kiln attributes)");
    const std::string saved = d::read_string_attr(in, in.file, "estimator").value_or("");
    KILN_CHECK(saved == estimator.name(), path, ": holds a fitted ", saved.empty() ? "(unnamed)" : saved,
               ", not a ", estimator.name());
    d::Handle p = d::open_group(in, in.file, "params", "params");
    d::Handle f = d::open_group(in, in.file, "fitted", "fitted");
    KILN_CHECK(p.get() >= 0 && f.get() >= 0, path, ": the 'params' or 'fitted' group is missing");
    params = read_params(in, p);
    fitted = d::read_state_dict(in, f, "fitted");
  }
  // Parameters first: an estimator's fitted state is interpreted under its parameters.
  try {
    estimator.set_params(params);
    estimator.load_fitted_state(fitted);
  } catch (const Error& e) {
    KILN_CHECK(false, path, ": ", e.what());
  }
}

}  // namespace kiln::classic
