#include "kiln/nn/train/callback.h"

#include <iostream>

namespace kiln::nn::train {

std::ostream& TrainContext::output() const { return out ? *out : std::cout; }

}  // namespace kiln::nn::train
