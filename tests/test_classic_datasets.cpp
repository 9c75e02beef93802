// tests/test_classic_datasets.cpp: the real data sets in tests/data/ load with the shapes, label ranges
// and first values scikit-learn's loaders give (tests/support/classic_datasets.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "support/classic_datasets.h"
#include "support/helpers.h"

namespace {

using kiln::testing::load_dataset;
using kiln::testing::values;

struct Expected {
  const char* name;
  int64_t n, d;
  int64_t classes;  // 0 for regression
};

TEST(ClassicDatasets, ShapesAndTargets) {
  for (Expected e :
       {Expected{"iris", 150, 4, 3}, Expected{"wine", 178, 13, 3}, Expected{"breast_cancer", 569, 30, 2},
        Expected{"digits", 1797, 64, 10}, Expected{"diabetes", 442, 10, 0}}) {
    SCOPED_TRACE(e.name);
    auto ds = load_dataset(e.name);
    EXPECT_EQ(ds.X.shape(), (kiln::Shape{e.n, e.d}));
    EXPECT_EQ(ds.X.dtype(), kiln::DType::f64);
    EXPECT_EQ(ds.y.shape(), (kiln::Shape{e.n}));
    EXPECT_EQ(static_cast<int64_t>(ds.feature_names.size()), e.d);
    if (e.classes > 0) {
      EXPECT_EQ(ds.y.dtype(), kiln::DType::i64);
      auto y = ds.y.to_vector<int64_t>();
      EXPECT_EQ(*std::min_element(y.begin(), y.end()), 0);
      EXPECT_EQ(*std::max_element(y.begin(), y.end()), e.classes - 1);
    } else {
      EXPECT_EQ(ds.y.dtype(), kiln::DType::f64);
    }
  }
}

TEST(ClassicDatasets, FirstValues) {
  auto iris = load_dataset("iris");
  auto x = values(iris.X);
  EXPECT_EQ(x[0], 5.1);
  EXPECT_EQ(x[3], 0.2);
  EXPECT_EQ(iris.feature_names[0], "sepal_length_cm");
  auto diabetes = load_dataset("diabetes");
  EXPECT_EQ(values(diabetes.y)[0], 151.0);
  EXPECT_EQ(values(diabetes.X)[0], 0.038075906433423026);
}

TEST(ClassicDatasets, UnknownNameIsAnError) {
  EXPECT_CONTAINS(kiln::testing::error_of([] { load_dataset("mnist"); }), "unknown data set \"mnist\"");
}

}  // namespace
