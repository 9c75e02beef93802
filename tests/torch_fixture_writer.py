# tests/torch_fixture_writer.py: shared by the PyTorch fixture generators (tests/gen_fixtures.py,
# tests/gen_nn_op_fixtures.py, tests/gen_nn_layer_fixtures.py): the op-case recorder and the writer of the
# format read by tests/support/fixture.h. Imported, never run on its own.
import os

import torch

F64 = torch.float64


def add_op_case(cases, name, fn, *inputs):
    """Runs fn on the inputs and appends (name, tensors): inputs, grad_out, outputs and gradients.

    fn returns the output tensor, or (output, {suffix: tensor}) for extra outputs without gradient.
    Labels: in<k>, grad_out, out, out_<suffix>, grad<k> (for the floating inputs).
    """
    assert all(name != n for n, _ in cases), f"duplicate case {name}"
    leaves = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
    result = fn(*leaves)
    out, extras = result if isinstance(result, tuple) else (result, {})
    grad_out = torch.randn(tuple(out.shape), dtype=F64)
    diff = [k for k, x in enumerate(leaves) if x.requires_grad]
    grads = torch.autograd.grad((out * grad_out).sum(), [leaves[k] for k in diff])
    tensors = [(f"in{k}", x) for k, x in enumerate(inputs)]
    tensors.append(("grad_out", grad_out))
    tensors.append(("out", out.detach()))
    tensors += [(f"out_{s}", e.detach()) for s, e in extras.items()]
    tensors += [(f"grad{k}", g) for k, g in zip(diff, grads)]
    cases.append((name, tensors))


def format_tensor(label, x):
    x = x.detach().contiguous()
    if x.dtype == F64:
        # A non-finite reference would mean a bad case, not something to freeze.
        assert torch.isfinite(x).all(), f"{label} has non-finite values"
        dtype, values = "f64", ["%.17g" % v for v in x.reshape(-1).tolist()]
    elif x.dtype == torch.int64:
        dtype, values = "i64", [str(v) for v in x.reshape(-1).tolist()]
    elif x.dtype == torch.bool:
        dtype, values = "bool", [str(int(v)) for v in x.reshape(-1).tolist()]
    else:
        raise TypeError(f"{label}: unsupported dtype {x.dtype}")
    return " ".join(["tensor", label, dtype, str(x.dim())] + [str(d) for d in x.shape] + values)


def write_fixture(path, header_lines, cases):
    """Writes the cases after `header_lines` (each written as a '# ' comment line)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for line in header_lines:
            f.write(f"# {line}\n")
        for name, tensors in cases:
            f.write(f"case {name}\n")
            for label, x in tensors:
                f.write(format_tensor(label, x) + "\n")
            f.write("end\n")
    print(f"wrote {len(cases)} cases to {path} ({os.path.getsize(path)} bytes)")
