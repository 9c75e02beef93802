#!/usr/bin/env python3
"""bench/gpu_ops_torch.py: PyTorch's side of bench/bench_gpu_ops.cpp, the same cases on CUDA.

GEMM 4096^3 in f32 without and with TF32 and in bf16; conv2d forward, backward-data and backward-filter
on a ResNet-style 3x3 layer (N=32, 128 -> 128 channels, 56x56, padding 1) in f32 without and with TF32.
torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 are set explicitly for every
case; cudnn.benchmark is on (PyTorch then times cuDNN's algorithms on the first call, a warm-up call).
Each case: `warmup` untimed calls, then `iters` calls between two torch.cuda.synchronize() and a wall
clock. Output as kiln_bench_gpu_ops's, one line per case: <name> <TFLOP/s> <ms per call>.
Exits 0 printing "skipped: no CUDA device" where there is none.

Usage: python3 bench/gpu_ops_torch.py [--iters N] [--warmup N]
"""
import argparse
import sys
import time


def time_case(torch, name, flops, args, fn):
    for _ in range(args.warmup):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        fn()
    torch.cuda.synchronize()
    s = (time.perf_counter() - t0) / args.iters
    print(f"{name} {flops / s / 1e12:.2f} {s * 1e3:.3f}", flush=True)


def set_tf32(torch, on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def gemm_cases(torch, args):
    n = 4096
    flops = 2.0 * n * n * n
    for name, dtype, tf32 in (("gemm_4096_f32", torch.float32, False), ("gemm_4096_tf32", torch.float32, True),
                              ("gemm_4096_bf16", torch.bfloat16, False)):
        set_tf32(torch, tf32)
        a = torch.randn(n, n, device="cuda").to(dtype)
        b = torch.randn(n, n, device="cuda").to(dtype)
        c = torch.empty(n, n, device="cuda", dtype=dtype)
        time_case(torch, name, flops, args, lambda: torch.mm(a, b, out=c))


def conv_cases(torch, args):
    N, C_in, C_out, H, W, k = 32, 128, 128, 56, 56, 3
    flops = 2.0 * N * C_out * H * W * C_in * k * k
    x = torch.randn(N, C_in, H, W, device="cuda")
    w = torch.randn(C_out, C_in, k, k, device="cuda") * 0.03
    gy = torch.randn(N, C_out, H, W, device="cuda")
    conv = torch.nn.functional.conv2d
    bwd = torch.ops.aten.convolution_backward
    geometry = dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], transposed=False, output_padding=[0, 0],
                    groups=1)
    for tf32 in (False, True):
        set_tf32(torch, tf32)
        suffix = "_tf32" if tf32 else "_f32"
        time_case(torch, "conv2d_fwd_resnet3x3" + suffix, flops, args, lambda: conv(x, w, None, 1, 1))
        time_case(torch, "conv2d_bwd_data_resnet3x3" + suffix, flops, args,
                  lambda: bwd(gy, x, w, None, output_mask=[True, False, False], **geometry))
        time_case(torch, "conv2d_bwd_filter_resnet3x3" + suffix, flops, args,
                  lambda: bwd(gy, x, w, None, output_mask=[False, True, False], **geometry))
    set_tf32(torch, False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if args.iters < 1 or args.warmup < 0:
        parser.error("--iters must be >= 1 and --warmup >= 0")
    try:
        import torch
    except ImportError:
        print("skipped: PyTorch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("skipped: no CUDA device")
        return 0
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    with torch.no_grad():
        gemm_cases(torch, args)
        conv_cases(torch, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
