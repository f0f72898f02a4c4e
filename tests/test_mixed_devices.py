"""Issue 11: every op given tensors on two devices raises PyTorch's same-device RuntimeError.

The check lives in one place (``ops.dispatch.check_devices``, run by ``Function.apply`` for every
built-in op).  Mixed devices used to crash the interpreter (``dot``: SIGSEGV), so all cases run in one
subprocess and report back; each case is then its own test.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import DEVICES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif("opencl" not in DEVICES, reason="needs an OpenCL device")

# name -> source of a function f(X, Y) where X, Y are factories (shape, dtype=None) on two devices
CASES = {
    # elementwise, binary and ternary
    "add": "X(3) + Y(3)", "sub": "X(3) - Y(3)", "mul": "X(3) * Y(3)", "div": "X(3) / Y(3)",
    "pow": "X(3) ** Y(3)", "remainder": "X(3) % Y(3)", "floor_divide": "X(3) // Y(3)",
    "maximum": "torch.maximum(X(3), Y(3))", "atan2": "torch.atan2(X(3), Y(3))",
    "eq": "X(3) == Y(3)", "lt": "X(3) < Y(3)", "logical_and": "torch.logical_and(X(3), Y(3))",
    "broadcast_add": "X(2, 3) + Y(3)", "where": "torch.where(X(3) > 0, X(3), Y(3))",
    "where_cond": "torch.where(Y(3) > 0, X(3), X(3))", "lerp": "torch.lerp(X(3), Y(3), 0.5)",
    "addcmul": "X(3).addcmul(X(3), Y(3))", "clamp_tensor": "torch.clamp(X(3), min=Y(3))",
    # linear algebra
    "mm": "torch.mm(X(2, 2), Y(2, 2))", "bmm": "torch.bmm(X(1, 2, 2), Y(1, 2, 2))",
    "dot": "torch.dot(X(2), Y(2))", "matmul": "X(2, 2) @ Y(2, 2)", "mv": "torch.mv(X(2, 2), Y(2))",
    "outer": "torch.outer(X(2), Y(2))", "linear": "F.linear(X(2, 3), Y(4, 3))",
    "linear_bias": "F.linear(X(2, 3), X(4, 3), Y(4))",
    # shape ops
    "cat": "torch.cat([X(2), Y(2)])", "stack": "torch.stack([X(2), Y(2)])",
    # indexing
    "gather": "torch.gather(X(3), 0, Y(2, dtype=torch.int64))",
    "index_select": "torch.index_select(X(3), 0, Y(2, dtype=torch.int64))",
    "scatter": "X(3).scatter(0, X(2, dtype=torch.int64), Y(2))",
    "scatter_add": "X(3).scatter_add(0, X(2, dtype=torch.int64), Y(2))",
    "masked_fill": "X(3).masked_fill(Y(3) > 0, 1.0)",
    "index_put": "X(3).index_put((X(2, dtype=torch.int64),), Y(2))",
    # reductions and losses
    "mse_loss": "F.mse_loss(X(3), Y(3))", "l1_loss": "F.l1_loss(X(3), Y(3))",
    "cross_entropy": "F.cross_entropy(X(2, 3), Y(2, dtype=torch.int64))",
    "nll_loss": "F.nll_loss(X(2, 3), Y(2, dtype=torch.int64))",
    "bce": "F.binary_cross_entropy(torch.sigmoid(X(3)), torch.sigmoid(Y(3)))",
    # nn.functional
    "conv2d": "F.conv2d(X(1, 1, 4, 4), Y(1, 1, 3, 3))",
    "embedding": "F.embedding(X(2, dtype=torch.int64), Y(3, 2))",
    "layer_norm": "F.layer_norm(X(2, 3), (3,), Y(3))",
    # in-place
    "add_": "X(3).add_(Y(3))", "mul_": "X(3).mul_(Y(3))",
}

SCRIPT = r'''
import json, sys, traceback
import pygrad as torch
import pygrad.nn.functional as F

def factory(dev):
    def make(*shape, dtype=None):
        if dtype is torch.int64:
            return torch.zeros(*shape, dtype=dtype, device=dev)
        return torch.rand(*shape, device=dev) + 0.5
    return make

cases = json.loads(sys.argv[1])
out = {}
for name, src in cases.items():
    for order in ("opencl-cpu", "cpu-opencl"):
        a, b = order.split("-")
        X, Y = factory(a), factory(b)
        try:
            eval(src)
            out[f"{name}/{order}"] = "NO ERROR"
        except Exception as e:
            out[f"{name}/{order}"] = f"{type(e).__name__}: {e}"
print("RESULT" + json.dumps(out))
'''


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(CASES)], capture_output=True, text=True,
                       timeout=600, env=env, cwd=ROOT)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")]
    assert p.returncode == 0 and line, f"the interpreter died (rc={p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return json.loads(line[0][len("RESULT"):])


@pytest.mark.parametrize("order", ["opencl-cpu", "cpu-opencl"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_mixed_devices_raise_same_device_error(results, name, order):
    got = results[f"{name}/{order}"]
    first, second = order.split("-")
    assert got.startswith("RuntimeError: Expected all tensors to be on the same device, but found at least two "
                          "devices, "), got
    assert first in got and second in got, got


INDEX_SCRIPT = r'''
import pygrad as torch
x = torch.arange(4.0, device="opencl")
i = torch.tensor([0, 2])
print(x[i].tolist(), x[x.cpu() > 0].tolist())         # CPU indices index a device tensor, as in PyTorch
x[torch.tensor([True, False, True, False])] = 7.0
print(x.tolist())
try:
    torch.arange(4.0)[torch.tensor([0, 2], device="opencl")]
except RuntimeError as e:
    print("RuntimeError:", e)
'''


def test_indexing_takes_cpu_indices_but_not_other_devices():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", INDEX_SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == [
        "[0.0, 2.0] [1.0, 2.0, 3.0]", "[7.0, 1.0, 7.0, 3.0]",
        "RuntimeError: indices should be either on cpu or on the same device as the indexed tensor (cpu)"]


def test_check_devices_lets_a_cpu_scalar_join_another_device():
    """PyTorch lets 0-d CPU tensors take part in ops on other devices: the check must not refuse them."""
    import pygrad
    from pygrad.ops.dispatch import check_devices

    x = pygrad.ones(3, device="opencl")
    s = pygrad.tensor(2.0)
    check_devices((x, s))
    check_devices((s, x))
    check_devices(([s, x],))
    with pytest.raises(RuntimeError, match="opencl:0 and cpu"):
        check_devices((x, s, pygrad.ones(3)))
    with pytest.raises(RuntimeError, match="opencl:0 and cpu"):
        check_devices((s, x, pygrad.ones(1)))
