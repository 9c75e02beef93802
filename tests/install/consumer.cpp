// tests/install/consumer.cpp: uses the installed headers and libraries (the CPU kernel table must be
// linked in for the matmul and the backward pass to run).
#include <kiln/kiln.h>

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
