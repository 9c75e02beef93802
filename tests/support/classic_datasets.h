// tests/support/classic_datasets.h: loads the real data sets in tests/data/ (iris, wine, breast_cancer,
// digits, diabetes; see tests/data/README for their sources) as kiln tensors for the classic/ tests.
// Test-side only: a tiny CSV reader of its own, independent of data::read_csv.
#pragma once

#include <string>
#include <vector>

#include <kiln/tensor/tensor.h>

#include "support/fixture.h"

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

namespace kiln::testing {

// Helpers for the classic/ tests that compare with scikit-learn fixtures.

// The case `name` of tests/fixtures/<file> (files are read once and cached); a missing case fails loudly.
const kiln::test::FixtureCase& sklearn_case(const std::string& file, const std::string& name);
// |got - want| <= atol + rtol * max|want| for every element (a tolerance relative to the largest reference
// value), reporting the worst element.
void expect_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what);
// Rows `rows` of a (N, D) or (N) tensor, keeping the dtype.
Tensor select_rows(const Tensor& X, const std::vector<int64_t>& rows);
// The generators' split_every_4th: the rows i % 4 == 0 (test = true) or the others.
std::vector<int64_t> every_4th_rows(int64_t n, bool test);
// The generators' standardize(): (X - mean) / std per column, population std, f64.
Tensor standardize(const Tensor& X);
// The generators' w3 sample weights: 1 + (i % 3).
Tensor w3(int64_t n);

}  // namespace kiln::testing
