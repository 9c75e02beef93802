// CPU copy-with-conversion and fill over strided views.
#include <cstring>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/cpu/loops.h"

namespace kiln::cpu {
namespace {

template <class D, class S>
D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return static_cast<D>(v);
  }
}

template <class D, class S>
void copy_typed(const Tensor& src, const Tensor& dst) {
  for_each_row<2>(dst.shape(), make_operands<2>({&dst, &src}), [&](auto p, auto s, int64_t n) {
    if constexpr (std::is_same_v<D, S>) {
      if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
        std::memcpy(p[0], p[1], n * sizeof(D));
        return;
      }
    }
    if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
      D* o = reinterpret_cast<D*>(p[0]);
      const S* x = reinterpret_cast<const S*>(p[1]);
      for (int64_t i = 0; i < n; ++i) o[i] = convert<D>(x[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<D*>(p[0] + i * s[0]) = convert<D>(*reinterpret_cast<const S*>(p[1] + i * s[1]));
  });
}

}  // namespace

void copy(const Tensor& src, const Tensor& dst) {
  KILN_ASSERT(src.device().is_cpu() && dst.device().is_cpu(), "CPU copy between ", src.device(), " and ",
              dst.device());
  KILN_DISPATCH_WITH_HALF(dst.dtype(), "copy", [&] {
    using D = scalar_t;
    KILN_DISPATCH_WITH_HALF(src.dtype(), "copy", [&] { copy_typed<D, scalar_t>(src, dst); });
  });
}

void fill(const Tensor& dst, double value) {
  KILN_DISPATCH_WITH_HALF(dst.dtype(), "fill", [&] {
    using T = scalar_t;
    const T v = convert<T>(value);
    for_each_row<1>(dst.shape(), make_operands<1>({&dst}), [&](auto p, auto s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    });
  });
}

}  // namespace kiln::cpu
