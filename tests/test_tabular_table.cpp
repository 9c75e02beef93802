// tests/test_tabular_table.cpp: data::Table's path to estimators (table.h, table_schema.h): to_xy in one
// line with text and missing cells, f64 by default, and codes from the training table's categories so the
// same category has the same code in the training and the test table.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <kiln/data/csv.h>
#include <kiln/kiln.h>

#include "support/helpers.h"

namespace {

using kiln::DType;
using kiln::data::parse_csv;
using kiln::data::Table;
using kiln::testing::error_of;
using kiln::testing::values;

const char* kTrain = "age,city,income,churn\n31,Paris,1.5,no\n,Lyon,2.5,yes\n45,Paris,,no\n52,,3.5,no\n";
const char* kTest = "age,city,income,churn\n40,Lyon,1.0,no\n41,Paris,2.0,yes\n42,Nice,3.0,no\n";

TEST(TabularTable, ToXyCodesTextKeepsMissingAsNanAndIsF64) {
  Table t = parse_csv(kTrain);
  auto [X, y, schema] = t.to_xy("churn");
  EXPECT_EQ(X.dtype(), DType::f64);
  EXPECT_EQ(X.shape(), (kiln::Shape{4, 3}));
  EXPECT_EQ(schema.names, (std::vector<std::string>{"age", "city", "income"}));
  EXPECT_EQ(schema.categorical, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(schema.categories[1], (std::vector<std::string>{"Lyon", "Paris"}));
  EXPECT_EQ(schema.classes, (std::vector<std::string>{"no", "yes"}));
  std::vector<double> x = values(X);
  EXPECT_EQ(x[0], 31);
  EXPECT_EQ(x[1], 1);  // Paris
  EXPECT_TRUE(std::isnan(x[3]));
  EXPECT_EQ(x[4], 0);  // Lyon
  EXPECT_TRUE(std::isnan(x[8]));
  EXPECT_TRUE(std::isnan(x[10]));  // missing city
  EXPECT_EQ(y.dtype(), DType::i64);
  EXPECT_EQ(values(y), (std::vector<double>{0, 1, 0, 0}));
  EXPECT_EQ(schema.numeric_columns(), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(schema.categorical_columns(), (std::vector<int64_t>{1}));
  EXPECT_EQ(schema.index("income"), 2);
  EXPECT_EQ(t.to_xy("churn", DType::f32).X.dtype(), DType::f32);
}

TEST(TabularTable, TestTableUsesTheTrainingCategories) {
  Table train = parse_csv(kTrain), test = parse_csv(kTest);
  auto fitted = train.to_xy("churn");
  auto [X, y, schema] = test.to_xy(fitted.schema);
  // The test table alone would code Lyon 0, Nice 1, Paris 2; the training categories give Lyon 0,
  // Paris 1 and Nice (never seen in training) -1.
  std::vector<double> x = values(X);
  EXPECT_EQ(x[1], 0);
  EXPECT_EQ(x[4], 1);
  EXPECT_EQ(x[7], -1);
  EXPECT_EQ(values(y), (std::vector<double>{0, 1, 0}));
  auto codes = test.categorical("city", fitted.schema.categories[1]);
  EXPECT_EQ(values(codes.codes), (std::vector<double>{0, 1, -1}));
  EXPECT_EQ(values(test.categorical("city").codes), (std::vector<double>{0, 2, 1}));
}

TEST(TabularTable, ErrorsNameTheColumn) {
  Table train = parse_csv(kTrain);
  auto fitted = train.to_xy("churn");
  Table renamed = parse_csv("age,town,income,churn\n1,a,2,no\n");
  EXPECT_CONTAINS(error_of([&] { renamed.to_xy(fitted.schema); }), "no column named 'city'");
  Table numeric_city = parse_csv("age,city,income,churn\n1,3,2,no\n");
  EXPECT_CONTAINS(error_of([&] { numeric_city.to_xy(fitted.schema); }),
                  "column 'city' holds int values but the schema was fitted on strings");
  Table new_class = parse_csv("age,city,income,churn\n1,Paris,2,maybe\n");
  EXPECT_CONTAINS(error_of([&] { new_class.to_xy(fitted.schema); }),
                  "row 0 of column 'churn' has the class 'maybe', which the training rows did not have");
  Table missing_target = parse_csv("age,city,income,churn\n1,Paris,2,\n2,Lyon,3,no\n");
  EXPECT_CONTAINS(error_of([&] { missing_target.to_xy("churn"); }),
                  "Table::target: column 'churn' has 1 missing value(s), the first in row 0");
  EXPECT_CONTAINS(error_of([&] { train.to_xy("nope"); }), "no column named 'nope'");
  EXPECT_CONTAINS(error_of([&] { fitted.schema.index("churn"); }), "(it is the target)");
  EXPECT_CONTAINS(error_of([&] { train.features(fitted.schema, DType::i64); }),
                  "column 'age' has 1 missing value(s)");
}

}  // namespace
