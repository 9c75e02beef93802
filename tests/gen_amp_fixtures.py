#!/usr/bin/python3
# tests/gen_amp_fixtures.py: writes tests/fixtures/torch_amp.txt, PyTorch's f16 and bf16 conversions of
# finite values (f32 -> f16/bf16 bit patterns, and f64 -> f16/bf16 the way torch's .half() / .bfloat16()
# convert doubles), read by tests/test_amp.cpp. Run by hand with Debian's torch; deterministic.
import os

import torch

from torch_fixture_writer import write_fixture

torch.manual_seed(0)


def bits(t):
    """The 16-bit patterns of an f16/bf16 tensor, as non-negative i64."""
    return t.view(torch.int16).to(torch.int64) & 0xFFFF


def special_f32():
    v = [0.0, -0.0, 1.0, -2.5, 1 / 3, 65504.0, 65519.0, 65520.0, 65536.0, 1e10, -1e10, 3.0e38, 2.0**-14,
         2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 3 * 2.0**-25, 5 * 2.0**-25, 2.0**-14 - 2.0**-26, 2.0**-133,
         1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-8, 1 + 3 * 2.0**-8, 123456.789]
    # Midpoints between neighbouring f16 and bf16 values (ties), and values just beside them.
    h = torch.arange(0, 0x7BFF, 97, dtype=torch.int64).to(torch.int16).view(torch.float16).to(torch.float64)
    b = torch.arange(0, 0x7F7F, 131, dtype=torch.int64).to(torch.int16).view(torch.bfloat16).to(torch.float64)
    mids = torch.cat([(h[:-1] + h[1:]) / 2, (b[:-1] + b[1:]) / 2]).to(torch.float32)
    x = torch.cat([torch.tensor(v, dtype=torch.float32), mids, torch.nextafter(mids, mids * 2),
                   torch.randn(200) * torch.exp(torch.randn(200) * 8)])
    x = torch.cat([x, -x])
    return x[torch.isfinite(x)]


def main():
    x32 = special_f32()
    x64 = torch.randn(300, dtype=torch.float64) * torch.exp(torch.randn(300, dtype=torch.float64) * 6)
    cases = [
        ("f32", [("in", x32.to(torch.float64)), ("f16_bits", bits(x32.half())),
                 ("bf16_bits", bits(x32.bfloat16()))]),
        ("f64", [("in", x64), ("f16_bits", bits(x64.half())), ("bf16_bits", bits(x64.bfloat16()))]),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    write_fixture(os.path.join(here, "fixtures", "torch_amp.txt"),
                  [f"written by tests/gen_amp_fixtures.py with torch {torch.__version__}",
                   "f16/bf16 bit patterns of torch's conversions (non-negative, as i64)"], cases)


if __name__ == "__main__":
    main()
