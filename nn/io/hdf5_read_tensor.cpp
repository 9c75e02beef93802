// kiln/nn/io/hdf5_read_tensor.cpp: one dataset into a tensor, fully checked (hdf5_tensor.h): type, rank and
// size against what the file can hold before anything is allocated, then the data and its checksum.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "kiln/nn/io/hdf5_tensor.h"
#include "kiln/nn/io/hdf5_types.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {

// The largest rank kiln reads (HDF5's own limit).
constexpr int kMaxRank = H5S_MAX_RANK;
// Raw data is read in pieces of this size, each checksummed right after its read while it is still in
// the CPU's cache: the checksum then costs a fraction of the copy out of the page cache, where a second
// pass over the whole tensor (or a second thread on a machine whose cores are all busy) would not.
constexpr size_t kReadPieceBytes = size_t{256} << 10;
// Deflate cannot expand data by more than about 1032x, so a filtered dataset claiming more bytes than that
// per stored byte is a lie (a decompression bomb), refused before allocating.
constexpr int64_t kMaxFilterRatio = 1032;

// What a dataset claims to be, checked before anything is allocated for it.
struct DatasetPlan {
  DType dtype;
  Shape shape;
  int64_t nbytes = 0;
  // Where the bytes lie in the file when they can be read with pread as they are: contiguous, unfiltered
  // and stored exactly as they sit in memory. HADDR_UNDEF otherwise (HDF5 reads and converts them).
  haddr_t raw_offset = HADDR_UNDEF;
};

Shape shape_of(const H5In& in, hid_t dset, const std::string& shown_name) {
  Handle space =
      hdf5_own(H5Dget_space(dset), H5Sclose, in.path, "cannot read the shape of '" + shown_name + "'");
  const H5S_class_t sclass = H5Sget_simple_extent_type(space);
  KILN_CHECK(sclass == H5S_SCALAR || sclass == H5S_SIMPLE, in.path, ": '", shown_name,
             "' has an empty (null) dataspace, not a tensor");
  Shape shape;
  if (sclass == H5S_SCALAR) return shape;
  const int rank = H5Sget_simple_extent_ndims(space);
  KILN_CHECK(rank >= 0 && rank <= kMaxRank, in.path, ": '", shown_name, "' has rank ", rank);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0)
    hdf5_fail(in.path, "cannot read the shape of '" + shown_name + "'");
  for (hsize_t d : dims) shape.push_back(static_cast<int64_t>(d));
  return shape;
}

// The byte size of `shape` elements of `dtype`, without overflow.
int64_t byte_size(const H5In& in, const Shape& shape, DType dtype, const std::string& shown_name) {
  const int64_t esize = static_cast<int64_t>(dtype_size(dtype));
  int64_t numel = 1;
  for (int64_t d : shape) {
    KILN_CHECK(d >= 0 && (d == 0 || numel <= std::numeric_limits<int64_t>::max() / esize / d), in.path, ": '",
               shown_name, "' claims the impossible shape ", shape_str(shape));
    numel *= d;
  }
  return numel * esize;
}

// Checks that the file can hold what the dataset claims and says where its raw bytes lie.
void check_storage(const H5In& in, hid_t dset, hid_t ftype, DatasetPlan& plan,
                   const std::string& shown_name) {
  const std::string& p = in.path;
  Handle dcpl =
      hdf5_own(H5Dget_create_plist(dset), H5Pclose, p, "cannot read the layout of '" + shown_name + "'");
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  KILN_CHECK(layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT, p, ": '", shown_name,
             "' uses virtual or unknown storage; kiln reads only data stored in the file itself");
  KILN_CHECK(H5Pget_external_count(dcpl) == 0, p, ": '", shown_name,
             "' keeps its data in external files; kiln reads only data stored in the file itself");
  const int nfilters = H5Pget_nfilters(dcpl);
  const int64_t stored = static_cast<int64_t>(H5Dget_storage_size(dset));
  KILN_CHECK(stored <= in.file_size, p, ": '", shown_name, "' claims ", stored, " stored bytes in a file of ",
             in.file_size, " bytes (truncated or corrupted)");
  if (nfilters == 0) {
    KILN_CHECK(stored >= plan.nbytes, p, ": '", shown_name, "' of shape ", shape_str(plan.shape),
               " and dtype ", plan.dtype, " needs ", plan.nbytes, " bytes but the file stores ", stored,
               " (truncated, or never written)");
  } else {
    KILN_CHECK(plan.nbytes <= stored * kMaxFilterRatio, p, ": '", shown_name, "' claims ", plan.nbytes,
               " bytes from ", stored, " compressed bytes, more than any HDF5 filter can expand");
  }
  if (layout != H5D_CONTIGUOUS || plan.nbytes == 0) return;
  const haddr_t offset = H5Dget_offset(dset);
  KILN_CHECK(offset != HADDR_UNDEF && offset <= static_cast<haddr_t>(in.file_size) &&
                 static_cast<int64_t>(offset) + plan.nbytes <= in.file_size,
             p, ": '", shown_name, "' lies outside the file (truncated or corrupted)");
  Handle mtype = h5_type(plan.dtype);
  if (in.raw.get() >= 0 && nfilters == 0 && H5Tequal(ftype, mtype) > 0) plan.raw_offset = offset;
}

