// kiln/kiln.h: everything, for user programs. `#include <kiln/kiln.h>` and `using namespace kiln;`.
#pragma once

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/engine.h"
#include "kiln/autograd/gradcheck.h"
#include "kiln/autograd/node.h"
#include "kiln/autograd/op_list.h"
#include "kiln/autograd/ops.h"
#include "kiln/classic/classic.h"
#include "kiln/data/data.h"
#include "kiln/kernels/cuda/cuda.h"
#include "kiln/nn/nn.h"
#include "kiln/optim/optim.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/random.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"
#include "kiln/tensor/threads.h"
