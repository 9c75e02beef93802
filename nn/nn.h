// kiln/nn/nn.h: everything in nn/ (modules, layers, losses, initializers) for user programs.
#pragma once

#include "kiln/nn/loss.h"
