// kiln/nn/io/hdf5_types.cpp: dtype <-> HDF5 type (hdf5_types.h).
#include "kiln/nn/io/hdf5_types.h"

#include <cstring>

#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {
Handle make_half_type(bool bfloat) {
  Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  // (sign position, exponent position, exponent size, mantissa position, mantissa size)
  if (bfloat) {
    H5Tset_fields(t, 15, 7, 8, 0, 7);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 127);
  } else {
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
  }
  return t;
}

Handle make_bool_type() {
  Handle t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  int8_t v = 0;
  H5Tenum_insert(t, "FALSE", &v);
  v = 1;
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}
}  // namespace

Handle h5_type(DType d) {
  switch (d) {
    case DType::f32:
      return Handle(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    case DType::f64:
      return Handle(H5Tcopy(H5T_IEEE_F64LE), H5Tclose);
    case DType::i64:
      return Handle(H5Tcopy(H5T_STD_I64LE), H5Tclose);
    case DType::i32:
      return Handle(H5Tcopy(H5T_STD_I32LE), H5Tclose);
    case DType::u8:
      return Handle(H5Tcopy(H5T_STD_U8LE), H5Tclose);
    case DType::boolean:
      return make_bool_type();
    case DType::f16:
      return make_half_type(false);
    case DType::bf16:
      return make_half_type(true);
  }
  KILN_ASSERT(false, "unknown dtype");
  return {};
}

// Narrow integers widen (HDF5 converts).
std::optional<DType> dtype_of(hid_t type, std::string* why) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (size == 4) return DType::f32;
    if (size == 8) return DType::f64;
    if (size == 2) {
      size_t spos, epos, esize, mpos, msize;
      if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0) {
        if (esize == 5 && msize == 10) return DType::f16;
        if (esize == 8 && msize == 7) return DType::bf16;
      }
    }
    *why = "a " + std::to_string(size) + "-byte float layout kiln has no dtype for";
    return std::nullopt;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1 && !is_signed) return DType::u8;
    if (is_signed && size <= 4) return DType::i32;
    if ((is_signed && size == 8) || (!is_signed && size <= 4)) return DType::i64;
    *why = std::string("a ") + (is_signed ? "signed " : "unsigned ") + std::to_string(size) +
           "-byte integer kiln has no dtype for";
    return std::nullopt;
  }
  if (cls == H5T_ENUM && size == 1 && H5Tget_nmembers(type) == 2) {
    // h5py's bool: {FALSE = 0, TRUE = 1}. HDF5 converts enums by member name, so check the names.
    char* a = H5Tget_member_name(type, 0);
    char* b = H5Tget_member_name(type, 1);
    const bool named = a != nullptr && b != nullptr &&
                       ((std::strcmp(a, "FALSE") == 0 && std::strcmp(b, "TRUE") == 0) ||
                        (std::strcmp(a, "TRUE") == 0 && std::strcmp(b, "FALSE") == 0));
    if (a != nullptr) H5free_memory(a);
    if (b != nullptr) H5free_memory(b);
    if (named) return DType::boolean;
  }
  static const char* const names[] = {"integer",  "float",           "time",     "string",
                                      "bitfield", "opaque",          "compound", "reference",
                                      "enum",     "variable-length", "array"};
  *why = cls >= 0 && cls < 11 ? std::string("HDF5 type class '") + names[cls] + "'" : "an unknown HDF5 type";
  if (cls == H5T_ENUM) *why += " (only h5py's bool enum {FALSE, TRUE} is read)";
  return std::nullopt;
}

Handle scalar_space() { return Handle(H5Screate(H5S_SCALAR), H5Sclose); }

Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

Handle fixed_string_type(size_t n) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, n == 0 ? 1 : n);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

}  // namespace kiln::nn::io::detail
