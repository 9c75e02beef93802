// bench/bench_gpu_ops.cpp: kiln's GPU kernels at the benchmark shapes, through the kernel table
// (preallocated operands, so the figure is the kernel, not allocation): GEMM 4096^3 in f32 without and
// with TF32 (and bf16 where the CUDA backend has a bf16 GEMM), and conv2d forward, backward-data and
// backward-filter on a ResNet-style 3x3 layer (N=32, 128 -> 128 channels, 56x56, padding 1) in f32 without
// and with TF32, through cuDNN and through kiln's im2col fallback. bench/gpu_ops_torch.py runs the same
// cases in PyTorch.
//
// Each case: `warmup` untimed calls (cuDNN picks and caches its algorithm there), then `iters` calls
// between two kiln::cuda::synchronize() and a wall clock. One line per case, space-separated:
//   <name> <TFLOP/s> <ms per call>        or        <name> skipped <reason>
// Exits 0 printing "skipped: no CUDA device" where there is none.
//
// Usage: kiln_bench_gpu_ops [--iters N] [--warmup N] [--no-fallback]
#include <kiln/kiln.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

using namespace kiln;

namespace {

struct Options {
  int iters = 20, warmup = 3;
  bool fallback = true;
};

// Runs f warmup + iters times and prints the case's line.
void time_case(const std::string& name, double flops, const Options& o, const std::function<void()>& f) {
  for (int i = 0; i < o.warmup; ++i) f();
  cuda::synchronize(0);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; ++i) f();
  cuda::synchronize(0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / o.iters;
  std::printf("%s %.2f %.3f\n", name.c_str(), flops / s / 1e12, s * 1e3);
  std::fflush(stdout);
}

void gemm_cases(const Options& o) {
  const int64_t n = 4096;
  const Backend& cuda_table = backend(Device::cuda());
  const double flops = 2.0 * n * n * n;
  auto run = [&](const std::string& name, DType t, bool tf32) {
    Tensor a = randn({n, n}).to(Device::cuda()).to(t), b = randn({n, n}).to(Device::cuda()).to(t);
    Tensor c = empty({n, n}, {.dtype = t, .device = Device::cuda()});
    GemmArgs g;
    g.m = g.n = g.k = n;
    g.a = a.data_ptr(), g.lda = n;
    g.b = b.data_ptr(), g.ldb = n;
    g.c = c.data_ptr(), g.ldc = n;
    g.dtype = t;
    cuda::set_allow_tf32(tf32);
    time_case(name, flops, o, [&] { cuda_table.gemm(g); });
    cuda::set_allow_tf32(false);
  };
  run("gemm_4096_f32", DType::f32, false);
  run("gemm_4096_tf32", DType::f32, true);
  if (cuda_table.supports(GemmKernel::gemm, DType::bf16)) {
    run("gemm_4096_bf16", DType::bf16, false);
  } else {
    std::printf("gemm_4096_bf16 skipped no bf16 GEMM on CUDA yet\n");
  }
}

void conv_cases(const Options& o) {
  Conv2dArgs a;
  a.n = 32, a.c_in = 128, a.h = 56, a.w = 56, a.c_out = 128, a.kh = 3, a.kw = 3, a.h_out = 56, a.w_out = 56;
  a.pad_h = a.pad_w = 1;
  const double flops = 2.0 * a.n * a.c_out * a.h_out * a.w_out * a.c_in * a.kh * a.kw;
  const Backend& t = backend(Device::cuda());
  Tensor x = randn({a.n, a.c_in, a.h, a.w}).to(Device::cuda());
  Tensor w = (randn({a.c_out, a.c_in, a.kh, a.kw}) * 0.03).to(Device::cuda());
  Tensor gy = randn({a.n, a.c_out, a.h_out, a.w_out}).to(Device::cuda());
  Tensor y = empty_like(gy), gx = empty_like(x), gw = empty_like(w);
  for (bool fallback : {false, true}) {
    if (fallback && !o.fallback) continue;
    cuda::detail::set_conv_fallback_only(fallback);
    for (bool tf32 : {false, true}) {
      cuda::set_allow_tf32(tf32);
      std::string suffix = std::string(tf32 ? "_tf32" : "_f32") + (fallback ? "_fallback" : "");
      if (!fallback && !cuda::detail::has_cudnn()) suffix += "_nocudnn";
      time_case("conv2d_fwd_resnet3x3" + suffix, flops, o, [&] { t.conv2d(a, x, w, Tensor(), y); });
      time_case("conv2d_bwd_data_resnet3x3" + suffix, flops, o,
                [&] { t.conv2d_backward_data(a, gy, w, gx); });
      time_case("conv2d_bwd_filter_resnet3x3" + suffix, flops, o,
                [&] { t.conv2d_backward_filter(a, x, gy, gw); });
    }
  }
  cuda::set_allow_tf32(false);
  cuda::detail::set_conv_fallback_only(false);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--iters" || arg == "--warmup") && i + 1 < argc) {
      (arg == "--iters" ? o.iters : o.warmup) = std::atoi(argv[++i]);
    } else if (arg == "--no-fallback") {
      o.fallback = false;
    } else {
      std::fprintf(stderr, "usage: %s [--iters N] [--warmup N] [--no-fallback]\n", argv[0]);
      return 2;
    }
  }
  if (o.iters < 1 || o.warmup < 0) {
    std::fprintf(stderr, "kiln_bench_gpu_ops: --iters must be >= 1 and --warmup >= 0\n");
    return 2;
  }
  if (!cuda::is_available() || !has_backend(DeviceType::cuda)) {
    std::printf("skipped: no CUDA device\n");
    return 0;
  }
  try {
    gemm_cases(o);
    conv_cases(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "kiln_bench_gpu_ops: %s\n", e.what());
    return 1;
  }
  return 0;
}
