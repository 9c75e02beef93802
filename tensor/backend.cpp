// The registry of kernel tables, one per device type, the "not supported" error, and kernel names for
// messages.
#include "kiln/tensor/backend.h"

#include <array>
#include <sstream>

namespace kiln {
namespace {
std::array<const Backend*, kNumDeviceTypes> g_backends{};

// The first null slot of `table` (its name), or nullptr when every slot is filled.
const char* missing_slot(const Backend& table) {
#define KILN_X(slot) \
  if (table.slot == nullptr) return #slot;
  KILN_KERNEL_SLOTS(KILN_X)
#undef KILN_X
#define KILN_X(Kind, family) \
  if (table.supports_##family == nullptr) return "supports_" #family;
  KILN_KERNEL_FAMILIES(KILN_X)
#undef KILN_X
  return nullptr;
}
}  // namespace

void register_backend(DeviceType type, const Backend* table) {
  KILN_CHECK(table != nullptr, "register_backend: a null kernel table for device type ", Device{type, 0});
  const char* name = table->name != nullptr ? table->name : "(unnamed)";
  const char* missing = missing_slot(*table);
  KILN_CHECK(missing == nullptr, "register_backend: the ", name, " kernel table has no '", missing,
             "' kernel (every slot of KILN_KERNEL_SLOTS and KILN_KERNEL_FAMILIES must be filled)");
  g_backends[static_cast<int>(type)] = table;
}
bool has_backend(DeviceType type) { return g_backends[static_cast<int>(type)] != nullptr; }

const Backend& backend(Device device) {
  const Backend* b = g_backends[static_cast<int>(device.type)];
  KILN_CHECK(b != nullptr, "no kernels for device ", device,
             device.is_cuda() ? " (kiln was built without CUDA, or no CUDA device is present)"
                              : " (link kiln::kiln, which links the CPU kernels)");
  return *b;
}

void throw_unsupported(const char* op, Device device, DType dtype, const std::string& context,
                       const char* file, int line) {
  detail::throw_error(file, line,
                      detail::cat_message(op, ": not supported on ", device, " for ", dtype, context));
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

namespace {
constexpr const char* kUnaryNames[] = {KILN_UNARY_KERNELS(KILN_NAME_STRING)};
constexpr const char* kBinaryNames[] = {KILN_BINARY_KERNELS(KILN_NAME_STRING)};
constexpr const char* kReduceNames[] = {"sum", "max", "min", "argmax", "argmin"};
constexpr const char* kRandomNames[] = {"uniform", "normal", "bernoulli", "randint"};
}  // namespace

const char* kernel_name(UnaryKernel k) { return kUnaryNames[static_cast<int>(k)]; }
const char* kernel_name(BinaryKernel k) { return kBinaryNames[static_cast<int>(k)]; }
const char* kernel_name(ReduceKernel k) { return kReduceNames[static_cast<int>(k)]; }
const char* kernel_name(RandomKernel k) { return kRandomNames[static_cast<int>(k)]; }

}  // namespace kiln
