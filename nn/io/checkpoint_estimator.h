// kiln/nn/io/checkpoint_estimator.h: fitted classic estimators in HDF5 files, in the kiln file family
// (same envelope, checksums and atomic write as checkpoints). classic/ stays tensor-only: each estimator
// exposes its parameters (get_params) and fitted attributes (fitted_state, named tensors), and this file
// format, which may use HDF5, stores them:
//
//   classic::save("scaler.h5", scaler);
//   classic::StandardScaler back;             // the same class; parameters come from the file
//   classic::load("scaler.h5", back);         // fitted: transform() gives what scaler's did
//
// Layout: root attributes (content = "estimator", estimator = the class name), /params (one scalar
// dataset per parameter: bool, i64, f64 or string, attribute kiln_kind) and /fitted (fitted_state()).
// Estimators that do not expose their state yet refuse to save with a kiln::Error naming them.
// Depends on classic (estimator.h) and the HDF5 C library (in the .cpp only).
#pragma once

#include <string>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

// Writes the estimator's class, parameters and fitted state atomically. kiln::Error for an unfitted
// estimator or one without fitted_state().
void save(const std::string& path, const Estimator& estimator);
// Restores parameters and fitted state into `estimator`, which must be of the class that was saved.
// kiln::Error naming the file and what does not fit.
void load(const std::string& path, Estimator& estimator);

}  // namespace kiln::classic
