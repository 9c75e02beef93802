// kiln/classic/classic.h: everything in classic/ (estimators, preprocessing, model selection, metrics).
#pragma once

#include "kiln/classic/estimator.h"
