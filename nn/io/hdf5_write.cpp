// kiln/nn/io/hdf5_write.cpp: creating files, groups, datasets and attributes (hdf5_tensor.h). Big tensors
// are written straight from their memory while a second thread computes their checksum.
#include <future>

#include "kiln/nn/io/hdf5_tensor.h"
#include "kiln/nn/io/hdf5_types.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {

// Tensors above this size have their checksum computed on a second thread while HDF5 moves the bytes.
constexpr size_t kParallelChecksumBytes = size_t{1} << 20;
// The most links (or attributes) HDF5 keeps in an object header (a 16-bit count).
constexpr unsigned kMaxCompact = 65535;

void check_name(const H5Out& out, const std::string& name) {
  KILN_CHECK(!name.empty() && name != "." && name.find('/') == std::string::npos, out.shown_path,
             ": cannot store the name '", name, "' (HDF5 names must be non-empty and contain no '/')");
}

// Groups keep their links (and objects their attributes) inside the object header rather than in a
// fractal heap and B-tree: the 1.8+ object header is checksummed, the heap's blocks are not, and a
// corrupted heap can crash HDF5 1.10's parser. With this, every metadata byte of a kiln file is
// checksummed. Creation order is tracked so a StateDict reads back in its order.
void keep_links_compact(hid_t plist) {
  H5Pset_link_creation_order(plist, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Pset_link_phase_change(plist, kMaxCompact, kMaxCompact - 1);
  H5Pset_attr_phase_change(plist, kMaxCompact, kMaxCompact - 1);
}

}  // namespace

H5Out create_file(const std::string& temp_path, const std::string& shown_path) {
  Handle fapl = hdf5_own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, shown_path, "creating a file access list");
  // The 1.8+ object formats checksum every piece of metadata (superblock, object headers, heaps, B-trees),
  // so HDF5 itself notices corrupted structure on load; h5py 3 and HDF5 1.10+ read them.
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  H5Out out;
  out.path = temp_path;
  out.shown_path = shown_path;
  Handle fcpl = hdf5_own(H5Pcreate(H5P_FILE_CREATE), H5Pclose, shown_path, "creating a file creation list");
  keep_links_compact(fcpl);  // the root group
  out.file = hdf5_own(H5Fcreate(temp_path.c_str(), H5F_ACC_EXCL, fcpl, fapl), H5Fclose, shown_path,
                      "cannot create the file (at its temporary name " + temp_path + ")");
  return out;
}

Handle create_group(const H5Out& out, hid_t parent, const std::string& name) {
  check_name(out, name);
  Handle gcpl = hdf5_own(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, out.shown_path, "creating a group list");
  keep_links_compact(gcpl);
  return hdf5_own(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, out.shown_path,
                  "cannot create the group '" + name + "'");
}

Handle write_tensor(const H5Out& out, hid_t group, const std::string& name, const Tensor& t) {
  check_name(out, name);
  KILN_CHECK(t.defined(), out.shown_path, ": cannot save '", name, "': the tensor is undefined");
  // A CPU tensor that is already dense is written from its own memory; others are staged one at a time,
  // so a save never holds more than one extra tensor.
  Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  if (!host.is_contiguous()) host = host.contiguous();
  const size_t nbytes = static_cast<size_t>(host.numel()) * dtype_size(host.dtype());
  const void* data = host.data_ptr();

  Handle space;
  if (host.dim() == 0) {
    space = scalar_space();
  } else {
    std::vector<hsize_t> dims(host.shape().begin(), host.shape().end());
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  }
  Handle type = h5_type(host.dtype());
  Handle dcpl = hdf5_own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, out.shown_path, "creating a dataset list");
  // Every byte is written right away, so HDF5 need not write fill values first.
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
  Handle dset = hdf5_own(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                         H5Dclose, out.shown_path, "cannot create the dataset '" + name + "'");
  uint32_t crc = 0;
  if (nbytes > 0) {
    std::future<uint32_t> pending;
    if (nbytes >= kParallelChecksumBytes)
      pending = std::async(std::launch::async, [data, nbytes] { return crc32_of(data, nbytes); });
    const herr_t rc = H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    crc = pending.valid() ? pending.get() : crc32_of(data, nbytes);
    if (rc < 0) hdf5_fail(out.shown_path, "cannot write the dataset '" + name + "'");
  }
  write_int_attr(out, dset, "crc32", crc);
  return dset;
}

void write_state_dict(const H5Out& out, hid_t parent, const std::string& group, const StateDict& dict) {
  Handle g = create_group(out, parent, group);
  for (const auto& [name, t] : dict) write_tensor(out, g, name, t);
  write_int_attr(out, g, kEntriesAttr, static_cast<int64_t>(dict.size()));
}

void write_string_attr(const H5Out& out, hid_t object, const std::string& name, const std::string& value) {
  Handle type = fixed_string_type(value.size());
  Handle space = scalar_space();
  Handle a = hdf5_own(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                      out.shown_path, "cannot create the attribute '" + name + "'");
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  if (H5Awrite(a, type, padded.data()) < 0)
    hdf5_fail(out.shown_path, "cannot write the attribute '" + name + "'");
}

void write_int_attr(const H5Out& out, hid_t object, const std::string& name, int64_t value) {
  Handle space = scalar_space();
  Handle a = hdf5_own(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                      H5Aclose, out.shown_path, "cannot create the attribute '" + name + "'");
  if (H5Awrite(a, H5T_NATIVE_INT64, &value) < 0)
    hdf5_fail(out.shown_path, "cannot write the attribute '" + name + "'");
}

Handle write_string_dataset(const H5Out& out, hid_t group, const std::string& name,
                            const std::string& value) {
  check_name(out, name);
  Handle type = fixed_string_type(value.size());
  Handle space = scalar_space();
  Handle d = hdf5_own(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose, out.shown_path, "cannot create the dataset '" + name + "'");
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  if (H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data()) < 0)
    hdf5_fail(out.shown_path, "cannot write the dataset '" + name + "'");
  write_int_attr(out, d, "crc32", crc32_of(value.data(), value.size()));
  return d;
}

}  // namespace kiln::nn::io::detail
