// tests/test_tensor.cpp: the tensor core (tensor/): factories and element access for every CPU dtype,
// dtype conversion, views that alias storage, NumPy broadcasting, error messages, printing and allocator
// statistics. Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "support/helpers.h"

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::testing::error_of;
using kiln::testing::ThreadCountRestorer;
using kiln::testing::values;

namespace {

// ---------------------------------------------------------------------------------------------------
// Factories and element access, for every CPU dtype.

template <class T>
class Factories : public ::testing::Test {};
using AllTypes = ::testing::Types<float, double, int64_t, int32_t, uint8_t, bool>;
TYPED_TEST_SUITE(Factories, AllTypes);

// The value v takes once stored as T (bool: nonzero is 1).
template <class T>
double as(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0 ? 1.0 : 0.0;
  } else {
    return static_cast<double>(static_cast<T>(v));
  }
}

TYPED_TEST(Factories, ZerosOnesFullHaveShapeDtypeAndValues) {
  using T = TypeParam;
  constexpr DType d = kiln::dtype_of<T>;
  Tensor z = kiln::zeros({2, 3}, {.dtype = d});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), d);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dim(), 2);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(values(z), std::vector<double>(6, 0.0));

  Tensor o = kiln::ones({4}, {.dtype = d});
  EXPECT_EQ(o.dtype(), d);
  EXPECT_EQ(values(o), std::vector<double>(4, 1.0));

  Tensor f = kiln::full({3, 1, 2}, 5.0, {.dtype = d});
  EXPECT_EQ(f.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values(f), std::vector<double>(6, as<T>(5.0)));

  Tensor s = kiln::scalar_tensor(1.0, {.dtype = d});
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<T>(), static_cast<T>(1));

  Tensor like = kiln::zeros_like(f);
  EXPECT_EQ(like.shape(), f.shape());
  EXPECT_EQ(like.dtype(), d);
  EXPECT_NE(like.storage(), f.storage());
}

