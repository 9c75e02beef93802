// kiln/classic/classic.h: everything in classic/ (estimators, preprocessing, model selection, metrics).
#pragma once

#include "kiln/classic/estimator.h"
#include "kiln/classic/forest.h"
#include "kiln/classic/hist_gradient_boosting.h"
#include "kiln/classic/linear.h"
#include "kiln/classic/logistic.h"
#include "kiln/classic/model_selection.h"
#include "kiln/classic/naive_bayes.h"
#include "kiln/classic/neighbors.h"
#include "kiln/classic/search.h"
#include "kiln/classic/tree.h"
