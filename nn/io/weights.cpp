// kiln/nn/io/weights.cpp: save_weights / load_weights and the load report (weights.h).
#include "kiln/nn/io/weights.h"

#include <sstream>
#include <unordered_map>

#include "kiln/autograd/node.h"
#include "kiln/nn/io/hdf5_format.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io {

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
  return s;
}
std::string summary_of(const Module& model) {
  std::ostringstream os;
  os << model;
  return os.str();
}
}  // namespace

std::string LoadReport::str() const {
  if (ok()) return "all " + std::to_string(loaded.size()) + " entries matched";
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : "; ") + part; };
  if (!missing.empty()) add("missing keys (in the model, not in the file): [" + join(missing) + "]");
  if (!unexpected.empty()) add("unexpected keys (in the file, not in the model): [" + join(unexpected) + "]");
  for (const auto& m : mismatched) {
    std::ostringstream os;
    os << "mismatch '" << m.name << "': file " << shape_str(m.file_shape) << " " << m.file_dtype
       << " vs model " << shape_str(m.model_shape) << " " << m.model_dtype;
    add(os.str());
  }
  return s;
}

LoadReport compare_state(const StateDict& file, const Module& model) {
  LoadReport r;
  const StateDict own = model.state_dict();
  for (const auto& [name, t] : own) {
    if (!file.contains(name)) {
      r.missing.push_back(name);
      continue;
    }
    const Tensor& f = file.at(name);
    if (f.shape() != t.shape() || f.dtype() != t.dtype())
      r.mismatched.push_back({name, f.shape(), t.shape(), f.dtype(), t.dtype()});
    else
      r.loaded.push_back(name);
  }
  for (const auto& [name, t] : file)
    if (!own.contains(name)) r.unexpected.push_back(name);
  return r;
}

void apply_state(const StateDict& file, Module& model, LoadReport& report, bool strict,
                 const std::string& source) {
  KILN_CHECK(!strict || report.ok(), source, ": the weights do not match the model (", model.type_name(),
             "): ", report.str());
  std::unordered_map<std::string, Tensor> live;
  for (auto& [name, t] : model.named_parameters()) live.emplace(name, t);
  for (auto& [name, t] : model.named_buffers()) live.emplace(name, t);
  autograd::NoGradGuard no_grad;
  for (const std::string& name : report.loaded) {
    Tensor target = live.at(name);
    target.copy_(file.at(name).to(target.device()));
  }
}

void save_weights(const std::string& path, const Module& model) {
  const StateDict state = model.state_dict();
  detail::write_kiln_file(path, "weights", summary_of(model), [&](const detail::H5Out& out) {
    detail::write_state_dict(out, out.file, "model", state);
  });
}

StateDict read_group(const std::string& path, const std::string& group, Device device) {
  auto lock = detail::hdf5_lock();
  detail::H5In in = detail::open_kiln_file(path, "");
  StateDict dict;
  if (group.empty() || group == "/") {
    dict = detail::read_state_dict(in, in.file, "");
  } else {
    detail::Handle g = detail::open_group(in, in.file, group, group);
    KILN_CHECK(g.get() >= 0, path, ": has no group '", group, "'");
    dict = detail::read_state_dict(in, g, group);
  }
  if (device.is_cpu()) return dict;
  StateDict moved;
  for (const auto& [name, t] : dict) moved.insert(name, t.to(device));
  return moved;
}

LoadReport load_weights(const std::string& path, Module& model, const LoadOptions& options) {
  StateDict file;
  {
    auto lock = detail::hdf5_lock();
    detail::H5In in = detail::open_kiln_file(path, "weights");
    detail::Handle g = detail::open_group(in, in.file, "model", "model");
    KILN_CHECK(g.get() >= 0, path, ": has no group 'model' (not a kiln weights or checkpoint file)");
    file = detail::read_state_dict(in, g, "model");
  }
  LoadReport report = compare_state(file, model);
  apply_state(file, model, report, options.strict, path);
  return report;
}

}  // namespace kiln::nn::io
