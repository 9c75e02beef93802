// kiln/classic/classic.h: everything in classic/ (estimators, preprocessing, model selection, metrics).
#pragma once

#include "kiln/classic/column_transformer.h"
#include "kiln/classic/estimator.h"
#include "kiln/classic/imbalance.h"
#include "kiln/classic/metrics.h"
#include "kiln/classic/pipeline.h"
#include "kiln/classic/preprocessing_encoders.h"
#include "kiln/classic/preprocessing_features.h"
#include "kiln/classic/preprocessing_scalers.h"
