// tests/install/consumer.cpp: uses the installed headers and libraries (the CPU kernel table must be
// linked in for the matmul and the backward pass to run).
#include <kiln/kiln.h>

// kiln's installed interface carries no Eigen: its include directory is not on this program's path.
#if __has_include(<Eigen/Core>)
#error "the installed kiln package exposes Eigen's headers"
#endif

#include <cstdio>

int main() {
  using namespace kiln;
  Tensor w = ones({3, 2}, {.requires_grad = true});
  Tensor y = matmul(full({4, 3}, 2.0), w).sum();
  y.backward();
  bool ok = y.item<float>() == 48.0f && w.grad().to_vector<float>() == std::vector<float>(6, 8.0f);
  std::printf("installed kiln: %s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
