// Error construction for KILN_CHECK / KILN_ASSERT, and the names of dtypes and devices.
#include <ostream>

#include "kiln/tensor/device.h"
#include "kiln/tensor/dtype.h"
#include "kiln/tensor/error.h"

namespace kiln {
namespace detail {

namespace {
// Only the path below the project root is useful in a message.
const char* short_path(const char* file) {
  std::string_view f(file);
  for (const char* root : {"/tensor/", "/kernels/", "/autograd/", "/data/", "/nn/", "/optim/", "/classic/"}) {
    auto pos = f.rfind(root);
    if (pos != std::string_view::npos) return file + pos + 1;
  }
  return file;
}

// what() is read as a C string: a NUL byte from user data (a UTF-16 header, a binary file) would cut the
// message, and its reason, short. Such bytes are written as \0 instead.
std::string printable(const std::string& msg) {
  if (msg.find('\0') == std::string::npos) return msg;
  std::string out;
  for (char c : msg) c == '\0' ? out += "\\0" : out += c;
  return out;
}
}  // namespace

void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(printable(msg) + " (" + short_path(file) + ":" + std::to_string(line) + ")");
}

void throw_internal(const char* file, int line, const char* cond, const std::string& msg) {
  throw Error(std::string("kiln internal error: ") + cond + " failed" + (msg.empty() ? "" : ": ") +
              printable(msg) + " (" + short_path(file) + ":" + std::to_string(line) +
              "); please report this");
}

void unsupported_dtype(std::string_view op, DType t) {
  throw Error(std::string(op) + ": dtype " + std::string(dtype_name(t)) + " is not supported here");
}

}  // namespace detail

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i64:
      return "i64";
    case DType::i32:
      return "i32";
    case DType::u8:
      return "u8";
    case DType::boolean:
      return "bool";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
  }
  return "?";
}
std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
std::ostream& operator<<(std::ostream& os, Device d) { return os << d.str(); }

}  // namespace kiln