TYPED_TEST(Factories, RangesAndEye) {
  using T = TypeParam;
  constexpr DType d = kiln::dtype_of<T>;
  Tensor r = kiln::arange(5, {.dtype = d});
  EXPECT_EQ(r.shape(), (Shape{5}));
  EXPECT_EQ(r.dtype(), d);
  std::vector<double> expected;
  for (int i = 0; i < 5; ++i) expected.push_back(as<T>(i));
  EXPECT_EQ(values(r), expected);

  Tensor stepped = kiln::arange(2.0, 11.0, 3.0, {.dtype = d});
  EXPECT_EQ(values(stepped), (std::vector<double>{as<T>(2), as<T>(5), as<T>(8)}));

  Tensor l = kiln::linspace(0.0, 8.0, 5, {.dtype = d});
  EXPECT_EQ(l.shape(), (Shape{5}));
  EXPECT_EQ(l.dtype(), d);
  EXPECT_EQ(values(l), (std::vector<double>{as<T>(0), as<T>(2), as<T>(4), as<T>(6), as<T>(8)}));

  Tensor e = kiln::eye(3, {.dtype = d});
  EXPECT_EQ(e.shape(), (Shape{3, 3}));
  EXPECT_EQ(e.dtype(), d);
  EXPECT_EQ(values(e), (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

TYPED_TEST(Factories, FromVectorFromBlobEmptyAndElementAccess) {
  using T = TypeParam;
  constexpr DType d = kiln::dtype_of<T>;
  Tensor v;
  if constexpr (std::is_same_v<T, bool>) {
    v = kiln::from_vector(std::vector<bool>{true, false, false, true}, Shape{2, 2});
  } else {
    v = kiln::from_vector(std::vector<T>{T(1), T(2), T(3), T(4)}, Shape{2, 2});
  }
  EXPECT_EQ(v.shape(), (Shape{2, 2}));
  EXPECT_EQ(v.dtype(), d);
  std::vector<double> expected =
      std::is_same_v<T, bool> ? std::vector<double>{1, 0, 0, 1} : std::vector<double>{1, 2, 3, 4};
  EXPECT_EQ(values(v), expected);
  EXPECT_EQ(static_cast<double>(v.template at<T>({1, 1})), expected[3]);
  EXPECT_EQ(static_cast<double>(v.template at<T>({-1, 0})), expected[2]);  // negative index

  // at() is a reference into storage.
  v.template at<T>({0, 1}) = static_cast<T>(1);
  EXPECT_EQ(values(v)[1], 1.0);
  EXPECT_EQ(v.select(0, 0).select(0, 1).template item<T>(), static_cast<T>(1));

  // from_blob wraps the caller's memory without copying.
  T buffer[6] = {T(0), T(1), T(0), T(1), T(1), T(0)};
  Tensor b = kiln::from_blob(buffer, {3, 2}, d);
  EXPECT_EQ(b.shape(), (Shape{3, 2}));
  EXPECT_EQ(b.dtype(), d);
  EXPECT_EQ(b.data_ptr(), static_cast<void*>(buffer));
  EXPECT_EQ(values(b), (std::vector<double>{0, 1, 0, 1, 1, 0}));
  b.template at<T>({2, 1}) = static_cast<T>(1);
  EXPECT_EQ(buffer[5], static_cast<T>(1));
  buffer[0] = static_cast<T>(1);
  EXPECT_EQ(b.template at<T>({0, 0}), static_cast<T>(1));

  Tensor e = kiln::empty({2, 5}, {.dtype = d});
  EXPECT_EQ(e.shape(), (Shape{2, 5}));
  EXPECT_EQ(e.dtype(), d);
  EXPECT_EQ(e.numel(), 10);
  EXPECT_GE(e.storage()->nbytes(), 10 * kiln::dtype_size(d));
  Tensor none = kiln::empty({3, 0, 2}, {.dtype = d});
  EXPECT_EQ(none.numel(), 0);
  EXPECT_TRUE(values(none).empty());
}

TEST(Factories, ArangeAndLinspaceDefaults) {
  EXPECT_EQ(kiln::arange(4).dtype(), DType::i64);
  EXPECT_EQ(kiln::linspace(0, 1, 3).dtype(), DType::f32);
  EXPECT_EQ(kiln::eye(2).dtype(), DType::f32);
  EXPECT_EQ(kiln::zeros({1}).dtype(), DType::f32);
  EXPECT_EQ(values(kiln::linspace(-1.0, 1.0, 5)), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(values(kiln::linspace(3.0, 7.0, 1)), (std::vector<double>{3}));
  EXPECT_EQ(values(kiln::arange(0.0, 1.0, 0.25, {.dtype = DType::f64})),
            (std::vector<double>{0, 0.25, 0.5, 0.75}));
}

TEST(Factories, FromBlobDeleterRunsOnceWhenTheLastViewGoes) {
  int deleted = 0;
  auto* data = new float[6]{1, 2, 3, 4, 5, 6};
  {
    Tensor view;
    {
      Tensor t = kiln::from_blob(data, {2, 3}, DType::f32, [&](void* p) {
        ++deleted;
        delete[] static_cast<float*>(p);
      });
      view = t.transpose(0, 1);
    }
    EXPECT_EQ(deleted, 0);  // the transposed view still uses the memory
    EXPECT_EQ(view.at<float>({2, 1}), 6.0f);
  }
  EXPECT_EQ(deleted, 1);
}

TEST(Factories, ItemAtAndToVectorConvert) {
  Tensor t = kiln::from_vector(std::vector<float>{2.5f}, Shape{});
  EXPECT_EQ(t.dim(), 0);
  EXPECT_EQ(t.item<float>(), 2.5f);
  EXPECT_EQ(t.item<double>(), 2.5);
  EXPECT_EQ(t.item<int64_t>(), 2);
  EXPECT_TRUE(t.item<bool>());
  Tensor one = kiln::full({1, 1}, -3.0, {.dtype = DType::i32});
  EXPECT_EQ(one.item<int32_t>(), -3);
  EXPECT_EQ(one.item<float>(), -3.0f);
  // at<T> must match the dtype exactly.
  std::string msg = error_of([&] { one.at<float>({0, 0}); });
  EXPECT_CONTAINS(msg, "i32");
  msg = error_of([&] { one.at<int32_t>({0}); });
  EXPECT_CONTAINS(msg, "at()");
  msg = error_of([&] { one.at<int32_t>({0, 1}); });
  EXPECT_CONTAINS(msg, "out of range");
}

TEST(Conversion, ToDtypeTruncatesAndConverts) {
  Tensor f = kiln::from_vector(std::vector<float>{2.7f, -2.7f, 0.0f, 1.5f, -0.5f});
  Tensor i = f.to(DType::i64);
  EXPECT_EQ(i.dtype(), DType::i64);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{2, -2, 0, 1, 0}));
  EXPECT_EQ(f.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{2, -2, 0, 1, 0}));
  Tensor b = f.to(DType::boolean);
  EXPECT_EQ(b.dtype(), DType::boolean);
  EXPECT_EQ(b.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 1, 1}));
  Tensor d = f.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_DOUBLE_EQ(d.to_vector<double>()[0], static_cast<double>(2.7f));
  EXPECT_NE(d.storage(), f.storage());

  Tensor ints = kiln::from_vector(std::vector<int64_t>{3, -1, 0, 255});
  EXPECT_EQ(ints.to(DType::f32).to_vector<float>(), (std::vector<float>{3, -1, 0, 255}));
  EXPECT_EQ(ints.to(DType::boolean).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 1}));
  EXPECT_EQ(ints.to(DType::u8).to_vector<uint8_t>()[3], 255);
  Tensor bools = kiln::from_vector(std::vector<bool>{true, false});
  EXPECT_EQ(bools.to(DType::f32).to_vector<float>(), (std::vector<float>{1, 0}));
  EXPECT_EQ(bools.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  Tensor bytes = kiln::from_vector(std::vector<uint8_t>{200, 7});
  EXPECT_EQ(bytes.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{200, 7}));

  // Converting to the dtype a tensor already has is free.
  EXPECT_EQ(f.to(DType::f32).storage(), f.storage());
  // Converting a strided view reads it in logical order.
  Tensor m = kiln::from_vector(std::vector<double>{1.9, 2.9, 3.9, 4.9, 5.9, 6.9}, Shape{2, 3});
  EXPECT_EQ(m.t().to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

// ---------------------------------------------------------------------------------------------------
// Views alias storage; in-place writes through a view are visible.

Tensor iota(const Shape& shape) {
  return kiln::arange(0.0, static_cast<double>(kiln::shape_numel(shape)), 1.0, {.dtype = DType::f32})
      .reshape(shape);
}

TEST(Views, ReshapeAndViewShareStorage) {
  Tensor base = iota({2, 6});
  Tensor r = base.reshape({3, 4});
  Tensor v = base.view({4, -1});
  EXPECT_EQ(r.storage(), base.storage());
  EXPECT_EQ(v.storage(), base.storage());
  EXPECT_EQ(v.shape(), (Shape{4, 3}));
  EXPECT_EQ(r.data_ptr(), base.data_ptr());
  r.at<float>({2, 3}) = 100.0f;  // element 11
  EXPECT_EQ(base.at<float>({1, 5}), 100.0f);
  EXPECT_EQ(v.at<float>({3, 2}), 100.0f);
  base.at<float>({0, 0}) = -1.0f;
  EXPECT_EQ(r.at<float>({0, 0}), -1.0f);
  Tensor flat = base.flatten();
  EXPECT_EQ(flat.storage(), base.storage());
  EXPECT_EQ(flat.shape(), (Shape{12}));
}

TEST(Views, PermuteAndTransposeShareStorage) {
  Tensor base = iota({2, 3, 4});
  Tensor p = base.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(p.storage(), base.storage());
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.at<float>({3, 1, 2}), base.at<float>({1, 2, 3}));
  p.at<float>({3, 1, 2}) = -7.0f;
  EXPECT_EQ(base.at<float>({1, 2, 3}), -7.0f);

  Tensor m = iota({2, 3});
  Tensor t = m.t();
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.storage(), m.storage());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  t.fill_(9.0);
  EXPECT_EQ(m.to_vector<float>(), std::vector<float>(6, 9.0f));
  Tensor tt = m.transpose(-1, 0);
  EXPECT_EQ(tt.strides(), (Shape{1, 3}));
}