// Reads `nbytes` at `offset` of the plain file into `dst` with pread, returning their CRC-32.
uint32_t pread_checksummed(const H5In& in, haddr_t offset, uint8_t* dst, int64_t nbytes,
                           const std::string& shown_name) {
  uint32_t crc = 0;
  for (int64_t at = 0; at < nbytes;) {
    const size_t len = static_cast<size_t>(std::min<int64_t>(kReadPieceBytes, nbytes - at));
    for (size_t got = 0; got < len;) {
      const ssize_t n =
          ::pread(in.raw.get(), dst + at + got, len - got, static_cast<off_t>(offset + at + got));
      if (n < 0 && errno == EINTR) continue;
      KILN_CHECK(n > 0, in.path, ": cannot read the data of '", shown_name,
                 "': ", n == 0 ? "the file ends early" : std::strerror(errno));
      got += static_cast<size_t>(n);
    }
    crc = crc32_of(dst + at, len, crc);
    at += static_cast<int64_t>(len);
  }
  return crc;
}

void verify_checksum(const H5In& in, hid_t dset, uint32_t crc, const std::string& shown_name) {
  const std::optional<int64_t> saved = read_int_attr(in, dset, "crc32");
  if (saved.has_value()) {
    KILN_CHECK(*saved == static_cast<int64_t>(crc), in.path, ": '", shown_name,
               "' fails its checksum (stored crc32 ", *saved, ", data has ", crc, "): the file is corrupted");
  } else {
    KILN_CHECK(!in.kiln_file, in.path, ": '", shown_name,
               "' has no crc32 attribute; every tensor kiln writes has one, so the file was altered");
  }
}

}  // namespace

Tensor read_tensor(const H5In& in, hid_t group, const std::string& name, const std::string& shown_name) {
  const std::string& p = in.path;
  H5O_info_t info{};
  if (H5Oget_info_by_name2(group, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    hdf5_fail(p, "cannot read the object '" + shown_name + "'");
  KILN_CHECK(info.type == H5O_TYPE_DATASET, p, ": '", shown_name, "' is not a dataset");
  Handle dset = hdf5_own(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, p,
                         "cannot open the dataset '" + shown_name + "'");
  Handle ftype = hdf5_own(H5Dget_type(dset), H5Tclose, p, "cannot read the type of '" + shown_name + "'");
  std::string why;
  const std::optional<DType> dtype = dtype_of(ftype, &why);
  KILN_CHECK(dtype.has_value(), p, ": '", shown_name, "' has ", why);
  DatasetPlan plan{.dtype = *dtype, .shape = shape_of(in, dset, shown_name)};
  plan.nbytes = byte_size(in, plan.shape, plan.dtype, shown_name);
  check_storage(in, dset, ftype, plan, shown_name);

  Tensor t = empty(plan.shape, {.dtype = plan.dtype});
  auto* dst = static_cast<uint8_t*>(t.data_ptr());
  uint32_t crc = 0;
  if (plan.raw_offset != HADDR_UNDEF) {
    crc = pread_checksummed(in, plan.raw_offset, dst, plan.nbytes, shown_name);
  } else if (plan.nbytes > 0) {
    // Chunks, filters, other byte orders: HDF5 reads and converts.
    Handle mtype = h5_type(plan.dtype);
    if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
      hdf5_fail(p, "cannot read the data of '" + shown_name + "'");
    crc = crc32_of(dst, static_cast<size_t>(plan.nbytes));
  }
  verify_checksum(in, dset, crc, shown_name);
  return t;
}

}  // namespace kiln::nn::io::detail
