// tests/layering/main.cpp: linked with the whole of kiln_classic and kiln_data but only the layers below
// them (tensor, CPU kernels) — never autograd. If either library used an autograd function (Tensor::to,
// reshape, sum, ...), this program would fail to link, so the build enforces docs/ARCHITECTURE.md, "Layers"
// (classic -> tensor, data -> tensor). Running it checks one estimator and one reader end to end against
// values computed by hand, and exits non-zero on any difference.
#include <kiln/classic/preprocessing_scalers.h>
#include <kiln/data/csv.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace kiln;
  int failures = 0;
  auto expect_near = [&](const char* what, double got, double want) {
    if (std::abs(got - want) > 1e-12 * std::max(1.0, std::abs(want))) {
      std::printf("layering: %s is %.17g, expected %.17g\n", what, got, want);
      ++failures;
    }
  };
  // StandardScaler on 1, 2, 3, 5: mean 2.75, population variance 2.1875.
  Tensor x = from_vector<double>({1.0, 2.0, 3.0, 5.0}, Shape{4, 1});
  classic::StandardScaler scaler;
  std::vector<double> z = scaler.fit_transform(x).to_vector<double>();
  const double sd = std::sqrt(2.1875);
  const double want[] = {-1.75 / sd, -0.75 / sd, 0.25 / sd, 2.25 / sd};
  for (int i = 0; i < 4; ++i) expect_near("StandardScaler output", z[i], want[i]);
  // The CSV reader, through the data layer alone.
  data::Table t = data::parse_csv("a,b\n1,2.5\n3,-4\n");
  if (t.num_rows() != 2 || t.num_cols() != 2) {
    std::printf("layering: parse_csv gave %lld x %lld, expected 2 x 2\n",
                static_cast<long long>(t.num_rows()), static_cast<long long>(t.num_cols()));
    ++failures;
  }
  if (failures == 0) std::printf("layering ok\n");
  return failures == 0 ? 0 : 1;
}
