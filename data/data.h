// kiln/data/data.h: everything in data/ (readers, datasets, loaders, transforms).
#pragma once

#include "kiln/data/csv.h"
#include "kiln/data/dataset.h"
#include "kiln/data/fashion_mnist.h"
#include "kiln/data/idx.h"
#include "kiln/data/loader.h"
#include "kiln/data/rng.h"
#include "kiln/data/sampler.h"
#include "kiln/data/table.h"
#include "kiln/data/transforms.h"