TEST(Views, SqueezeUnsqueezeShareStorage) {
  Tensor base = iota({1, 3, 1});
  Tensor s = base.squeeze();
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_EQ(s.storage(), base.storage());
  Tensor s0 = base.squeeze(0);
  EXPECT_EQ(s0.shape(), (Shape{3, 1}));
  EXPECT_EQ(base.squeeze(1).shape(), (Shape{1, 3, 1}));  // not size 1: unchanged
  Tensor u = s.unsqueeze(0).unsqueeze(-1);
  EXPECT_EQ(u.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(u.storage(), base.storage());
  u.at<float>({0, 2, 0}) = 42.0f;
  EXPECT_EQ(base.at<float>({0, 2, 0}), 42.0f);
  EXPECT_EQ(s.at<float>({2}), 42.0f);
}

TEST(Views, ExpandUsesZeroStride) {
  Tensor col = kiln::from_vector(std::vector<float>{1, 2, 3}, Shape{3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.storage(), col.storage());
  EXPECT_EQ(e.at<float>({1, 2, 3}), 3.0f);
  col.at<float>({2, 0}) = 30.0f;
  EXPECT_EQ(e.at<float>({0, 2, 1}), 30.0f);
  Tensor keep = col.expand({-1, 5});
  EXPECT_EQ(keep.shape(), (Shape{3, 5}));
  // Every expanded element reads the same stored value.
  std::vector<float> v = e.to_vector<float>();
  EXPECT_EQ(std::count(v.begin(), v.end(), 30.0f), 8);
  std::string msg = error_of([&] { col.expand({3, 4}).expand({2, 4}); });
  EXPECT_CONTAINS(msg, "expand");
  EXPECT_CONTAINS(msg, "[3, 4]");
}

TEST(Views, SliceNarrowSelectShareStorage) {
  Tensor base = iota({4, 6});
  Tensor s = base.slice(1, 1, 6, 2);  // columns 1, 3, 5
  EXPECT_EQ(s.shape(), (Shape{4, 3}));
  EXPECT_EQ(s.strides(), (Shape{6, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(s.storage(), base.storage());
  EXPECT_EQ(s.select(0, 1).to_vector<float>(), (std::vector<float>{7, 9, 11}));
  s.fill_(-1.0);
  EXPECT_EQ(base.select(0, 2).to_vector<float>(), (std::vector<float>{12, -1, 14, -1, 16, -1}));
  EXPECT_EQ(base.at<float>({0, 0}), 0.0f);  // untouched outside the slice

  Tensor n = base.narrow(0, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 6}));
  EXPECT_EQ(n.storage(), base.storage());
  EXPECT_EQ(n.offset(), 6);
  n.copy_(kiln::full({6}, 5.0));  // broadcast copy through the view
  EXPECT_EQ(base.select(0, 1).to_vector<float>(), std::vector<float>(6, 5.0f));
  EXPECT_EQ(base.select(0, 2).to_vector<float>(), std::vector<float>(6, 5.0f));
  EXPECT_EQ(base.select(0, 3).at<float>({0}), 18.0f);

  Tensor row = base.select(0, -1);
  EXPECT_EQ(row.shape(), (Shape{6}));
  EXPECT_EQ(row.storage(), base.storage());
  row.at<float>({5}) = 77.0f;
  EXPECT_EQ(base.at<float>({3, 5}), 77.0f);
  Tensor column = base.select(1, 2);
  EXPECT_EQ(column.strides(), (Shape{6}));
  base.at<float>({3, 2}) = 88.0f;
  EXPECT_EQ(column.at<float>({3}), 88.0f);

  // Python-style negative and clamped bounds.
  EXPECT_EQ(base.slice(1, -2, 100).shape(), (Shape{4, 2}));
  EXPECT_EQ(base.slice(0, 3, 1).numel(), 0);
}

TEST(Views, InPlaceWritesThroughABaseAreVisibleInViews) {
  Tensor base = iota({3, 4});
  Tensor view = base.t().slice(0, 1, 3);  // (2, 3): columns 1 and 2
  base.mul_(2.0);
  EXPECT_EQ(view.to_vector<float>(), (std::vector<float>{2, 10, 18, 4, 12, 20}));
  base.copy_(kiln::zeros({3, 4}));
  EXPECT_EQ(view.to_vector<float>(), std::vector<float>(6, 0.0f));
  uint64_t before = base.storage()->version();
  view.fill_(1.0);  // writes through a view bump the shared version counter
  EXPECT_GT(base.storage()->version(), before);
  EXPECT_EQ(base.sum().item<float>(), 6.0f);
}

TEST(Views, ContiguousCloneAndViewOfNonViewable) {
  Tensor base = iota({2, 3});
  Tensor same = base.contiguous();
  EXPECT_EQ(same.storage(), base.storage());

  Tensor t = base.t();
  ASSERT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), base.storage());
  EXPECT_EQ(c.to_vector<float>(), t.to_vector<float>());
  c.at<float>({0, 0}) = 50.0f;
  EXPECT_EQ(base.at<float>({0, 0}), 0.0f);

  Tensor k = base.clone();
  EXPECT_NE(k.storage(), base.storage());
  EXPECT_EQ(k.to_vector<float>(), base.to_vector<float>());
  k.fill_(3.0);
  EXPECT_EQ(base.at<float>({1, 2}), 5.0f);

  // view() never copies: a transposed tensor cannot be flattened in place.
  std::string msg = error_of([&] { t.view({6}); });
  EXPECT_CONTAINS(msg, "view");
  EXPECT_CONTAINS(msg, "[3, 2]");
  EXPECT_CONTAINS(msg, "[6]");
  // reshape() copies instead.
  Tensor r = t.reshape({6});
  EXPECT_NE(r.storage(), base.storage());
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // but a view-compatible reshape of a non-contiguous tensor still aliases.
  Tensor p = iota({2, 3, 4}).permute({1, 0, 2});  // (3, 2, 4), last dim contiguous
  Tensor split = p.view({3, 2, 2, 2});
  EXPECT_EQ(split.storage(), p.storage());

  msg = error_of([&] { base.reshape({4, 2}); });
  EXPECT_CONTAINS(msg, "reshape");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4, 2]");
}

