// The registry of kernel tables, one per device type, and kernel names for messages.
#include "kiln/tensor/backend.h"

#include <array>
#include <sstream>

namespace kiln {
namespace {
std::array<const Backend*, kNumDeviceTypes> g_backends{};
}

void register_backend(DeviceType type, const Backend* table) { g_backends[static_cast<int>(type)] = table; }
bool has_backend(DeviceType type) { return g_backends[static_cast<int>(type)] != nullptr; }

const Backend& backend(Device device) {
  const Backend* b = g_backends[static_cast<int>(device.type)];
  KILN_CHECK(b != nullptr, "no kernels for device ", device,
             device.is_cuda() ? " (kiln was built without CUDA, or no CUDA device is present)"
                              : " (link kiln::kiln, which links the CPU kernels)");
  return *b;
}

std::string index_range_message(const IndexCheck& c, int64_t value) {
  std::ostringstream os;
  os << c.op << ": index " << value << " is out of range for " << c.what << " " << c.hi - c.lo;
  if (c.detail != nullptr) {
    os << c.detail;
  } else {
    os << " (valid: " << c.lo << " to " << c.hi - 1;
    if (c.has_allowed) os << " or " << c.allowed;
    os << ")";
  }
  return os.str();
}

const char* kernel_name(UnaryKernel k) {
  static const char* names[] = {
#define KILN_X(name) #name,
      KILN_UNARY_KERNELS(KILN_X)
#undef KILN_X
  };
  return names[static_cast<int>(k)];
}
const char* kernel_name(BinaryKernel k) {
  static const char* names[] = {
#define KILN_X(name) #name,
      KILN_BINARY_KERNELS(KILN_X)
#undef KILN_X
  };
  return names[static_cast<int>(k)];
}
const char* kernel_name(ReduceKernel k) {
  static const char* names[] = {"sum", "max", "min", "argmax", "argmin"};
  return names[static_cast<int>(k)];
}

}  // namespace kiln
