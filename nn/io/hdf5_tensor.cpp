// kiln/nn/io/hdf5_tensor.cpp: tensors, strings and integers in HDF5 files, written fast and read
// defensively (hdf5_tensor.h).
#include "kiln/nn/io/hdf5_tensor.h"

#include <H5PLpublic.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <limits>

#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {

// The largest rank kiln reads (HDF5's own limit).
constexpr int kMaxRank = H5S_MAX_RANK;
// Tensors above this size have their checksum computed on a second thread while HDF5 moves the bytes.
constexpr size_t kParallelChecksumBytes = size_t{1} << 20;
// Reads of big datasets go in pieces of about this size, so the checksum of one piece overlaps the read of
// the next.
constexpr size_t kReadPieceBytes = size_t{32} << 20;
// Deflate cannot expand data by more than about 1032x, so a filtered dataset claiming more bytes than that
// per stored byte is a lie (a decompression bomb), refused before allocating.
constexpr int64_t kMaxFilterRatio = 1032;

uint32_t crc32_of(const void* data, size_t n, uint32_t crc = 0) {
  const auto* p = static_cast<const Bytef*>(data);
  // crc32_z takes a size_t length; zlib's older crc32 takes a 32-bit one.
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

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

// The HDF5 type kiln writes for a dtype (also the memory type it reads into).
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

// The dtype a file type reads as, or nullopt with `why` set. Narrow integers widen (HDF5 converts).
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

void check_name(const H5Out& out, const std::string& name) {
  KILN_CHECK(!name.empty() && name != "." && name.find('/') == std::string::npos, out.shown_path,
             ": cannot store the name '", name, "' (HDF5 names must be non-empty and contain no '/')");
}

// Reads a string from an attribute or dataset whose type is `type` (variable or fixed length).
template <class ReadFn>
std::optional<std::string> read_string(hid_t type, hid_t space, ReadFn read) {
  if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_type(space) != H5S_SCALAR) return std::nullopt;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem = string_type();
    char* value = nullptr;
    if (read(mem.get(), &value) < 0) return std::nullopt;
    std::string s = value != nullptr ? value : "";
    if (value != nullptr) H5free_memory(value);
    return s;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || size > (size_t{64} << 20)) return std::nullopt;
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem, size);
  std::string s(size, '\0');
  if (read(mem.get(), s.data()) < 0) return std::nullopt;
  s.resize(std::strlen(s.c_str()));
  return s;
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
  out.file = hdf5_own(H5Fcreate(temp_path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl), H5Fclose, shown_path,
                      "cannot create the file (at its temporary name " + temp_path + ")");
  return out;
}

H5In open_file(const std::string& path) {
  struct stat st {};
  KILN_CHECK(::stat(path.c_str(), &st) == 0, path, ": cannot open: ", std::strerror(errno));
  KILN_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  Handle fapl = hdf5_own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "creating a file access list");
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  H5In in;
  in.path = path;
  in.file_size = static_cast<int64_t>(st.st_size);
  in.file = hdf5_own(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, path,
                     "not a readable HDF5 file (truncated, corrupted or another format)");
  // The kiln format marker decides whether checksums are required.
  in.kiln_file = read_string_attr(in, in.file, "format").has_value();
  return in;
}

Handle create_group(const H5Out& out, hid_t parent, const std::string& name) {
  check_name(out, name);
  Handle gcpl = hdf5_own(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, out.shown_path, "creating a group list");
  H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  return hdf5_own(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, out.shown_path,
                  "cannot create the group '" + name + "'");
}