// ---------------------------------------------------------------------------------------------------
// Broadcasting.

TEST(Broadcasting, BinaryOpsFollowNumPy) {
  Tensor a = kiln::from_vector(std::vector<float>{1, 2, 3}, Shape{3, 1});
  Tensor b = kiln::from_vector(std::vector<float>{10, 20, 30, 40}, Shape{1, 4});
  Tensor s = a + b;
  ASSERT_EQ(s.shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(s.at<float>({i, j}), a.at<float>({i, 0}) + b.at<float>({0, j}));
  Tensor p = a * b;
  EXPECT_EQ(p.at<float>({2, 3}), 120.0f);
  Tensor d = b - a;
  EXPECT_EQ(d.at<float>({1, 0}), 8.0f);

  Tensor x = iota({2, 3, 4});
  Tensor row = kiln::from_vector(std::vector<float>{1, 0, -1, 2});
  Tensor y = x * row;
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(y.at<float>({1, 2, 3}), 23.0f * 2.0f);
  EXPECT_EQ(y.at<float>({1, 2, 2}), -22.0f);
  Tensor zero_d = kiln::scalar_tensor(0.5);
  EXPECT_EQ((x * zero_d).shape(), x.shape());
  EXPECT_EQ((x * zero_d).at<float>({0, 1, 1}), 2.5f);
  Tensor cmp = kiln::gt(a, b * 0.1);  // (3,1) vs (1,4) -> bool (3,4)
  EXPECT_EQ(cmp.dtype(), DType::boolean);
  EXPECT_EQ(cmp.shape(), (Shape{3, 4}));
  EXPECT_EQ(cmp.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}));
}

