// kiln/kernels/cpu/eigen_rows.h: a contiguous row of elements seen as an Eigen array, so a kernel can
// write a row as one vectorized expression. Depends on Eigen.
#pragma once

#include <Eigen/Core>

namespace kiln::cpu {

template <class T>
using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

}  // namespace kiln::cpu
