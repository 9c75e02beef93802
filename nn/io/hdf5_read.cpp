// kiln/nn/io/hdf5_read.cpp: opening and reading files defensively (hdf5_tensor.h): every size is checked
// against what the file can hold before anything is allocated. Kept apart from the writer so the fuzz
// target (tests/fuzz/fuzz_checkpoint.cpp) builds the whole reader from tensor/ alone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <limits>

#include "kiln/nn/io/hdf5_tensor.h"
#include "kiln/nn/io/hdf5_types.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {

// The largest rank kiln reads (HDF5's own limit).
constexpr int kMaxRank = H5S_MAX_RANK;
// Reads of big datasets go in pieces of about this size, so the checksum of one piece overlaps the read of
// the next.
constexpr size_t kReadPieceBytes = size_t{8} << 20;
// Deflate cannot expand data by more than about 1032x, so a filtered dataset claiming more bytes than that
// per stored byte is a lie (a decompression bomb), refused before allocating.
constexpr int64_t kMaxFilterRatio = 1032;

// Reads a string from an attribute or dataset whose type is `type` (variable or fixed length).
template <class ReadFn>
std::optional<std::string> read_string(hid_t type, hid_t space, ReadFn read) {
  if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_type(space) != H5S_SCALAR) return std::nullopt;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem = string_type();
    H5Tset_cset(mem, H5Tget_cset(type));  // HDF5 converts strings only within one character set
    char* value = nullptr;
    if (read(mem.get(), &value) < 0) return std::nullopt;
    std::string s = value != nullptr ? value : "";
    if (value != nullptr) H5free_memory(value);
    return s;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || size > (size_t{64} << 20)) return std::nullopt;
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem, size + 1);  // room for the terminator after a null-padded string of `size` bytes
  H5Tset_strpad(mem, H5T_STR_NULLTERM);
  H5Tset_cset(mem, H5Tget_cset(type));
  std::string s(size + 1, '\0');
  if (read(mem.get(), s.data()) < 0) return std::nullopt;
  s.resize(std::strlen(s.c_str()));
  return s;
}

}  // namespace

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
  in.raw = FileDescriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  // The kiln format marker decides whether checksums are required.
  // Any one of kiln's root attributes marks a kiln file, so a damaged attribute name cannot turn one into a
  // foreign file that is read without checksums.
  for (const char* attr :
       {"format", "format_version", "kiln_version", "created", "content", "model_summary"}) {
    const htri_t exists = H5Aexists(in.file, attr);
    H5Eclear2(H5E_DEFAULT);
    in.kiln_file = in.kiln_file || exists > 0;
  }
  return in;
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
  if (in.kiln_file && !shown_name.empty()) {
    const std::optional<int64_t> entries = read_int_attr(in, group, kEntriesAttr);
    KILN_CHECK(entries.has_value() && *entries == static_cast<int64_t>(walk.names.size()), in.path,
               ": group '", shown_name, "' lists ", walk.names.size(), " entries but was written with ",
               entries ? std::to_string(*entries) : std::string("(no count)"), ": the file is damaged");
  }
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
    // Contiguous, unfiltered data stored exactly as it sits in memory (checked above to lie inside the file):
    // read it with pread, in pieces, the checksum of one piece running on a second thread while the next
    // is read. Anything else (chunks, filters, other byte orders) goes through HDF5's conversion.
    const haddr_t offset = layout == H5D_CONTIGUOUS ? H5Dget_offset(dset) : HADDR_UNDEF;
    const bool direct =
        in.raw.get() >= 0 && nfilters == 0 && offset != HADDR_UNDEF && H5Tequal(ftype, mtype) > 0;
    if (!direct) {
      if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        hdf5_fail(p, "cannot read the data of '" + shown_name + "'");
      crc = crc32_of(dst, static_cast<size_t>(nbytes));
    } else {
      std::future<uint32_t> pending;
      for (int64_t at = 0; at < nbytes;) {
        const size_t len = static_cast<size_t>(std::min<int64_t>(kReadPieceBytes, nbytes - at));
        size_t got = 0;
        while (got < len) {
          const ssize_t n =
              ::pread(in.raw.get(), dst + at + got, len - got, static_cast<off_t>(offset + at + got));
          if (n <= 0) {
            if (pending.valid()) pending.wait();
            KILN_CHECK(n < 0 && errno == EINTR, p, ": cannot read the data of '", shown_name,
                       "': ", n == 0 ? "the file ends early" : std::strerror(errno));
            continue;
          }
          got += static_cast<size_t>(n);
        }
        const uint32_t so_far = pending.valid() ? pending.get() : 0;
        uint8_t* piece = dst + at;
        pending = std::async(std::launch::async, [=] { return crc32_of(piece, len, so_far); });
        at += static_cast<int64_t>(len);
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