TEST(Broadcasting, BroadcastShapes) {
  EXPECT_EQ(kiln::broadcast_shapes({5, 1, 4}, {3, 1}, "t"), (Shape{5, 3, 4}));
  EXPECT_EQ(kiln::broadcast_shapes({}, {2, 3}, "t"), (Shape{2, 3}));
  EXPECT_EQ(kiln::broadcast_shapes({2, 0}, {1}, "t"), (Shape{2, 0}));
  std::string msg = error_of([] { kiln::broadcast_shapes({2, 3}, {4, 3}, "my_op"); });
  EXPECT_CONTAINS(msg, "my_op");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4, 3]");
  msg = error_of([] { kiln::broadcast_shapes({3}, {2, 4}, "other"); });
  EXPECT_CONTAINS(msg, "other");
  EXPECT_CONTAINS(msg, "[3]");
  EXPECT_CONTAINS(msg, "[2, 4]");
}

// ---------------------------------------------------------------------------------------------------
// Errors with useful messages.

TEST(Errors, ShapeMismatchNamesOpAndShapes) {
  Tensor a = kiln::zeros({2, 3}), b = kiln::zeros({4, 5});
  std::string msg = error_of([&] { kiln::add(a, b); });
  EXPECT_CONTAINS(msg, "add");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4, 5]");
  msg = error_of([&] { a* b; });
  EXPECT_CONTAINS(msg, "mul");
  msg = error_of([&] { kiln::matmul(a, b); });
  EXPECT_CONTAINS(msg, "matmul");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[4, 5]");
  msg = error_of([&] { a.add_(kiln::zeros({3, 3})); });
  EXPECT_CONTAINS(msg, "add_");
  EXPECT_CONTAINS(msg, "[3, 3]");
}

