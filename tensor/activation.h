// kiln/tensor/activation.h: the activations a fused kernel applies after a bias (nn::Linear + ReLU run as
// one bias_act kernel, and linear(x, w, b, act) takes one). Its own header because nn/ and autograd/ name
// these without needing the kernel table. Depends on nothing.
#pragma once

#include <cstdint>

namespace kiln {

enum class Activation : uint8_t { none, relu, gelu, silu, sigmoid, tanh, leaky_relu };

inline const char* activation_name(Activation a) {
  constexpr const char* names[] = {"none", "relu", "gelu", "silu", "sigmoid", "tanh", "leaky_relu"};
  return names[static_cast<int>(a)];
}

// Whether act's derivative needs its input z (gelu, silu, leaky_relu) rather than its output y: the
// backward of those keeps x and the bias alive, the others keep only the output.
constexpr bool reads_input(Activation act) {
  return act == Activation::gelu || act == Activation::silu || act == Activation::leaky_relu;
}

}  // namespace kiln
