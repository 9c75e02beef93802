// Readable printing, in PyTorch's layout: nested brackets, aligned columns, "..." past 1000 elements.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Printer {
  const std::vector<double>& values;  // row-major
  const Shape& shape;
  bool floating;
  bool summarize;
  int width = 0;
  int precision = 4;

  std::string format(double v) const {
    std::ostringstream os;
    if (!floating) {
      os << static_cast<int64_t>(v);
    } else if (std::isnan(v) || std::isinf(v)) {
      os << (std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    } else {
      os << std::fixed << std::setprecision(precision) << v;
    }
    return os.str();
  }

  void print(std::ostream& os, size_t d, int64_t base, int indent) const {
    if (d == shape.size()) {
      os << std::setw(width) << format(values[base]);
      return;
    }
    int64_t n = shape[d], inner = 1;
    for (size_t i = d + 1; i < shape.size(); ++i) inner *= shape[i];
    os << "[";
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
        os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
        i = n - kEdgeItems;
      }
      print(os, d + 1, base + i * inner, indent + 1);
      if (i + 1 < n)
        os << (d + 1 == shape.size() ? ", "
                                     : ",\n" + std::string(shape.size() - d - 1, '\n').substr(1) +
                                           std::string(indent + 1, ' '));
    }
    os << "]";
  }
};

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.to_vector<double>();
  Printer p{values, t.shape(), is_floating(t.dtype()), t.numel() > kSummarizeAbove};
  for (double v : values) p.width = std::max<int>(p.width, static_cast<int>(p.format(v).size()));
  os << "tensor(";
  if (t.dim() == 0) {
    os << p.format(values[0]);
  } else {
    p.print(os, 0, 0, 7);
  }
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << t.dtype();
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

}  // namespace kiln
