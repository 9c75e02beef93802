// kiln/optim/optim.h: everything in optim/ (optimizers, LR schedulers, gradient clipping).
#pragma once
