// tests/test_csv.cpp: data::read_csv / parse_csv (data/csv.h) and data::Table (data/table.h): each quoting
// rule, missing values, BOM, CRLF, type inference and overrides, chunked reading, every error path, and
// the Table operations and tensor conversions. Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <kiln/data/csv.h>
#include <kiln/kiln.h>

#include "support/helpers.h"

namespace fs = std::filesystem;
using kiln::DType;
using kiln::Tensor;
using kiln::data::ColumnType;
using kiln::data::CsvOptions;
using kiln::data::parse_csv;
using kiln::data::read_csv;
using kiln::data::Table;
using kiln::testing::error_of;

namespace {

class CsvFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiln_csv_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

}  // namespace

TEST(Csv, HeaderAndInferredTypes) {
  Table t = parse_csv("i,f,b,s\n1,1.5,true,x\n-2,2,False,y\n+3,1e3,TRUE,z\n");
  ASSERT_EQ(t.num_rows(), 3);
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"i", "f", "b", "s"}));
  EXPECT_EQ(t["i"].type, ColumnType::Int);
  EXPECT_EQ(t["i"].ints, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(t["f"].type, ColumnType::Float);
  EXPECT_EQ(t["f"].floats, (std::vector<double>{1.5, 2.0, 1000.0}));
  EXPECT_EQ(t["b"].type, ColumnType::Bool);
  EXPECT_EQ(t["b"].bools, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(t["s"].type, ColumnType::String);
  EXPECT_EQ(t["s"].strings, (std::vector<std::string>{"x", "y", "z"}));
}

TEST(Csv, IntColumnBecomesFloatWhenALaterCellIsFractional) {
  Table t = parse_csv("a\n1\n2\n2.5\n");
  EXPECT_EQ(t["a"].type, ColumnType::Float);
  EXPECT_EQ(t["a"].floats, (std::vector<double>{1, 2, 2.5}));
}

TEST(Csv, NumericColumnMeetingTextKeepsEarlierTextExactly) {
  // "007" and "1.50" must survive as written once the column turns out to be text.
  Table t = parse_csv("zip,v\n007,1.50\n010,x\n");
  EXPECT_EQ(t["zip"].type, ColumnType::Int);
  EXPECT_EQ(t["v"].type, ColumnType::String);
  EXPECT_EQ(t["v"].strings, (std::vector<std::string>{"1.50", "x"}));
  Table u = parse_csv("b\ntrue\n3\n");
  EXPECT_EQ(u["b"].type, ColumnType::String);
  EXPECT_EQ(u["b"].strings, (std::vector<std::string>{"true", "3"}));
}

TEST(Csv, LateTextInSeveralColumnsKeepsEveryCellsText) {
  // Text after the first 10000 lines: the reader finishes the pass to find all such columns, then rereads.
  std::string text = "a,b,c\n";
  for (int i = 0; i < 30000; ++i)
    text += (i == 15000 ? std::string("x") : std::to_string(i)) + "," + (i == 29999 ? "y" : "0.50") + "," +
            std::to_string(i) + "\n";
  Table t = parse_csv(text);
  EXPECT_EQ(t["a"].type, ColumnType::String);
  EXPECT_EQ(t["b"].type, ColumnType::String);
  EXPECT_EQ(t["c"].type, ColumnType::Int);
  ASSERT_EQ(t.num_rows(), 30000);
  EXPECT_EQ(t["a"].strings[14999], "14999");
  EXPECT_EQ(t["a"].strings[15000], "x");
  EXPECT_EQ(t["b"].strings[0], "0.50");
  EXPECT_EQ(t["b"].strings[29999], "y");
  EXPECT_EQ(t["c"].ints[29999], 29999);
}

TEST(Csv, QuotedCommasEscapedQuotesAndEmbeddedNewlines) {
  Table t = parse_csv("name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"multi\nline\",\"\"\"\"\nplain,a\"b\n");
  ASSERT_EQ(t.num_rows(), 3);
  EXPECT_EQ(t["name"].strings, (std::vector<std::string>{"Smith, J", "multi\nline", "plain"}));
  EXPECT_EQ(t["note"].strings, (std::vector<std::string>{"said \"hi\"", "\"", "a\"b"}));
}

TEST(Csv, QuotedNumbersAreNumbers) {
  Table t = parse_csv("a,b\n\"1\",\"2.5\"\n\"3\",\"4\"\n");
  EXPECT_EQ(t["a"].type, ColumnType::Int);
  EXPECT_EQ(t["b"].floats, (std::vector<double>{2.5, 4}));
}

TEST(Csv, NoHeaderNamesColumnsByPositionOrByNames) {
  Table t = parse_csv("1,2\n3,4\n", {.header = false});
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(t["0"].ints, (std::vector<int64_t>{1, 3}));
  Table u = parse_csv("1,2\n3,4\n", {.header = false, .names = {"x", "y"}});
  EXPECT_EQ(u["y"].ints, (std::vector<int64_t>{2, 4}));
  EXPECT_CONTAINS(error_of([] { parse_csv("1,2\n", {.header = false, .names = {"x"}}); }),
                  "1 names given but the first record has 2 fields");
}

TEST(Csv, DelimiterChoice) {
  Table t = parse_csv("a;b\n1,5;x\n", {.delimiter = ';'});
  EXPECT_EQ(t["a"].strings, (std::vector<std::string>{"1,5"}));
  Table u = parse_csv("a\tb\n1\t2\n", {.delimiter = '\t'});
  EXPECT_EQ(u["b"].ints, (std::vector<int64_t>{2}));
  EXPECT_CONTAINS(error_of([] { parse_csv("a\n", {.delimiter = '"'}); }), "the delimiter must differ");
}

TEST(Csv, MissingValues) {
  Table t = parse_csv("a,b,c,d\n1,x,1.5,\nNA,null,NaN,\n3,,nan,\n");
  EXPECT_EQ(t["a"].type, ColumnType::Int);
  EXPECT_EQ(t["a"].missing, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(t["b"].missing, (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_EQ(t["c"].null_count(), 2);
  EXPECT_TRUE(std::isnan(t["c"].floats[1]));
  EXPECT_EQ(t["d"].type, ColumnType::Float);  // all missing: float NaN, as pandas
  EXPECT_EQ(t["d"].null_count(), 3);
  EXPECT_EQ(t["a"].null_count(), 1);
  EXPECT_TRUE(std::isnan(t["a"].as_double(1)));
}

TEST(Csv, ConfigurableMissingValues) {
  Table t = parse_csv("a\n1\n-999\nNA\n", {.na_values = {"-999"}});
  EXPECT_EQ(t["a"].type, ColumnType::String);  // "NA" is plain text now
  Table u = parse_csv("a\n1\n-999\n", {.na_values = {"-999"}});
  EXPECT_EQ(u["a"].missing, (std::vector<uint8_t>{0, 1}));
}

TEST(Csv, MissingBeforeTheTypeIsKnown) {
  Table t = parse_csv("a\n\n\"\"\nNA\n2\n");
  EXPECT_EQ(t["a"].type, ColumnType::Int);
  EXPECT_EQ(t["a"].missing, (std::vector<uint8_t>{1, 1, 0}));  // the blank line is skipped
}

TEST(Csv, BomCrlfAndNoFinalNewline) {
  Table t = parse_csv(
      "\xEF\xBB\xBF"
      "a,b\r\n1,\"x\r\ny\"\r\n2,z");
  EXPECT_EQ(t.column_names()[0], "a");
  EXPECT_EQ(t["a"].ints, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t["b"].strings, (std::vector<std::string>{"x\r\ny", "z"}));
  Table cr = parse_csv("a\r1\r2\r");
  EXPECT_EQ(cr["a"].ints, (std::vector<int64_t>{1, 2}));
}

TEST(Csv, HeaderNamesAreMadeUniqueAsInPandas) {
  Table t = parse_csv("a,a,,b\n1,2,3,4\n");
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "a.1", "Unnamed: 2", "b"}));
}

TEST(Csv, TypeOverrides) {
  CsvOptions o;
  o.dtypes = {{"zip", ColumnType::String}, {"n", ColumnType::Float}, {"flag", ColumnType::Bool}};
  Table t = parse_csv("zip,n,flag\n007,1,1\n010,2,false\n", o);
  EXPECT_EQ(t["zip"].strings, (std::vector<std::string>{"007", "010"}));
  EXPECT_EQ(t["n"].type, ColumnType::Float);
  EXPECT_EQ(t["flag"].bools, (std::vector<uint8_t>{1, 0}));
}

TEST(Csv, ErrorUnparsableNumberInForcedColumn) {
  CsvOptions o;
  o.dtypes = {{"price", ColumnType::Float}};
  std::string msg = error_of([&] { parse_csv("id,price\n1,2.5\n2,abc\n", o, "prices.csv"); });
  EXPECT_CONTAINS(msg, "read_csv: 'prices.csv' line 3, column 2 ('price')");
  EXPECT_CONTAINS(msg, "cannot parse 'abc' as float");
  o.dtypes = {{"id", ColumnType::Int}};
  EXPECT_CONTAINS(error_of([&] { parse_csv("id\n1\n2.5\n", o, "f.csv"); }),
                  "'f.csv' line 3, column 1 ('id'): cannot parse '2.5' as int");
  o.dtypes = {{"nope", ColumnType::Int}};
  EXPECT_CONTAINS(error_of([&] { parse_csv("id\n1\n", o, "f.csv"); }), "dtypes names column 'nope'");
}

TEST(Csv, ErrorUnparsableNumberWithNumericOnly) {
  CsvOptions o;
  o.numeric_only = true;
  Table t = parse_csv("a,b,c\n1,2.5,true\n2,NA,false\n", o);
  EXPECT_EQ(t["b"].type, ColumnType::Float);
  std::string msg = error_of([&] { parse_csv("a,b\n1,2.5\n2,3.O\n", o, "feat.csv"); });
  EXPECT_CONTAINS(msg, "read_csv: 'feat.csv' line 3, column 2 ('b'): cannot parse '3.O' as float");
  EXPECT_CONTAINS(msg, "CsvOptions::numeric_only");
  EXPECT_CONTAINS(error_of([&] { parse_csv("a,b\n1,x\n", o, "feat.csv"); }),
                  "'feat.csv' line 2, column 2 ('b'): 'x' is not a number (CsvOptions::numeric_only)");
  o.dtypes = {{"name", ColumnType::String}};
  EXPECT_EQ(parse_csv("name,v\nbob,1\n", o)["name"].strings[0], "bob");  // forced columns are exempt
}

TEST(Csv, ErrorRaggedRows) {
  std::string msg = error_of([] { parse_csv("a,b,c\n1,2,3\n\"x\ny\",2,3,4\n", {}, "r.csv"); });
  EXPECT_CONTAINS(msg, "read_csv: 'r.csv' line 3, column 4: the record has 4 fields but the header has 3");
  msg = error_of([] { parse_csv("1,2\n3\n", {.header = false}, "r.csv"); });
  EXPECT_CONTAINS(msg, "'r.csv' line 2, column 2 ('1'): the record has 1 fields but the first record has 2");
}

TEST(Csv, ErrorEmptyFile) {
  EXPECT_CONTAINS(error_of([] { parse_csv("", {}, "e.csv"); }),
                  "read_csv: 'e.csv' line 1, column 1: the file is empty");
  EXPECT_CONTAINS(error_of([] { parse_csv("\xEF\xBB\xBF\n\n", {}, "e.csv"); }), "the file is empty");
}

TEST(Csv, HeaderOnlyGivesEmptyTable) {
  Table t = parse_csv("a,b\n");
  EXPECT_EQ(t.num_cols(), 2);
  EXPECT_EQ(t.num_rows(), 0);
}

TEST(Csv, ErrorUnterminatedQuoteAndJunkAfterQuote) {
  EXPECT_CONTAINS(error_of([] { parse_csv("a,b\n1,2\n3,\"abc\n", {}, "q.csv"); }),
                  "'q.csv' line 3, column 2 ('b'): the quoted field opened on this line is never closed");
  EXPECT_CONTAINS(error_of([] { parse_csv("a,b\n\"x\"y,2\n", {}, "q.csv"); }),
                  "'q.csv' line 2, column 1 ('a'): unexpected character 'y' after a closing quote");
}

TEST_F(CsvFile, ReadsAFileInSmallChunksLikeOneBuffer) {
  std::string text = "id,x,name\n";
  for (int i = 0; i < 500; ++i)
    text += std::to_string(i) + "," + std::to_string(i * 0.25) + ",\"n, " + std::to_string(i) +
            "\n\"\"q\"\"\"\r\n";
  std::string path = write("big.csv", text);
  Table whole = parse_csv(text);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{4096}}) {
    CsvOptions o;
    o.chunk_bytes = chunk;
    Table t = read_csv(path, o);
    ASSERT_EQ(t.num_rows(), 500) << chunk;
    EXPECT_EQ(t["id"].ints, whole["id"].ints);
    EXPECT_EQ(t["x"].floats, whole["x"].floats);
    EXPECT_EQ(t["name"].strings, whole["name"].strings);
    EXPECT_EQ(t["name"].strings[3], "n, 3\n\"q\"");
  }
}

