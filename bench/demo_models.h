// bench/demo_models.h: the demo's two models (examples/fashion_mnist_demo.cpp), built the same way by every
// benchmark that trains them, so their figures compare: the MLP 784-512-256-10 and the CNN
// conv32-conv64-fc128.
#pragma once

#include <kiln/kiln.h>

#include <memory>
#include <string>

namespace kiln::bench {

// "mlp" or (anything else) the CNN.
inline nn::ModulePtr build_demo_model(const std::string& model) {
  if (model == "mlp")
    return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Dropout(0.2),
                                            nn::Linear(512, 256), nn::ReLU(), nn::Dropout(0.2),
                                            nn::Linear(256, 10));
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(1, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10));
}

}  // namespace kiln::bench
