// kiln/nn/io/weights.h: a model's weights in an HDF5 file, and the report a load gives. The file holds one
// dataset per entry of model.state_dict() (parameters and buffers, PyTorch's dotted names: "0.weight",
// "1.running_mean", "1.num_batches_tracked") in the group /model, dtype and shape kept, each with a crc32
// attribute, plus the root attributes every kiln file has (format, format_version, kiln_version, created,
// content, model_summary). The same /model group sits in a full checkpoint (checkpoint.h), so either file
// loads weights, and h5py or PyTorch read it directly:
//
//   io::save_weights("mlp.h5", model);
//   auto report = io::load_weights("mlp.h5", other, {.strict = false});   // report.str() says what differed
//
// Depends on nn (Module) and the HDF5 C library (in the .cpp only).
#pragma once

#include <string>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::io {

// One name found in both the file and the model whose tensor differs in shape or dtype.
struct TensorMismatch {
  std::string name;
  Shape file_shape, model_shape;
  DType file_dtype, model_dtype;
};

// What a load compared. A strict load that finds any difference throws kiln::Error with this text and
// changes nothing; a non-strict one loads the entries that match and returns it.
struct LoadReport {
  std::vector<std::string> loaded;      // copied into the model
  std::vector<std::string> missing;     // the model has them, the file does not
  std::vector<std::string> unexpected;  // the file has them, the model does not
  std::vector<TensorMismatch> mismatched;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // "missing keys: [...]; unexpected keys: [...]; mismatched: name: file [..] f32 vs model [..] f32", or
  // "all N entries matched".
  std::string str() const;
};

struct LoadOptions {
  bool strict = true;
};

// Writes the model's state dict (from whatever device it lives on, one tensor at a time) atomically.
void save_weights(const std::string& path, const Module& model);
// Checks every name, dtype and shape in the file's /model group against the model, then copies the values
// into the model's own tensors (on their devices). kiln::Error for a file that is not a readable kiln or
// PyTorch-layout weights file, a failed checksum, or (strict) any difference.
LoadReport load_weights(const std::string& path, Module& model, const LoadOptions& options = {});

// The tensors of one group of a kiln HDF5 file ("model", "optimizer", ...; "/" for datasets at the root),
// checked and checksum-verified, on `device`: the file's content without a model to load it into. Every
// link of the group must be a dataset.
StateDict read_group(const std::string& path, const std::string& group = "model",
                     Device device = Device::cpu());

// Compares a state dict read from a file with the model's (names, shapes, dtypes).
LoadReport compare_state(const StateDict& file, const Module& model);
// Copies the entries the report loaded; throws kiln::Error (changing nothing) when `strict` and the report
// shows any difference. `source` names the file in messages.
void apply_state(const StateDict& file, Module& model, LoadReport& report, bool strict,
                 const std::string& source);

}  // namespace kiln::nn::io