TEST_F(CsvFile, ErrorsNameTheFileAndLine) {
  std::string path = write("bad.csv", "a,b\n1,2\n3\n");
  std::string msg = error_of([&] { read_csv(path, {.chunk_bytes = 3}); });
  EXPECT_CONTAINS(msg, "'" + path + "' line 3, column 2 ('b')");
  EXPECT_CONTAINS(error_of([&] { read_csv((dir_ / "missing.csv").string()); }), "read_csv: cannot open '");
  std::string empty = write("empty.csv", "");
  EXPECT_CONTAINS(error_of([&] { read_csv(empty); }), "'" + empty + "' line 1, column 1: the file is empty");
}

TEST_F(CsvFile, RestartAsStringWorksOnFiles) {
  std::string path = write("mixed.csv", "a,b\n1,2\n3,x\n");
  Table t = read_csv(path, {.chunk_bytes = 4});
  EXPECT_EQ(t["b"].strings, (std::vector<std::string>{"2", "x"}));
  EXPECT_EQ(t["a"].ints, (std::vector<int64_t>{1, 3}));
}

// ---- Table ----

TEST(Table, SelectDropDropnaFillna) {
  Table t = parse_csv("a,b,c\n1,x,1.5\n,y,2.5\n3,,\n");
  EXPECT_EQ(t.select({"c", "a"}).column_names(), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(t.drop({"b"}).column_names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(t.dropna().num_rows(), 1);
  EXPECT_EQ(t.dropna({"a"})["b"].strings, (std::vector<std::string>{"x", ""}));
  Table f = t.fillna(0.0).fillna(std::string("?"));
  EXPECT_EQ(f["a"].ints, (std::vector<int64_t>{1, 0, 3}));
  EXPECT_EQ(f["c"].floats, (std::vector<double>{1.5, 2.5, 0}));
  EXPECT_EQ(f["b"].strings, (std::vector<std::string>{"x", "y", "?"}));
  EXPECT_EQ(f.dropna().num_rows(), 3);
  EXPECT_EQ(t.fillna("c", -1)["c"].floats[2], -1);
}

TEST(Table, Errors) {
  Table t = parse_csv("a,s\n1,x\n,y\n");
  EXPECT_CONTAINS(error_of([&] { t.column("zz"); }),
                  "Table: no column named 'zz'; the columns are ['a', 's']");
  EXPECT_CONTAINS(error_of([&] { t.drop({"zz"}); }), "no column named 'zz'");
  EXPECT_CONTAINS(error_of([&] { t.to_tensor({"a"}); }),
                  "Table::to_tensor: column 'a' has 1 missing value(s), the first in row 1; call dropna()");
  EXPECT_CONTAINS(error_of([&] { t.fillna("a", 0.5); }), "column 'a' holds integers; the fill value 0.5");
  EXPECT_CONTAINS(error_of([&] { t.fillna("s", 1); }), "column 's' holds strings");
  EXPECT_CONTAINS(error_of([&] { t.categorical("a"); }), "column 'a' holds int values, not strings");
  EXPECT_CONTAINS(error_of([&] { t.to_tensor({"a"}, DType::u8); }), "cannot convert to u8");
  Table bad = parse_csv("price\n1.5\n2.0\n3.O\n");  // a typo makes the column text
  EXPECT_CONTAINS(error_of([&] { bad.to_tensor(); }),
                  "Table::to_tensor: column 'price' holds strings, not numbers (row 2: '3.O')");
  EXPECT_CONTAINS(error_of([&] { t.column(5); }), "column index 5 out of range for 2 columns");
  std::vector<kiln::data::Column> cols(2);
  cols[0].name = cols[1].name = "x";
  EXPECT_CONTAINS(error_of([&] { Table bad(cols); }), "duplicate column name 'x'");
}

TEST(Table, FeatureAndTargetTensors) {
  Table t = parse_csv("x1,x2,flag,label\n1,0.5,true,cat\n2,1.5,false,dog\n3,2.5,true,cat\n");
  auto [x, y] = t.to_xy({}, "label");
  EXPECT_EQ(x.shape(), (kiln::Shape{3, 3}));
  EXPECT_EQ(x.dtype(), DType::f64);  // the classic estimators compute in f64
  EXPECT_EQ(kiln::testing::values(x), (std::vector<double>{1, 0.5, 1, 2, 1.5, 0, 3, 2.5, 1}));
  EXPECT_EQ(y.dtype(), DType::i64);
  EXPECT_EQ(y.shape(), (kiln::Shape{3}));
  EXPECT_EQ(kiln::testing::values(y), (std::vector<double>{0, 1, 0}));
  auto [x2, y2] = t.to_xy({"x1"}, "x2");
  EXPECT_EQ(x2.shape(), (kiln::Shape{3, 1}));
  EXPECT_EQ(y2.dtype(), DType::f64);
  EXPECT_EQ(kiln::testing::values(t.to_tensor({"x2"}, DType::f64)), (std::vector<double>{0.5, 1.5, 2.5}));
}

TEST(Table, CategoricalCodes) {
  Table t = parse_csv("c\nred\nblue\n\nNA\ngreen\nblue\n");
  kiln::data::Categorical cat = t.categorical("c");
  EXPECT_EQ(cat.categories, (std::vector<std::string>{"blue", "green", "red"}));
  EXPECT_EQ(kiln::testing::values(cat.codes), (std::vector<double>{2, 0, -1, 1, 0}));
}

TEST(Table, MoreErrorMessages) {
  Table t = parse_csv("a,s,b\n1,x,true\n2,y,\n");
  EXPECT_CONTAINS(error_of([&] { t["a"].as_double(2); }),
                  "Column::as_double: row 2 out of range for column 'a'");
  EXPECT_CONTAINS(error_of([&] { t["s"].as_double(0); }), "Column::as_double: column 's' holds strings");
  EXPECT_CONTAINS(error_of([&] { t.take({3}); }), "Table::take: row 3 out of range for 2 rows");
  EXPECT_CONTAINS(error_of([&] { t.fillna("b", 2); }),
                  "column 'b' holds booleans; the fill value must be 0 or 1");
  EXPECT_EQ(t.fillna("b", 1)["b"].bools, (std::vector<uint8_t>{1, 1}));
  std::vector<kiln::data::Column> cols(2);
  cols[0].name = "x", cols[1].name = "y";
  cols[0].missing = {0, 0};
  EXPECT_CONTAINS(error_of([&] { Table bad(cols); }), "Table: column 'y' has 0 rows but column 'x' has 2");
}
