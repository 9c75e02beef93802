// tests/support/fixture.h: reader for the frozen PyTorch reference files in tests/fixtures/ (written by
// tests/gen_fixtures.py, run by hand; the tests only read them).
//
// File format, line oriented, ASCII, whitespace-separated fields:
//   # ...                         a comment; blank lines are ignored too
//   case <name>                   starts a case; names are unique within a file
//   tensor <label> <dtype> <ndim> <dim_0> ... <dim_{ndim-1}> <v_0> ... <v_{numel-1}>
//   end                           closes the case
// dtype is f64, i64 or bool. Values are row-major: f64 in %.17g (round-trips exactly), i64 and bool as
// integers (bool as 0 or 1). A 0-d tensor has ndim 0, no dims and one value. Labels are unique within a
// case. In tests/fixtures/torch_ops.txt the labels are in<k> (inputs), grad_out, out, out_<name> (extra
// outputs without gradient) and grad<k> (the gradient of sum(out * grad_out) with respect to in<k>).
//
// Any malformed line (unknown keyword or dtype, wrong value count, bad number, tensor outside a case,
// unclosed case, duplicate name or label) throws kiln::Error naming the file and line number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <kiln/tensor/tensor.h>

namespace kiln::test {

struct FixtureTensor {
  std::string label;
  std::string dtype;  // "f64", "i64" or "bool"
  std::vector<int64_t> shape;
  // Every dtype is held as double: i64 values are checked on reading to be exactly representable.
  std::vector<double> values;
};

struct FixtureCase {
  std::string name;
  std::vector<FixtureTensor> tensors;  // in file order

  bool has(const std::string& label) const;
  // The tensor with this label; throws kiln::Error naming the case and label if there is none.
  const FixtureTensor& get(const std::string& label) const;
  // A new CPU kiln tensor (f64, i64 or boolean) holding get(label)'s values, without requires_grad.
  kiln::Tensor tensor(const std::string& label) const;
};

// Reads every case of a fixture file; throws kiln::Error (file and line) on an unreadable or malformed file.
std::vector<FixtureCase> read_fixture_file(const std::string& path);

}  // namespace kiln::test