TEST(Errors, DtypeMismatchNamesBothDtypes) {
  Tensor a = kiln::zeros({2}), b = kiln::zeros({2}, {.dtype = DType::f64});
  // Elementwise ops promote mixed dtypes (PyTorch's rules, tests/test_amp.cpp); matmul does not.
  EXPECT_EQ(kiln::add(a, b).dtype(), DType::f64);
  std::string msg = error_of([&] { kiln::matmul(kiln::zeros({2, 2}), b.reshape({2, 1})); });
  EXPECT_CONTAINS(msg, "matmul");
  EXPECT_CONTAINS(msg, "dtype");
  EXPECT_CONTAINS(msg, "f32");
  EXPECT_CONTAINS(msg, "f64");
  msg = error_of([&] { kiln::matmul(kiln::zeros({2, 2}), kiln::zeros({2, 2}, {.dtype = DType::i64})); });
  EXPECT_CONTAINS(msg, "matmul");
  EXPECT_CONTAINS(msg, "i64");
}

TEST(Errors, IndexOutOfRangeNamesOpAndIndex) {
  Tensor x = iota({3, 4});
  Tensor idx = kiln::from_vector(std::vector<int64_t>{0, 7});
  std::string msg = error_of([&] { kiln::index_select(x, 0, idx); });
  EXPECT_CONTAINS(msg, "index_select");
  EXPECT_CONTAINS(msg, "7");
  msg = error_of([&] { kiln::index_select(x, 1, kiln::from_vector(std::vector<int64_t>{-2})); });
  EXPECT_CONTAINS(msg, "index_select");
  EXPECT_CONTAINS(msg, "-2");

  Tensor g = kiln::from_vector(std::vector<int64_t>{0, 1, 9}, Shape{3, 1});
  msg = error_of([&] { kiln::gather(x, 1, g); });
  EXPECT_CONTAINS(msg, "gather");
  EXPECT_CONTAINS(msg, "9");

  msg = error_of([&] { kiln::one_hot(kiln::from_vector(std::vector<int64_t>{1, 5, 0}), 4); });
  EXPECT_CONTAINS(msg, "one_hot");
  EXPECT_CONTAINS(msg, "5");

  // In range they work.
  EXPECT_EQ(kiln::index_select(x, 0, kiln::from_vector(std::vector<int64_t>{2, 0})).to_vector<float>(),
            (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3}));
  EXPECT_EQ(
      kiln::gather(x, 1, kiln::from_vector(std::vector<int64_t>{3, 0, 1}, Shape{3, 1})).to_vector<float>(),
      (std::vector<float>{3, 4, 9}));
  EXPECT_EQ(kiln::one_hot(kiln::from_vector(std::vector<int64_t>{2, 0}), 3).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
}

