// kiln/nn/io/hdf5_read.cpp: opening files, groups, strings and attributes defensively (hdf5_tensor.h); the
// tensors themselves are read in hdf5_read_tensor.cpp. Kept apart from the writer so the fuzz target
// (tests/fuzz/fuzz_checkpoint.cpp) builds the whole reader from tensor/ alone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kiln/nn/io/hdf5_tensor.h"
#include "kiln/nn/io/hdf5_types.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::io::detail {

namespace {

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

// An attribute with its type and dataspace, or nullopt when the object has no attribute of that name.
struct OpenAttribute {
  Handle attr, type, space;
};
std::optional<OpenAttribute> open_attribute(const H5In& in, hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  OpenAttribute a;
  a.attr = hdf5_own(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, in.path,
                    "cannot open the attribute '" + name + "'");
  a.type = hdf5_own(H5Aget_type(a.attr), H5Tclose, in.path, "cannot read the attribute '" + name + "'");
  a.space = hdf5_own(H5Aget_space(a.attr), H5Sclose, in.path, "cannot read the attribute '" + name + "'");
  return a;
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
  std::optional<OpenAttribute> a = open_attribute(in, object, name);
  if (!a) return std::nullopt;
  auto s = read_string(a->type, a->space, [&](hid_t mem, void* buf) { return H5Aread(a->attr, mem, buf); });
  H5Eclear2(H5E_DEFAULT);
  return s;
}

std::optional<int64_t> read_int_attr(const H5In& in, hid_t object, const std::string& name) {
  std::optional<OpenAttribute> a = open_attribute(in, object, name);
  if (!a) return std::nullopt;
  KILN_CHECK(H5Tget_class(a->type) == H5T_INTEGER && H5Sget_simple_extent_type(a->space) == H5S_SCALAR,
             in.path, ": the attribute '", name, "' is not a scalar integer");
  int64_t v = 0;
  if (H5Aread(a->attr, H5T_NATIVE_INT64, &v) < 0)
    hdf5_fail(in.path, "cannot read the attribute '" + name + "'");
  return v;
}

}  // namespace kiln::nn::io::detail
