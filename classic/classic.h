// kiln/classic/classic.h: everything in classic/ (estimators, preprocessing, model selection, metrics).
#pragma once

#include "kiln/classic/estimator.h"
#include "kiln/classic/forest.h"
#include "kiln/classic/hist_gradient_boosting.h"
#include "kiln/classic/tree.h"