TEST(Errors, SelectNarrowItemOutOfRange) {
  Tensor x = iota({3, 4});
  std::string msg = error_of([&] { x.select(1, 4); });
  EXPECT_CONTAINS(msg, "select");
  EXPECT_CONTAINS(msg, "4");
  EXPECT_CONTAINS(msg, "[3, 4]");
  msg = error_of([&] { x.select(0, -4); });
  EXPECT_CONTAINS(msg, "select");
  msg = error_of([&] { x.narrow(0, 2, 2); });
  EXPECT_CONTAINS(msg, "narrow");
  EXPECT_CONTAINS(msg, "[3, 4]");
  msg = error_of([&] { x.select(2, 0); });
  EXPECT_CONTAINS(msg, "dim 2");
  msg = error_of([&] { x.item<float>(); });
  EXPECT_CONTAINS(msg, "item");
  EXPECT_CONTAINS(msg, "[3, 4]");
}

TEST(Errors, IntegerDivisionByZero) {
  Tensor a = kiln::from_vector(std::vector<int64_t>{4, 6});
  Tensor b = kiln::from_vector(std::vector<int64_t>{2, 0});
  std::string msg = error_of([&] { kiln::div(a, b); });
  EXPECT_CONTAINS(msg, "div");
  EXPECT_CONTAINS(msg, "zero");
  msg = error_of([&] { a.to(DType::i32) / 0.0; });
  EXPECT_CONTAINS(msg, "zero");
  EXPECT_EQ((a / kiln::from_vector(std::vector<int64_t>{3, -4})).to_vector<int64_t>(),
            (std::vector<int64_t>{1, -1}));
  // An empty divisor contains no zero.
  Tensor none = kiln::empty({0}, {.dtype = DType::i64});
  EXPECT_NO_THROW(EXPECT_EQ(kiln::div(none, none).numel(), 0));
  // Floating division by zero is IEEE, not an error.
  EXPECT_TRUE(std::isinf((kiln::ones({1}) / 0.0).item<float>()));
}

// In-place integer division by zero must be refused too. The check runs in a child process: a missing
// check ends in SIGFPE, which would otherwise take the whole test program down.
TEST(ErrorsDeathTest, InPlaceIntegerDivisionByZeroIsAnErrorNotACrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto attempt = [](const std::function<void(Tensor&)>& op) {
    Tensor a = kiln::from_vector(std::vector<int64_t>{4, 6});
    try {
      op(a);
    } catch (const kiln::Error& e) {
      std::exit(std::string(e.what()).find("zero") != std::string::npos ? 0 : 2);
    }
    std::exit(3);  // no error at all
  };
  EXPECT_EXIT(attempt([](Tensor& a) {
                a.div_(kiln::from_vector(std::vector<int64_t>{2, 0}));
              }),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(attempt([](Tensor& a) { a.div_(0.0); }), ::testing::ExitedWithCode(0), "");
}

// INT_MIN / -1 overflows, and x86 raises SIGFPE for it. Any outcome but a crash is acceptable: a
// kiln::Error, or the two's-complement wrap-around (INT_MIN).
TEST(ErrorsDeathTest, IntegerDivisionOverflowDoesNotCrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto attempt = [](DType dtype, double expected) {
    Tensor a = kiln::full({3}, expected, {.dtype = dtype});
    Tensor b = kiln::full({3}, -1.0, {.dtype = dtype});
    try {
      Tensor q = kiln::div(a, b);
      std::exit(q.to_vector<double>() == std::vector<double>(3, expected) ? 0 : 4);
    } catch (const kiln::Error&) {
      std::exit(0);
    }
  };
  EXPECT_EXIT(attempt(DType::i64, static_cast<double>(INT64_MIN)), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(attempt(DType::i32, static_cast<double>(INT32_MIN)), ::testing::ExitedWithCode(0), "");
}

// ---------------------------------------------------------------------------------------------------
// Printing.

TEST(Printing, SmallTensorShowsValuesShapeAndDtype) {
  Tensor t = kiln::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f}, Shape{2, 2});
  std::ostringstream os;
  os << t;
  std::string s = os.str();
  EXPECT_EQ(s, t.str());
  EXPECT_CONTAINS(s, "tensor(");
  EXPECT_CONTAINS(s, "1.5000");
  EXPECT_CONTAINS(s, "-2.0000");
  EXPECT_CONTAINS(s, "3.2500");
  EXPECT_CONTAINS(s, "shape=[2, 2]");
  EXPECT_CONTAINS(s, "dtype=f32");
  EXPECT_EQ(s.find("..."), std::string::npos);
  EXPECT_EQ(s.find("requires_grad"), std::string::npos);
  EXPECT_LT(s.find("1.5000"), s.find("3.2500"));  // row-major order

  std::string ints = kiln::arange(3).str();
  EXPECT_CONTAINS(ints, "[0, 1, 2]");
  EXPECT_CONTAINS(ints, "dtype=i64");
  EXPECT_CONTAINS(kiln::scalar_tensor(2.0, {.dtype = DType::f64}).str(), "tensor(2.0000");
  EXPECT_CONTAINS(kiln::ones({1}, {.requires_grad = true}).str(), "requires_grad=true");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  std::string nan = (kiln::zeros({1}) / 0.0).str();
  EXPECT_CONTAINS(nan, "nan");
}

