// tests/layering/main.cpp: linked with the whole of kiln_classic and kiln_data but only the layers below
// them (tensor, CPU kernels) — never autograd. If either library used an autograd function (Tensor::to,
// reshape, sum, ...), this program would fail to link, so the build enforces DESIGN.md section 1
// (classic -> tensor, data -> tensor). Running it checks one estimator end to end.
#include <kiln/classic/preprocessing_scalers.h>

#include <cstdio>

int main() {
  using namespace kiln;
  Tensor x = from_vector<double>({1.0, 2.0, 3.0, 5.0}, Shape{4, 1});
  classic::StandardScaler scaler;
  Tensor z = scaler.fit_transform(x);
  std::printf("layering ok: %g\n", z.to_vector<double>()[0]);
  return 0;
}
