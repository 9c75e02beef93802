// kiln/nn/io/hdf5_types.h: how kiln's dtypes map to HDF5 types, and the checksum of a tensor's bytes
// (internal to nn/io; the rules are at the top of hdf5_tensor.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "kiln/nn/io/crc32.h"
#include "kiln/nn/io/hdf5_handle.h"
#include "kiln/tensor/dtype.h"

namespace kiln::nn::io::detail {

// The HDF5 type kiln writes for a dtype (also the memory type it reads into).
Handle h5_type(DType d);
// The dtype a file's type reads as, or nullopt with `why` saying what the type is.
std::optional<DType> dtype_of(hid_t type, std::string* why);
Handle scalar_space();
// A variable-length UTF-8 string (what h5py writes for str), for reading foreign files.
Handle string_type();
// A fixed-length UTF-8 string of n bytes (at least 1), null-padded: what kiln writes. Fixed-length strings
// live inside the object header, which HDF5 checksums; variable-length ones go to the global heap, which
// it does not.
Handle fixed_string_type(size_t n);

}  // namespace kiln::nn::io::detail
