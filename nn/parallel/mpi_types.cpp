// kiln dtypes and reduce ops as MPI datatypes and ops, including the user-defined f16/bf16 ops.
#include "kiln/nn/parallel/mpi_types.h"

#include <algorithm>

#include "kiln/tensor/error.h"
#include "kiln/tensor/half.h"

namespace kiln::distributed::detail {
namespace {

template <class T, class F>
void combine(void* in, void* inout, int* len, F f) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = T(f(static_cast<float>(a[i]), static_cast<float>(b[i])));
}

template <class T>
struct HalfOps {
  static void sum(void* in, void* inout, int* len, MPI_Datatype*) {
    combine<T>(in, inout, len, [](float a, float b) { return a + b; });
  }
  static void prod(void* in, void* inout, int* len, MPI_Datatype*) {
    combine<T>(in, inout, len, [](float a, float b) { return a * b; });
  }
  // NaN propagates, as in torch.max.
  static void max(void* in, void* inout, int* len, MPI_Datatype*) {
    combine<T>(in, inout, len, [](float a, float b) { return (a != a || a > b) ? a : b; });
  }
  static void min(void* in, void* inout, int* len, MPI_Datatype*) {
    combine<T>(in, inout, len, [](float a, float b) { return (a != a || a < b) ? a : b; });
  }
};

// [dtype f16/bf16][sum, product, max, min]
MPI_Op g_half_ops[2][4] = {{MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL},
                           {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL}};

template <class T>
void create_ops(MPI_Op* ops) {
  MPI_Op_create(&HalfOps<T>::sum, 1, &ops[0]);
  MPI_Op_create(&HalfOps<T>::prod, 1, &ops[1]);
  MPI_Op_create(&HalfOps<T>::max, 1, &ops[2]);
  MPI_Op_create(&HalfOps<T>::min, 1, &ops[3]);
}

template <class T>
void divide(void* data, int64_t count, int divisor) {
  T* p = static_cast<T*>(data);
  for (int64_t i = 0; i < count; ++i) p[i] = T(static_cast<float>(p[i]) / static_cast<float>(divisor));
}

}  // namespace

void mpi_types_init() {
  create_ops<Half>(g_half_ops[0]);
  create_ops<BFloat16>(g_half_ops[1]);
}

void mpi_types_free() {
  for (auto& row : g_half_ops)
    for (MPI_Op& op : row)
      if (op != MPI_OP_NULL) MPI_Op_free(&op);
}

MPI_Datatype mpi_datatype(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i64:
      return MPI_INT64_T;
    case DType::i32:
      return MPI_INT32_T;
    case DType::u8:
    case DType::boolean:
      return MPI_UINT8_T;
    case DType::f16:
    case DType::bf16:
      return MPI_UINT16_T;
  }
  KILN_CHECK(false, "kiln::distributed: dtype ", dtype_name(dtype), " has no MPI type");
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op, DType dtype) {
  KILN_CHECK(op != ReduceOp::mean || is_floating(dtype),
             "kiln::distributed: reduce op mean needs a floating "
             "dtype (f32, f64, f16, bf16), got ",
             dtype_name(dtype), "; use sum and divide yourself");
  if (dtype == DType::f16 || dtype == DType::bf16) {
    const int row = dtype == DType::f16 ? 0 : 1;
    switch (op) {
      case ReduceOp::sum:
      case ReduceOp::mean:
        return g_half_ops[row][0];
      case ReduceOp::product:
        return g_half_ops[row][1];
      case ReduceOp::max:
        return g_half_ops[row][2];
      case ReduceOp::min:
        return g_half_ops[row][3];
    }
  }
  if (dtype == DType::boolean) {  // 0/1 bytes: "or" is max and "and" is min
    return (op == ReduceOp::sum || op == ReduceOp::max) ? MPI_MAX : MPI_MIN;
  }
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::mean:
      return MPI_SUM;
    case ReduceOp::product:
      return MPI_PROD;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

void divide_in_place(void* data, int64_t count, DType dtype, int divisor) {
  switch (dtype) {
    case DType::f32: {
      float* p = static_cast<float*>(data);
      // A true division (not a multiplication by 1/n, which can differ in the last bit), as torch does.
      for (int64_t i = 0; i < count; ++i) p[i] /= static_cast<float>(divisor);
      break;
    }
    case DType::f64: {
      double* p = static_cast<double*>(data);
      for (int64_t i = 0; i < count; ++i) p[i] /= static_cast<double>(divisor);
      break;
    }
    case DType::f16:
      divide<Half>(data, count, divisor);
      break;
    case DType::bf16:
      divide<BFloat16>(data, count, divisor);
      break;
    default:
      KILN_ASSERT(false, "divide_in_place on ", dtype_name(dtype));
  }
}

}  // namespace kiln::distributed::detail
