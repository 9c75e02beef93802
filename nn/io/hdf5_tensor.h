// kiln/nn/io/hdf5_tensor.h: tensors and small values as HDF5 datasets and attributes (internal to nn/io;
// includes hdf5.h). The layout rules every kiln HDF5 file follows:
//   - a tensor is one dataset, dtype and shape kept (0-d tensors are scalar dataspaces), in the HDF5 types
//     h5py and NumPy use: IEEE f32/f64 and f16 (h5py's half layout), little-endian integers, bool as h5py's
//     enum {FALSE, TRUE}; bf16 as a 2-byte HDF5 float with bfloat16's fields (8-bit exponent, 7-bit
//     mantissa; NumPy has no bfloat16, so h5py users read it with .view(numpy.uint16));
//   - every dataset kiln writes carries a "crc32" attribute: zlib's CRC-32 of its raw little-endian bytes
//     in row-major order (Python: zlib.crc32(arr.tobytes())), verified on every load;
//   - groups track creation order, so a StateDict reads back in the order it was written.
// Reading treats the file as untrusted: every dataset's type, rank, size and storage is checked against
// what the file can hold before anything is allocated, and external, virtual and linked storage is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/nn/io/hdf5_handle.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::io::detail {

// Every group kiln writes records how many links it holds, so a damaged link that HDF5 no longer lists is
// noticed (list_group checks it in kiln files).
inline constexpr const char* kEntriesAttr = "entries";

// A file being written (created fresh at `path`, which is a temporary name) or read.
struct H5Out {
  Handle file;
  std::string path;  // for messages
  // Where a failed write says it happened: the published path rather than the temporary one.
  std::string shown_path;
};
struct H5In {
  Handle file;
  std::string path;
  int64_t file_size = 0;
  bool kiln_file = false;  // written by kiln (so every dataset must carry a checksum)
  // The same file opened for plain reads: contiguous raw data is read with pread, at the speed of the disk
  // (HDF5's own read path copies at a third of it).
  FileDescriptor raw;
};

H5Out create_file(const std::string& temp_path, const std::string& shown_path);
// Opens read-only; kiln::Error for a missing, unreadable or non-HDF5 file.
H5In open_file(const std::string& path);

// A new group (creation order tracked) under `parent`.
Handle create_group(const H5Out& out, hid_t parent, const std::string& name);
// An existing group, or an invalid Handle when there is no such link; kiln::Error when the link is not a
// plain group (a soft or external link, a dataset).
Handle open_group(const H5In& in, hid_t parent, const std::string& name, const std::string& shown_name);

// Returns the new dataset, for callers that add attributes.
Handle write_tensor(const H5Out& out, hid_t group, const std::string& name, const Tensor& t);
void write_state_dict(const H5Out& out, hid_t parent, const std::string& group, const StateDict& dict);
void write_string_attr(const H5Out& out, hid_t object, const std::string& name, const std::string& value);
void write_int_attr(const H5Out& out, hid_t object, const std::string& name, int64_t value);
// A scalar string dataset (user key/values).
Handle write_string_dataset(const H5Out& out, hid_t group, const std::string& name, const std::string& value);

// The names of the links in a group, in creation order where the group tracks it, else by name.
std::vector<std::string> list_group(const H5In& in, hid_t group, const std::string& shown_name);
// One dataset, fully checked (see the top of this file). `shown_name` names it in messages
// ("model/0.weight").
Tensor read_tensor(const H5In& in, hid_t group, const std::string& name, const std::string& shown_name);
// Every dataset of a group, as a StateDict in the group's order.
StateDict read_state_dict(const H5In& in, hid_t group, const std::string& shown_name);
bool is_string_dataset(const H5In& in, hid_t group, const std::string& name);
std::string read_string_dataset(const H5In& in, hid_t group, const std::string& name,
                                const std::string& shown_name);
std::optional<std::string> read_string_attr(const H5In& in, hid_t object, const std::string& name);
std::optional<int64_t> read_int_attr(const H5In& in, hid_t object, const std::string& name);

}  // namespace kiln::nn::io::detail