Handle open_group(const H5In& in, hid_t parent, const std::string& name, const std::string& shown_name) {
  const htri_t exists = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
  if (exists < 0) hdf5_fail(in.path, "cannot look up '" + shown_name + "'");
  if (exists == 0) return {};
  H5L_info_t link{};
  if (H5Lget_info(parent, name.c_str(), &link, H5P_DEFAULT) < 0)
    hdf5_fail(in.path, "cannot read the link '" + shown_name + "'");
  KILN_CHECK(link.type == H5L_TYPE_HARD, in.path, ": '", shown_name,
             "' is a soft or external link; kiln reads only objects stored in the file itself");
  H5O_info_t info{};
  if (H5Oget_info_by_name2(parent, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    hdf5_fail(in.path, "cannot read the object '" + shown_name + "'");
  KILN_CHECK(info.type == H5O_TYPE_GROUP, in.path, ": '", shown_name, "' is not a group");
  return hdf5_own(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose, in.path,
                  "cannot open the group '" + shown_name + "'");
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
}

void write_string_attr(const H5Out& out, hid_t object, const std::string& name, const std::string& value) {
  Handle type = string_type();
  Handle space = scalar_space();
  Handle a = hdf5_own(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                      out.shown_path, "cannot create the attribute '" + name + "'");
  const char* p = value.c_str();
  if (H5Awrite(a, type, &p) < 0) hdf5_fail(out.shown_path, "cannot write the attribute '" + name + "'");
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
  Handle type = string_type();
  Handle space = scalar_space();
  Handle d = hdf5_own(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose, out.shown_path, "cannot create the dataset '" + name + "'");
  const char* p = value.c_str();
  if (H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0)
    hdf5_fail(out.shown_path, "cannot write the dataset '" + name + "'");
  write_int_attr(out, d, "crc32", crc32_of(value.data(), value.size()));
  return d;
}

std::vector<std::string> list_group(const H5In& in, hid_t group, const std::string& shown_name) {
  H5_index_t index = H5_INDEX_NAME;
  {
    Handle gcpl(H5Gget_create_plist(group), H5Pclose);
    unsigned flags = 0;
    if (gcpl.get() >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_INDEXED))
      index = H5_INDEX_CRT_ORDER;
  }
  struct Walk {
    std::vector<std::string> names;
    bool foreign_link = false;
    std::string bad;
  } walk;
  auto visit = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
    auto* w = static_cast<Walk*>(data);
    if (info->type != H5L_TYPE_HARD) {
      w->foreign_link = true;
      w->bad = name;
      return 1;  // stop
    }
    w->names.emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(group, index, H5_ITER_INC, &idx, visit, &walk) < 0)
    hdf5_fail(in.path, "cannot list the group '" + shown_name + "'");
  KILN_CHECK(!walk.foreign_link, in.path, ": '", shown_name, "/", walk.bad,
             "' is a soft or external link; kiln reads only objects stored in the file itself");
  return walk.names;
}

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

  Handle space = hdf5_own(H5Dget_space(dset), H5Sclose, p, "cannot read the shape of '" + shown_name + "'");
  const H5S_class_t sclass = H5Sget_simple_extent_type(space);
  KILN_CHECK(sclass == H5S_SCALAR || sclass == H5S_SIMPLE, p, ": '", shown_name,
             "' has an empty (null) dataspace, not a tensor");
  Shape shape;
  if (sclass == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space);
    KILN_CHECK(rank >= 0 && rank <= kMaxRank, p, ": '", shown_name, "' has rank ", rank);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0)
      hdf5_fail(p, "cannot read the shape of '" + shown_name + "'");
    for (hsize_t d : dims) shape.push_back(static_cast<int64_t>(d));
  }
  // The element count and byte size, without overflow; then what the file can justify.
  const int64_t esize = static_cast<int64_t>(dtype_size(*dtype));
  int64_t numel = 1;
  for (int64_t d : shape) {
    KILN_CHECK(d >= 0 && (d == 0 || numel <= std::numeric_limits<int64_t>::max() / esize / d), p, ": '",
               shown_name, "' claims the impossible shape ", shape_str(shape));
    numel *= d;
  }
  const int64_t nbytes = numel * esize;
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
    KILN_CHECK(stored >= nbytes, p, ": '", shown_name, "' of shape ", shape_str(shape), " and dtype ", *dtype,
               " needs ", nbytes, " bytes but the file stores ", stored, " (truncated, or never written)");
  } else {
    KILN_CHECK(nbytes <= stored * kMaxFilterRatio, p, ": '", shown_name, "' claims ", nbytes, " bytes from ",
               stored, " compressed bytes, more than any HDF5 filter can expand");
  }
  if (layout == H5D_CONTIGUOUS && nbytes > 0) {
    const haddr_t offset = H5Dget_offset(dset);
    KILN_CHECK(offset != HADDR_UNDEF && offset <= static_cast<haddr_t>(in.file_size) &&
                   static_cast<int64_t>(offset) + nbytes <= in.file_size,
               p, ": '", shown_name, "' lies outside the file (truncated or corrupted)");
  }

  Tensor t = empty(shape, {.dtype = *dtype});
  uint32_t crc = 0;
  if (nbytes > 0) {
    Handle mtype = h5_type(*dtype);
    auto* dst = static_cast<uint8_t*>(t.data_ptr());
    const int64_t row_bytes = shape.empty() ? nbytes : nbytes / std::max<int64_t>(shape[0], 1);
    const bool pieces =
        layout == H5D_CONTIGUOUS && !shape.empty() && nbytes > int64_t(2 * kReadPieceBytes) && row_bytes > 0;
    if (!pieces) {
      if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        hdf5_fail(p, "cannot read the data of '" + shown_name + "'");
      crc = crc32_of(dst, static_cast<size_t>(nbytes));
    } else {
      // Read rows in pieces; the checksum of piece k runs on a second thread while piece k+1 is read.
      const int64_t rows = shape[0];
      const int64_t piece_rows = std::max<int64_t>(1, static_cast<int64_t>(kReadPieceBytes) / row_bytes);
      std::vector<hsize_t> start(shape.size(), 0), count(shape.begin(), shape.end());
      std::future<uint32_t> pending;
      for (int64_t r = 0; r < rows; r += piece_rows) {
        const int64_t n = std::min(piece_rows, rows - r);
        start[0] = static_cast<hsize_t>(r);
        count[0] = static_cast<hsize_t>(n);
        Handle fspace(H5Scopy(space), H5Sclose);
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
        Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
        uint8_t* piece = dst + r * row_bytes;
        const herr_t rc = H5Dread(dset, mtype, mspace, fspace, H5P_DEFAULT, piece);
        const uint32_t so_far = pending.valid() ? pending.get() : 0;
        if (rc < 0) hdf5_fail(p, "cannot read the data of '" + shown_name + "'");
        const size_t len = static_cast<size_t>(n * row_bytes);
        pending = std::async(std::launch::async, [=] { return crc32_of(piece, len, so_far); });
      }
      crc = pending.get();
    }
  }
  const std::optional<int64_t> saved = read_int_attr(in, dset, "crc32");
  if (saved.has_value()) {
    KILN_CHECK(*saved == static_cast<int64_t>(crc), p, ": '", shown_name,
               "' fails its checksum (stored crc32 ", *saved, ", data has ", crc, "): the file is corrupted");
  } else {
    KILN_CHECK(!in.kiln_file, p, ": '", shown_name,
               "' has no crc32 attribute; every tensor kiln writes has one, so the file was altered");
  }
  return t;
}

