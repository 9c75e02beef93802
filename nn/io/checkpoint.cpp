// kiln/nn/io/checkpoint.cpp: save_checkpoint / load_checkpoint (checkpoint.h).
#include "kiln/nn/io/checkpoint.h"

#include <bit>
#include <optional>
#include <sstream>

#include "kiln/nn/io/hdf5_format.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/random.h"

namespace kiln::nn::io {

namespace {

using detail::H5In;
using detail::H5Out;
using detail::Handle;

// The kind of an /extra entry, so an integer stays an integer (a 0-d i64 tensor reads back as a tensor).
constexpr const char* kKindAttr = "kiln_kind";

StateDict rng_state() {
  StateDict d;
  const Generator& g = default_generator();
  d.insert("seed", scalar_tensor(0, {.dtype = DType::i64}));
  d.insert("offset", scalar_tensor(0, {.dtype = DType::i64}));
  // The u64 bits as i64 (HDF5 files from other tools rarely have u64; the bits round-trip exactly).
  *d.at("seed").data<int64_t>() = std::bit_cast<int64_t>(g.seed());
  *d.at("offset").data<int64_t>() = std::bit_cast<int64_t>(g.offset());
  return d;
}

int64_t scalar_i64(const StateDict& d, const std::string& name, const std::string& where) {
  KILN_CHECK(d.contains(name), where, ": has no entry '", name, "'");
  const Tensor& t = d.at(name);
  KILN_CHECK(t.dim() == 0 && t.dtype() == DType::i64, where, "/", name, ": expected an i64 scalar, got ",
             t.dtype(), " ", shape_str(t.shape()));
  return t.item<int64_t>();
}

StateDict progress_state(const TrainingProgress& p) {
  StateDict d;
  d.insert("epoch", scalar_tensor(static_cast<double>(p.epoch), {.dtype = DType::i64}));
  d.insert("global_step", scalar_tensor(static_cast<double>(p.global_step), {.dtype = DType::i64}));
  return d;
}

StateDict history_state(const History& h) {
  StateDict d;
  for (const auto& [name, values] : h) d.insert(name, from_vector(values));
  return d;
}

void write_extra(const H5Out& out, const Extra& extra) {
  Handle g = detail::create_group(out, out.file, "extra");
  for (const auto& [key, value] : extra) {
    Handle d;
    std::string kind;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      Tensor t = scalar_tensor(0, {.dtype = DType::i64});
      *t.data<int64_t>() = *i;
      d = detail::write_tensor(out, g, key, t), kind = "int";
    } else if (const auto* r = std::get_if<double>(&value)) {
      d = detail::write_tensor(out, g, key, scalar_tensor(*r, {.dtype = DType::f64})), kind = "real";
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      d = detail::write_string_dataset(out, g, key, *s), kind = "string";
    } else {
      d = detail::write_tensor(out, g, key, std::get<Tensor>(value)), kind = "tensor";
    }
    detail::write_string_attr(out, d, kKindAttr, kind);
  }
  detail::write_int_attr(out, g, detail::kEntriesAttr, static_cast<int64_t>(extra.size()));
}

Extra read_extra(const H5In& in, hid_t group) {
  Extra extra;
  for (const std::string& key : detail::list_group(in, group, "extra")) {
    const std::string shown = "extra/" + key;
    Handle d = detail::hdf5_own(H5Dopen2(group, key.c_str(), H5P_DEFAULT), H5Dclose, in.path,
                                "cannot open the dataset '" + shown + "'");
    const std::string kind = detail::read_string_attr(in, d, kKindAttr).value_or("tensor");
    if (kind == "string") {
      extra[key] = detail::read_string_dataset(in, group, key, shown);
      continue;
    }
    Tensor t = detail::read_tensor(in, group, key, shown);
    if (kind == "int") {
      KILN_CHECK(t.dim() == 0 && t.dtype() == DType::i64, in.path, ": '", shown, "' is not an i64 scalar");
      extra[key] = t.item<int64_t>();
    } else if (kind == "real") {
      KILN_CHECK(t.dim() == 0 && t.dtype() == DType::f64, in.path, ": '", shown, "' is not an f64 scalar");
      extra[key] = t.item<double>();
    } else {
      KILN_CHECK(kind == "tensor", in.path, ": '", shown, "' has the unknown kind '", kind, "'");
      extra[key] = t;
    }
  }
  return extra;
}

// Everything a checkpoint file holds, read and verified while the file is open.
struct FileContent {
  std::optional<StateDict> model, optimizer, scheduler, grad_scaler, loader, rng, progress, history;
  std::optional<std::string> optimizer_name;
  Extra extra;
};

FileContent read_content(const std::string& path) {
  auto lock = detail::hdf5_lock();
  H5In in = detail::open_kiln_file(path, "checkpoint");
  FileContent c;
  auto group = [&](const char* name, std::optional<StateDict>& into) {
    Handle g = detail::open_group(in, in.file, name, name);
    if (g.get() >= 0) into = detail::read_state_dict(in, g, name);
  };
  group("model", c.model);
  group("optimizer", c.optimizer);
  group("scheduler", c.scheduler);
  group("grad_scaler", c.grad_scaler);
  group("loader", c.loader);
  group("rng", c.rng);
  group("progress", c.progress);
  group("history", c.history);
  if (c.optimizer) {
    Handle g = detail::open_group(in, in.file, "optimizer", "optimizer");
    c.optimizer_name = detail::read_string_attr(in, g, "name");
  }
  Handle extra = detail::open_group(in, in.file, "extra", "extra");
  if (extra.get() >= 0) c.extra = read_extra(in, extra);
  // save_checkpoint always writes these groups, so a kiln checkpoint without one was altered (a damaged
  // link would otherwise read as "no extra values" and pass silently).
  KILN_CHECK(!in.kiln_file || (c.model && c.progress && c.history && extra.get() >= 0), path,
             ": a group every kiln checkpoint has (model, progress, history, extra) is missing: the file is "
             "damaged");
  return c;
}

const StateDict& need(const std::optional<StateDict>& part, const std::string& path, const char* name) {
  KILN_CHECK(part.has_value(), path, ": the checkpoint has no '", name, "' group, but a ", name,
             " was given to load it into");
  return *part;
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const Checkpoint& parts) {
  // Snapshots first (the optimizer's are copies; the model's are views, written straight from memory).
  const StateDict model_state = model.state_dict();
  std::ostringstream summary;
  summary << model;
  detail::write_kiln_file(path, "checkpoint", summary.str(), [&](const H5Out& out) {
    detail::write_state_dict(out, out.file, "model", model_state);
    if (parts.optimizer != nullptr) {
      Handle g = detail::create_group(out, out.file, "optimizer");
      detail::write_string_attr(out, g, "name", parts.optimizer->name());
      const StateDict state = parts.optimizer->state_dict();
      for (const auto& [name, t] : state) detail::write_tensor(out, g, name, t);
      detail::write_int_attr(out, g, detail::kEntriesAttr, static_cast<int64_t>(state.size()));
    }
    if (parts.scheduler != nullptr)
      detail::write_state_dict(out, out.file, "scheduler", parts.scheduler->state_dict());
    if (parts.grad_scaler != nullptr)
      detail::write_state_dict(out, out.file, "grad_scaler", parts.grad_scaler->state_dict());
    if (parts.loader != nullptr)
      detail::write_state_dict(out, out.file, "loader", parts.loader->state_dict());
    if (parts.rng) detail::write_state_dict(out, out.file, "rng", rng_state());
    detail::write_state_dict(out, out.file, "progress", progress_state(parts.progress));
    detail::write_state_dict(out, out.file, "history", history_state(parts.history));
    write_extra(out, parts.extra);
  });
}

void save_checkpoint(const std::string& path, const Module& model, optim::Optimizer& optimizer,
                     optim::LRScheduler* scheduler, const Extra& extra) {
  save_checkpoint(path, model, Checkpoint{.optimizer = &optimizer, .scheduler = scheduler, .extra = extra});
}

LoadReport load_checkpoint(const std::string& path, Module& model, Checkpoint& parts,
                           const LoadOptions& options) {
  FileContent c = read_content(path);
  const StateDict& model_state = need(c.model, path, "model");
  LoadReport report = compare_state(model_state, model);
  KILN_CHECK(!options.strict || report.ok(), path, ": the weights do not match the model (",
             model.type_name(), "): ", report.str());
  // The parts next (each load checks before it changes anything), the model last, so a part that does not
  // fit leaves the model as it was.
  if (parts.optimizer != nullptr) {
    const StateDict& s = need(c.optimizer, path, "optimizer");
    KILN_CHECK(!c.optimizer_name || *c.optimizer_name == parts.optimizer->name(), path,
               ": the checkpoint holds the state of a ", c.optimizer_name.value_or(""), " optimizer, not ",
               parts.optimizer->name());
    try {
      parts.optimizer->load_state_dict(s);
    } catch (const Error& e) {
      KILN_CHECK(false, path, ": the optimizer state does not fit: ", e.what());
    }
  }
  if (parts.scheduler != nullptr) parts.scheduler->load_state_dict(need(c.scheduler, path, "scheduler"));
  if (parts.grad_scaler != nullptr)
    parts.grad_scaler->load_state_dict(need(c.grad_scaler, path, "grad_scaler"));
  if (parts.loader != nullptr) parts.loader->load_state_dict(need(c.loader, path, "loader"));
  apply_state(model_state, model, report, options.strict, path);
  if (parts.rng) {
    const StateDict& r = need(c.rng, path, "rng");
    const uint64_t seed = std::bit_cast<uint64_t>(scalar_i64(r, "seed", path + ": rng"));
    const uint64_t offset = std::bit_cast<uint64_t>(scalar_i64(r, "offset", path + ": rng"));
    default_generator().manual_seed(seed);
    default_generator().set_offset(offset);
  }
  if (c.progress) {
    parts.progress.epoch = scalar_i64(*c.progress, "epoch", path + ": progress");
    parts.progress.global_step = scalar_i64(*c.progress, "global_step", path + ": progress");
  }
  parts.history.clear();
  if (c.history) {
    for (const auto& [name, t] : *c.history) {
      KILN_CHECK(t.dim() == 1 && t.dtype() == DType::f64, path, ": history/", name,
                 " is not a 1-D f64 vector");
      parts.history[name] = t.to_vector<double>();
    }
  }
  parts.extra = std::move(c.extra);
  return report;
}

}  // namespace kiln::nn::io
