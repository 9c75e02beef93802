// kiln/nn/nn.h: everything in nn/ (modules, layers, losses, initializers) for user programs.
#pragma once

#include "kiln/nn/activation.h"
#include "kiln/nn/container.h"
#include "kiln/nn/init.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/module.h"