StateDict read_state_dict(const H5In& in, hid_t group, const std::string& shown_name) {
  StateDict dict;
  for (const std::string& name : list_group(in, group, shown_name))
    dict.insert(name, read_tensor(in, group, name, shown_name.empty() ? name : shown_name + "/" + name));
  return dict;
}

bool is_string_dataset(const H5In& in, hid_t group, const std::string& name) {
  Handle dset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (dset.get() < 0) hdf5_fail(in.path, "cannot open the dataset '" + name + "'");
  Handle type(H5Dget_type(dset), H5Tclose);
  return type.get() >= 0 && H5Tget_class(type) == H5T_STRING;
}

std::string read_string_dataset(const H5In& in, hid_t group, const std::string& name,
                                const std::string& shown_name) {
  Handle dset = hdf5_own(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, in.path,
                         "cannot open the dataset '" + shown_name + "'");
  Handle type =
      hdf5_own(H5Dget_type(dset), H5Tclose, in.path, "cannot read the type of '" + shown_name + "'");
  Handle space = hdf5_own(H5Dget_space(dset), H5Sclose, in.path, "cannot read '" + shown_name + "'");
  auto s = read_string(type, space, [&](hid_t mem, void* buf) {
    return H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
  H5Eclear2(H5E_DEFAULT);
  KILN_CHECK(s.has_value(), in.path, ": '", shown_name, "' is not a readable scalar string");
  const std::optional<int64_t> saved = read_int_attr(in, dset, "crc32");
  KILN_CHECK(saved.has_value() || !in.kiln_file, in.path, ": '", shown_name, "' has no crc32 attribute");
  KILN_CHECK(!saved.has_value() || *saved == static_cast<int64_t>(crc32_of(s->data(), s->size())), in.path,
             ": '", shown_name, "' fails its checksum: the file is corrupted");
  return *s;
}

std::optional<std::string> read_string_attr(const H5In& in, hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a.get() < 0) hdf5_fail(in.path, "cannot open the attribute '" + name + "'");
  Handle type(H5Aget_type(a), H5Tclose);
  Handle space(H5Aget_space(a), H5Sclose);
  if (type.get() < 0 || space.get() < 0) hdf5_fail(in.path, "cannot read the attribute '" + name + "'");
  auto s = read_string(type, space, [&](hid_t mem, void* buf) { return H5Aread(a, mem, buf); });
  H5Eclear2(H5E_DEFAULT);
  return s;
}

std::optional<int64_t> read_int_attr(const H5In& in, hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a.get() < 0) hdf5_fail(in.path, "cannot open the attribute '" + name + "'");
  Handle type(H5Aget_type(a), H5Tclose);
  Handle space(H5Aget_space(a), H5Sclose);
  KILN_CHECK(type.get() >= 0 && space.get() >= 0 && H5Tget_class(type) == H5T_INTEGER &&
                 H5Sget_simple_extent_type(space) == H5S_SCALAR,
             in.path, ": the attribute '", name, "' is not a scalar integer");
  int64_t v = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) hdf5_fail(in.path, "cannot read the attribute '" + name + "'");
  return v;
}

}  // namespace kiln::nn::io::detail
