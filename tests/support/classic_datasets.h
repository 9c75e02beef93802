// tests/support/classic_datasets.h: loads the real data sets in tests/data/ (iris, wine, breast_cancer,
// digits, diabetes; see tests/data/README for their sources) as kiln tensors for the classic/ tests.
// Test-side only: a tiny CSV reader of its own, independent of data::read_csv.
#pragma once

#include <string>
#include <vector>

#include <kiln/tensor/tensor.h>

namespace kiln::testing {

struct Dataset {
  std::string name;
  std::vector<std::string> feature_names;  // D names, from the header line
  Tensor X;                                // (N, D) f64
  Tensor y;                                // (N): i64 class labels, or f64 for regression (diabetes)
};

// The directory holding the CSV files (tests/data in the source tree).
std::string dataset_dir();

// Loads tests/data/<name>.csv. Targets are i64 for the classification sets and f64 for "diabetes".
// Throws kiln::Error naming the file (and line) for an unknown name or a malformed file.
Dataset load_dataset(const std::string& name);

}  // namespace kiln::testing