TEST(Printing, LargeTensorIsSummarized) {
  Tensor big = kiln::arange(0.0, 5000.0, 1.0, {.dtype = DType::f32}).reshape({50, 100});
  std::string s = big.str();
  EXPECT_CONTAINS(s, "...");
  EXPECT_CONTAINS(s, "shape=[50, 100]");
  EXPECT_CONTAINS(s, "0.0000");
  EXPECT_CONTAINS(s, "4999.0000");
  EXPECT_EQ(s.find("2550.0000"), std::string::npos);  // a middle element is elided
  EXPECT_LT(s.size(), 2000u);
}

// ---------------------------------------------------------------------------------------------------
// Allocator statistics.

TEST(Memory, StatsTrackAllocationAndRelease) {
  kiln::MemoryStats before = kiln::memory_stats();
  {
    Tensor t = kiln::empty({1000}, {.dtype = DType::f32});
    kiln::MemoryStats during = kiln::memory_stats();
    EXPECT_EQ(during.allocated_bytes - before.allocated_bytes, 4000);
    EXPECT_EQ(during.live_storages - before.live_storages, 1);
    EXPECT_GE(during.peak_allocated_bytes, during.allocated_bytes);
    {
      Tensor d = kiln::zeros({10, 25}, {.dtype = DType::f64});
      EXPECT_EQ(kiln::memory_stats().allocated_bytes - before.allocated_bytes, 4000 + 2000);
    }
    EXPECT_EQ(kiln::memory_stats().allocated_bytes - before.allocated_bytes, 4000);
    // Views allocate nothing.
    Tensor v = t.reshape({10, 100}).t().slice(0, 0, 50, 3);
    EXPECT_EQ(kiln::memory_stats().allocated_bytes - before.allocated_bytes, 4000);
    // A view keeps its storage alive after the base handle is gone.
    t = Tensor();
    EXPECT_EQ(kiln::memory_stats().allocated_bytes - before.allocated_bytes, 4000);
  }
  kiln::MemoryStats after = kiln::memory_stats();
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.live_storages, before.live_storages);
}

}  // namespace

// Large freed blocks are kept and handed out again for the same size (not in sanitizer builds, which
// bypass the cache so that a use after free is still caught).
TEST(Memory, LargeBlocksAreReusedAndCanBeReleased) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the CPU block cache is off under AddressSanitizer";
#endif
  kiln::empty_cache();
  const Shape shape{1 << 20};  // 4 MiB of f32
  void* first = nullptr;
  {
    Tensor a = kiln::empty(shape);
    first = a.data_ptr();
  }
  EXPECT_GE(kiln::memory_stats().cached_bytes, int64_t{4} << 20);
  {
    Tensor b = kiln::empty(shape);
    EXPECT_EQ(b.data_ptr(), first);
    EXPECT_EQ(kiln::memory_stats().cached_bytes, 0);
  }
  kiln::empty_cache();
  EXPECT_EQ(kiln::memory_stats().cached_bytes, 0);
  // Small blocks are never cached.
  { Tensor small = kiln::empty({1000}); }
  EXPECT_EQ(kiln::memory_stats().cached_bytes, 0);
}
