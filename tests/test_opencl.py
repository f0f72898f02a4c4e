"""The OpenCL backend against the CPU backend: every kernel family, odd sizes, layouts, errors.

On CI the device is PoCL (a CPU OpenCL driver installed by pip), so these tests run there too.
"""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.ops.elementwise import BINARY, UNARY

pytestmark = pytest.mark.skipif(not torch.opencl.is_available(), reason="no OpenCL device")
DEV = "opencl"


def same(cpu_result, dev_result, rtol=1e-4, atol=1e-5):
    """Device results equal the CPU backend's: exactly for ints/bools, to float tolerance otherwise."""
    cs = cpu_result if isinstance(cpu_result, (tuple, list)) else (cpu_result,)
    ds = dev_result if isinstance(dev_result, (tuple, list)) else (dev_result,)
    for c, d in zip(cs, ds):
        assert str(d.device) == "opencl:0"
        assert c.dtype == d.dtype and c.shape == d.shape
        cn, dn = c.detach().numpy(), d.detach().cpu().numpy()
        if c.dtype.is_floating_point:
            np.testing.assert_allclose(dn, cn, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(dn, cn)


def both(fn, *args):
    """Run ``fn`` on CPU tensors and on copies of them on the device; compare."""
    dev_args = [a.to(DEV) if hasattr(a, "_storage") else a for a in args]
    same(fn(*args), fn(*dev_args))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_device_api():
    assert torch.opencl.device_count() >= 1
    props = torch.opencl.get_device_properties(0)
    assert props["compute_units"] >= 1 and props["global_mem_bytes"] > 0 and "fp64" in props
    assert isinstance(torch.opencl.get_device_name(0), str)
    x = torch.ones(3, device="opencl")
    assert str(x.device) == "opencl:0" and repr(x) == "tensor([1., 1., 1.], device='opencl:0')"
    assert torch.opencl.memory_allocated() > 0
    torch.opencl.synchronize()
    assert torch.cuda.is_available() is False


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32,
                                   torch.int16, torch.int8, torch.uint8, torch.bool])
def test_round_trip(dtype):
    a = (np.random.rand(3, 5) * 10).astype(dtype.np)
    t = torch.from_numpy(a)
    d = t.to(DEV)
    assert d.dtype == dtype and d.device == torch.device("opencl:0")
    np.testing.assert_array_equal(d.cpu().numpy(), a)
    np.testing.assert_array_equal(d.t().cpu().numpy(), a.T)       # a strided view comes back right
    np.testing.assert_array_equal(d[1:, ::2].cpu().numpy(), a[1:, ::2])


def test_mixing_devices_is_an_error():
    with pytest.raises(RuntimeError, match="opencl:0.*cpu|cpu.*opencl:0"):
        torch.ones(3, device="opencl") + torch.ones(3)


def test_out_of_memory_is_a_runtime_error_with_sizes():
    with pytest.raises(RuntimeError, match=r"out of memory.*1048576\.00 MiB.*in use"):
        torch.empty(2**38, device="opencl")  # 1 TiB


def test_without_a_usable_device_the_error_says_how_to_install_one(monkeypatch):
    import pygrad.runtime
    from pygrad.runtime.opencl import runtime

    monkeypatch.setitem(runtime._state, "devices", [])
    monkeypatch.setitem(runtime._state, "pending", [])  # (candidates not probed yet)
    monkeypatch.setitem(runtime._state, "runtimes", {})
    monkeypatch.setattr(pygrad.runtime, "_opencl", {})
    assert not torch.opencl.is_available() and torch.opencl.device_count() == 0
    with pytest.raises(RuntimeError, match="pip install pyopencl pocl-binary-distribution"):
        torch.zeros(2, device="opencl")


def test_a_device_that_cannot_compile_is_left_out_with_the_reason():
    """The probe of runtime.devices(): a compiler error (here a fake one) leaves the device out."""
    from types import SimpleNamespace

    from pygrad.runtime.opencl import runtime

    def failing_program(ctx, src):
        raise RuntimeError("clBuildProgram failed: BUILD_PROGRAM_FAILURE\nerror: unknown target CPU 'generic'")

    fake_cl = SimpleNamespace(Context=lambda devs: None, Program=failing_program)
    dev = SimpleNamespace(name="pthread-AMD EPYC ", platform=SimpleNamespace(version="OpenCL 3.0 PoCL 3.0-rc2"))
    before = list(runtime._state["rejected"])
    try:
        with pytest.warns(RuntimeWarning, match="unknown target CPU 'generic'.*newer PoCL"):
            assert runtime._can_build(fake_cl, dev) is False
        assert "cannot compile kernels" in runtime.rejected()[-1]
    finally:
        runtime._state["rejected"][:] = before


def test_numpy_needs_cpu():
    with pytest.raises(TypeError, match="cpu"):
        torch.ones(2, device="opencl").numpy()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    x = torch.randn(7, 65)
    if name in ("log", "log2", "log10", "sqrt", "rsqrt"):
        x = x.abs() + 0.1
    if name in ("bitwise_not",):
        x = torch.randint(-9, 9, (7, 65))
    if name == "logical_not":
        x = x > 0
    if not hasattr(torch.Tensor, name):  # rows with no Tensor method (gelu, silu: nn.functional only)
        from pygrad.ops.elementwise import UNARY_OPS

        both(UNARY_OPS[name].apply, x)
        return
    both(lambda a: getattr(a, name)(), x)
    if name not in ("bitwise_not", "logical_not", "erf", "sigmoid") and UNARY[name][3] != "float":
        both(lambda a: getattr(a, name)(), torch.randint(-9, 9, (5, 3)))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name):
    fn = {"div_floor": lambda a, b: a // b, "div_trunc": lambda a, b: a.div(b, rounding_mode="trunc")}.get(
        name, lambda a, b: getattr(torch, name)(a, b))
    if name.startswith(("bitwise", "logical")):
        both(fn, torch.randint(-5, 5, (4, 5)), torch.randint(-5, 5, (5,)))
        return
    x, y = torch.randn(4, 5), torch.rand(5) + 0.5
    both(fn, x, y)                     # broadcast
    both(fn, x.t(), y.reshape(5, 1))   # strided + broadcast
    both(lambda a: fn(a, 2.5), x)       # scalar operand
    if name != "atan2":
        both(fn, torch.randint(-9, 9, (4, 5)), torch.randint(1, 5, (5,)))


@pytest.mark.parametrize("n", [1, 7, 65, 127, 1000, 70000])
def test_odd_sizes(n):
    x, y = torch.randn(n), torch.randn(n)
    both(lambda a, b: a * b + 1, x, y)
    both(lambda a: a.sum(), x)
    both(lambda a: a.max(), x)
    # float64: a work-group scan (PYGRAD_KERNEL_SHAPE=gpu) adds in another order than NumPy's loop, and
    # float32 running sums then differ by more than 1e-5 (test_reduce_grid checks float32 scans, scaled)
    both(lambda a: a.cumsum(0), x.double())


@pytest.mark.parametrize("dim", [None, 0, 1, 2, (0, 2), (1, 2)])
@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin", "std", "var", "all", "any"])
def test_reductions(op, dim):
    x = torch.rand(3, 4, 5) + 0.5
    if op in ("all", "any"):
        x = x > 1.0
    f = (lambda a: getattr(a, op)()) if dim is None else (lambda a: getattr(a, op)(dim))
    both(f, x)
    both(f, x.transpose(0, 2))


def test_arg_reductions_and_scans():
    x = torch.randn(4, 6)
    for f in (lambda a: a.argmax(), lambda a: a.argmin(1), lambda a: a.max(1), lambda a: a.min(0, keepdim=True),
              lambda a: a.cumsum(1), lambda a: a.cumprod(0), lambda a: a.softmax(1), lambda a: a.log_softmax(0),
              lambda a: a.logsumexp(1), lambda a: a.sort(1), lambda a: a.topk(2)):
        both(f, x)
    both(lambda a: a.sum(1), torch.randint(0, 9, (3, 4)))


def test_indexing_gather_scatter():
    x = torch.randn(5, 6)
    idx = torch.tensor([[0, 1], [1, 1], [2, 0], [4, 4], [3, 2]])
    both(lambda a: a[1:, ::2], x)
    both(lambda a: a[[0, 2, 2]], x)
    both(lambda a: a[a > 0], x)
    both(lambda a, i: a.gather(1, i), x, idx)
    both(lambda a, i: a.scatter_add(1, i, a[:, :2]), x, idx)

    def write(a):
        a = a.clone()
        a[a > 0] = 0
        a[:, 1] = 5
        a.index_put_((torch.tensor([0, 0, 1]).to(a.device),), torch.ones(3, 6).to(a.device), accumulate=True)
        return a

    both(write, x)


@pytest.mark.parametrize("shape", [(65, 127), (3, 33, 40), (8, 8)])
def test_transposed_operands_take_the_tiled_kernel(shape):
    """ew_tiled: operands that walk the last two dims in different orders, tiles cut at odd sizes."""
    x = torch.randn(*shape)
    y = torch.randn(*shape[:-2], shape[-1], shape[-2])
    both(lambda a: a.transpose(-1, -2).contiguous(), x)
    both(lambda a, b: a + b.transpose(-1, -2), x, y)
    both(lambda a, b: torch.where(a > 0, a, b.transpose(-1, -2)), x, y)
    both(lambda a: a.transpose(-1, -2).to(torch.float64) * 2, x)
    both(lambda a: a.transpose(-1, -2)[::2, 1:] * 1, x)


SORT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.int16, torch.int8,
               torch.uint8, torch.bool]


@pytest.mark.parametrize("dtype", SORT_DTYPES, ids=str)
@pytest.mark.parametrize("n", [1, 7, 65, 127])
def test_sort_runs_on_the_device(dtype, n):
    """sort.cl: stable merge sort; ties (many: values in -3..3) keep their order in both directions."""
    x = torch.randint(-3, 4, (3, n)).to(dtype)
    for f in (lambda a: a.sort(1), lambda a: a.sort(0, descending=True), lambda a: a.t().sort(0),
              lambda a: a[:, ::2].argsort(1, descending=True), lambda a: a.reshape(-1).sort()):
        both(f, x)


def test_sort_nan_topk_median_and_empty():
    x = torch.randn(4, 130)
    x[0, 3] = x[2, 0] = x[3, 129] = float("nan")
    for f in (lambda a: a.sort(1), lambda a: a.sort(1, descending=True), lambda a: a.topk(5, 1),
              lambda a: a.topk(3, 0, largest=False), lambda a: a[1:2].median(1)):
        both(f, x)
    both(lambda a: a.sort(1), torch.empty(0, 5))
    both(lambda a: a.sort(0), torch.empty(3, 0))


@pytest.mark.parametrize("dtype", SORT_DTYPES, ids=str)
def test_scatter_accumulate_every_dtype(dtype):
    """index_put_(accumulate=True) sums repeated indices on the device (compare-and-swap, any width)."""
    n = 7
    idx = torch.randint(0, n, (300,))
    vals = torch.randint(0, 3, (300,)).to(dtype)

    def acc(base, i, v):
        return base.clone().index_put_((i,), v, accumulate=True)

    both(acc, torch.zeros(n, dtype=dtype), idx, vals)
    if dtype is not torch.bool:
        both(lambda b, i, v: b.scatter_add(1, i, v), torch.zeros(3, n, dtype=dtype), torch.randint(0, n, (3, 50)),
             torch.ones(3, 50, dtype=dtype))


def test_cat_stack_casts():
    x, y = torch.randn(3, 4), torch.randn(2, 4)
    both(lambda a, b: torch.cat([a, b]), x, y)
    both(lambda a: torch.stack([a, a], 2), x)
    for dt in (torch.int32, torch.int64, torch.uint8, torch.bool, torch.float16, torch.float64, torch.int8):
        both(lambda a: (a * 3).to(dt), x)
        both(lambda a: a.to(dt).to(torch.float32), x * 3)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 65, 127), (127, 3, 65), (64, 64, 64), (0, 3, 4), (3, 0, 4)])
def test_matmul_shapes_and_layouts(m, k, n):
    a, b = torch.randn(m, k), torch.randn(k, n)
    both(lambda p, q: p @ q, a, b)
    both(lambda p, q: p @ q, a.t().contiguous().t(), b)     # column-major A
    both(lambda p, q: p @ q, a, b.t().contiguous().t())     # column-major B (a Linear layer's weight.t())


def test_matmul_batched_and_ints():
    both(lambda p, q: p @ q, torch.randn(2, 3, 5, 7), torch.randn(3, 7, 4))
    both(lambda p, q: torch.bmm(p, q), torch.randn(4, 2, 3), torch.randn(4, 3, 5))
    both(lambda p, q: p @ q, torch.randint(-3, 3, (4, 5)), torch.randint(-3, 3, (5, 2)))
    both(lambda p, q: p @ q, torch.randn(5), torch.randn(5, 3))


def test_conv_pool_losses():
    img, w, b = torch.randn(2, 3, 9, 9), torch.randn(4, 3, 3, 3), torch.randn(4)
    both(lambda i, w, b: F.conv2d(i, w, b, padding=1, stride=2), img, w, b)
    both(lambda i, w: F.conv2d(i, w, groups=1, dilation=2), img, w)
    both(lambda i: F.max_pool2d(i, 2), img)
    both(lambda i: F.avg_pool2d(i, 3, 2, 1), img)
    both(lambda i: F.adaptive_avg_pool2d(i, (4, 3)), img)
    both(lambda i, w: F.conv_transpose2d(i, w, stride=2), img, torch.randn(3, 2, 3, 3))
    both(lambda x: F.cross_entropy(x, torch.tensor([0, 1, 2, 4]).to(x.device)), torch.randn(4, 5))


def test_float16_convolution_and_pooling():
    """im2col moves raw bits and col2im sums float16 in float32, so half works without cl_khr_fp16."""
    x, w = torch.randn(2, 3, 7, 7).half(), torch.randn(4, 3, 3, 3).half()

    def step(a, b):
        a = a.clone().requires_grad_()
        y = F.conv2d(a, b, padding=1, stride=2)
        (y.float().sum() + F.max_pool2d(a, 2).float().sum()).backward()
        return y.detach(), F.avg_pool2d(a.detach(), 3), a.grad

    same(step(x, w), step(x.to(DEV), w.to(DEV)), rtol=1e-2, atol=1e-2)


def test_autograd_on_device():
    def grads(a, b, i, w):
        a, b, i, w = (t.detach().requires_grad_() for t in (a, b, i, w))
        loss = (a @ b).relu().sum() + (a * 2).exp().mean() + F.max_pool2d(F.conv2d(i, w, padding=1), 2).sum()
        loss.backward()
        return a.grad, b.grad, i.grad, w.grad

    both(grads, torch.randn(3, 4), torch.randn(4, 2), torch.randn(2, 3, 6, 6), torch.randn(4, 3, 3, 3))


def test_random_on_device_is_reproducible():
    torch.manual_seed(7)
    a = torch.rand(1000, device=DEV)
    torch.manual_seed(7)
    b = torch.rand(1000, device=DEV)
    assert torch.equal(a.cpu(), b.cpu())
    r = torch.randn(20000, device=DEV)
    assert abs(r.mean().item()) < 0.05 and abs(r.std().item() - 1) < 0.05
    k = torch.randint(3, 9, (5000,), device=DEV)
    assert k.min().item() == 3 and k.max().item() == 8


def test_zero_size():
    both(lambda a: a + 1, torch.randn(0, 3))
    both(lambda a: a.sum(0), torch.randn(0, 3))
    both(lambda a, b: a @ b, torch.randn(0, 3), torch.randn(3, 2))


def test_fp64_and_bad_device_index():
    if torch.opencl.get_device_properties(0)["fp64"]:
        both(lambda a: a * 2 + 1, torch.randn(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="out of range"):
        torch.ones(2, device=f"opencl:{torch.opencl.device_count()}")


def test_nn_stack_on_device_matches_cpu():
    """Embedding -> LSTM -> Transformer encoder -> BatchNorm, backward and SGD steps, on both devices."""
    import pygrad.nn as nn

    results = []
    for dev in ("cpu", DEV):
        torch.manual_seed(0)
        emb, lstm = nn.Embedding(10, 4).to(dev), nn.LSTM(4, 8, 2, batch_first=True).to(dev)
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2).to(dev)
        bn = nn.BatchNorm1d(8).to(dev)
        params = [p for m in (emb, lstm, enc, bn) for p in m.parameters()]
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)  # (Adam would amplify rounding of tiny grads)
        x = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [0, 9, 0, 9, 0]]).to(dev)
        for _ in range(2):
            opt.zero_grad()
            out, _ = lstm(emb(x))
            loss = bn(enc(out).reshape(-1, 8)).pow(2).mean()
            loss.backward()
            opt.step()
        results.append((loss, lstm.weight_ih_l0, emb.weight, bn.running_mean))
    same(results[0], results[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kernel", ["tiled", "naive", "cpu"])
def test_every_gemm_kernel(kernel):
    """Each GEMM kernel of cl_kernels/gemm.cl, whichever this device would pick by itself."""
    from pygrad.runtime import get_backend

    be = get_backend(torch.device(DEV))
    old, be.gemm_kernel = be.gemm_kernel, kernel
    try:
        for m, k, n in [(1, 1, 1), (7, 65, 127), (33, 17, 16), (130, 33, 65)]:  # 130 x 65: several 64-tiles
            a, b = torch.randn(m, k), torch.randn(k, n)
            both(lambda p, q: p @ q, a, b)
            both(lambda p, q: p @ q, a.t().contiguous().t(), b.t().contiguous().t())
        both(lambda p, q: p @ q, torch.randn(2, 3, 5, 7), torch.randn(3, 7, 4))
        if torch.opencl.get_device_properties(0)["fp64"]:
            both(lambda p, q: p @ q, torch.randn(9, 70, dtype=torch.float64), torch.randn(70, 66, dtype=torch.float64))
    finally:
        be.gemm_kernel = old


def test_gemm_cpu_one_program_for_all_shapes():
    """CPU shape: products of every width, in place or packed, K blocked or not, run through ONE gemm.cl
    program (one gemm_cpu, one pack_b at first launch: the cold start of a training step), not a variant
    per width."""
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import kernels

    be = get_backend(torch.device(DEV))
    if be.rt.kernel_shape != "cpu":
        pytest.skip("gemm_cpu is the CPU-shaped GEMM")
    for m, k, n in [(64, 84, 10), (10, 84, 64), (6, 25, 784), (16, 150, 100), (300, 200, 130), (7, 3, 1)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        both(lambda p, q: p @ q, a, b)
    progs = {key[2] for key in kernels._programs if key[0] == id(be.rt.context) and key[1] == "gemm.cl"
             and any("CPU_GEMM" in d for d in key[2])}
    assert len(progs) == 1, progs


@pytest.mark.parametrize("direct_a", [False, True])
@pytest.mark.parametrize("direct_b", [False, True])
@pytest.mark.parametrize("row_blocks", [1, 3])
@pytest.mark.parametrize("kc", [None, 0, 8, 3])
def test_gemm_cpu_in_place_and_packed_operands(direct_a, direct_b, row_blocks, kc):
    """gemm_cpu reads A and/or B in place or from packed panels, one or several row blocks per
    work-item, K in one block or in blocks of kc (C reloaded between them, edge tiles included, the
    last block of columns of an in-place B shifted left), narrow products as C^T = B^T A^T; every mix
    gives the same product."""
    from pygrad.runtime import get_backend

    be = get_backend(torch.device(DEV))
    saved = be.gemm_kernel, be.gemm_direct_a, be.gemm_direct_b, be.gemm_row_blocks, be.gemm_kc, be.gemm_small
    be.gemm_kernel, be.gemm_direct_a, be.gemm_direct_b, be.gemm_row_blocks = "cpu", direct_a, direct_b, row_blocks
    be.gemm_kc, be.gemm_small = kc, False  # (small products would go to gemm_dot_k / gemm_row_k)
    try:
        for m, k, n in [(1, 1, 16), (7, 65, 32), (13, 5, 48), (6, 16, 17), (19, 40, 70), (20, 7, 80), (9, 3, 64),
                        (70, 9, 2), (13, 33, 144), (3, 5, 1)]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            both(lambda p, q: p @ q, a, b)
            both(lambda p, q: p @ q, a.t().contiguous().t(), b)
            both(lambda p, q: p @ q, a, b.t().contiguous().t())
        big = torch.randn(40, 160)
        both(lambda p, q: p @ q[16:32], torch.randn(5, 16), big)   # B at an aligned offset: read in place
        both(lambda p, q: p @ q[3:19], torch.randn(5, 16), big)    # unaligned offset: packed
        both(lambda p, q: p @ q[:, 16:96], torch.randn(5, 40), big)   # aligned column slice, rows strided
        both(lambda p, q: p @ q, torch.randn(3, 7, 9), torch.randn(3, 9, 32))
        both(lambda p, q: p @ q, torch.randn(3, 7, 9), torch.randn(3, 9, 80))
        both(lambda p, q: p @ q, torch.randn(2, 3, 70, 9), torch.randn(3, 9, 5))  # broadcast batch, narrow C
        both(lambda p, q: p @ q, torch.randn(2, 3, 7, 9), torch.randn(3, 9, 16))  # broadcast batch
    finally:
        be.gemm_kernel, be.gemm_direct_a, be.gemm_direct_b, be.gemm_row_blocks, be.gemm_kc, be.gemm_small = saved


def test_pickle_keeps_the_device():
    import pickle

    p = torch.nn.Parameter(torch.randn(3, device=DEV))
    back = pickle.loads(pickle.dumps(p))
    assert type(back) is torch.nn.Parameter and back.requires_grad and str(back.device) == "opencl:0"
    assert back.tolist() == p.tolist()


DATALOADER_SCRIPT = """
import pygrad as torch
from pygrad.utils.data import DataLoader, Dataset

class OnDevice(Dataset):
    def __len__(self):
        return 4
    def __getitem__(self, i):
        return torch.tensor([float(i)], device="opencl")

if __name__ == "__main__":
    torch.ones(1, device="opencl").tolist()  # the parent sets the device up
    try:
        list(DataLoader(OnDevice(), batch_size=2, num_workers=1))
    except RuntimeError as e:
        print("fork:", "forked subprocess" in str(e))
    batches = list(DataLoader(OnDevice(), batch_size=2, num_workers=1, multiprocessing_context="spawn"))
    print("spawn:", [str(b.device) for b in batches], [b.tolist() for b in batches])
"""


def test_dataloader_workers_and_the_device(tmp_path):
    """A forked worker cannot use the device: a clear error, not a hang; spawned workers can."""
    import subprocess
    import sys

    script = tmp_path / "loader.py"
    script.write_text(DATALOADER_SCRIPT)
    out = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True,
                         timeout=120).stdout
    assert "fork: True" in out, out
    assert "spawn: ['opencl:0', 'opencl:0'] [[[0.0], [1.0]], [[2.0], [3.0]]]" in out, out


def test_kernel_shape_follows_the_device_type_unless_forced(monkeypatch):
    """CPU devices get CPU-shaped kernels; PYGRAD_KERNEL_SHAPE=cpu|gpu forces one, anything else is an error."""
    from types import SimpleNamespace

    import pyopencl as cl

    from pygrad.runtime.opencl import runtime

    cpu_dev, gpu_dev = SimpleNamespace(type=cl.device_type.CPU), SimpleNamespace(type=cl.device_type.GPU)
    monkeypatch.delenv("PYGRAD_KERNEL_SHAPE", raising=False)
    assert runtime.kernel_shape_for(cpu_dev) == "cpu" and runtime.kernel_shape_for(gpu_dev) == "gpu"
    monkeypatch.setenv("PYGRAD_KERNEL_SHAPE", "GPU")
    assert runtime.kernel_shape_for(cpu_dev) == "gpu"
    monkeypatch.setenv("PYGRAD_KERNEL_SHAPE", "fast")
    with pytest.raises(ValueError, match="PYGRAD_KERNEL_SHAPE must be 'cpu' or 'gpu', got 'fast'"):
        runtime.kernel_shape_for(cpu_dev)


def test_devices_are_probed_only_as_far_as_asked(monkeypatch):
    """opencl:0 probes one device; the others (a second PoCL, each a compiler to load) only when asked for,
    and the numbering is the one probing all at once gives (a failing candidate is skipped)."""
    from types import SimpleNamespace

    from pygrad.runtime.opencl import runtime

    probed = []

    def fake_can_build(cl, dev):
        probed.append(dev.name)
        return dev.name != "bad"

    devs = [SimpleNamespace(name=n) for n in ("a", "bad", "b", "c")]
    monkeypatch.setitem(runtime._state, "devices", [])
    monkeypatch.setitem(runtime._state, "pending", list(devs))
    monkeypatch.setattr(runtime, "_can_build", fake_can_build)
    monkeypatch.setattr(runtime, "_cl", lambda: None)
    assert runtime.is_available() and probed == ["a"]
    assert [d.name for d in runtime._usable(1)] == ["a", "b"] and probed == ["a", "bad", "b"]
    assert runtime.device_count() == 3 and probed == ["a", "bad", "b", "c"]


@pytest.mark.parametrize("n", [1, 17, 4096 * 8 + 13, 4096 * 40 + 3])
def test_elementwise_launch_paths_match_numpy(n):
    """The elementwise fast path (ew_contig: steps 1 or 0 per operand) and the strided kernels, over sizes
    that give one chunk, several ragged chunks and more chunks than work-items (CPU shape: work-groups
    of one work-item, >= 4096 elements each)."""
    rng = np.random.default_rng(n)
    a_np = rng.standard_normal(n).astype(np.float32)
    b_np = rng.standard_normal(n).astype(np.float32)
    a, b = torch.tensor(a_np, device="opencl"), torch.tensor(b_np, device="opencl")
    np.testing.assert_allclose((a + b).cpu().numpy(), a_np + b_np, rtol=1e-6)
    np.testing.assert_allclose((a * 2.5).cpu().numpy(), a_np * np.float32(2.5), rtol=1e-6)
    one = torch.tensor([[3.0]], device="opencl")  # 1 element, shape (1, 1): a broadcast value (step 0)
    np.testing.assert_allclose((a - one).cpu().numpy(), (a_np - 3.0)[None, :], rtol=1e-6)
    s = torch.tensor(2.0, device="opencl").expand(n)  # shape of the output, stride 0
    np.testing.assert_allclose((a / s).cpu().numpy(), a_np / 2, rtol=1e-6)
    if n > 2:  # an offset view (contiguous, offset 1) and a strided one (step 2: the strided kernel)
        np.testing.assert_allclose((a[1:] + b[:-1]).cpu().numpy(), a_np[1:] + b_np[:-1], rtol=1e-6)
        np.testing.assert_allclose((a[::2] + b[::2]).cpu().numpy(), a_np[::2] + b_np[::2], rtol=1e-6)
    m = 64 if n > 4096 else 1
    x_np = rng.standard_normal((m, 37)).astype(np.float32)
    x = torch.tensor(x_np, device="opencl")
    np.testing.assert_array_equal(x.t().contiguous().cpu().numpy(), x_np.T)  # transposed copy (ew_tiled)
    np.testing.assert_allclose((x + x[0]).cpu().numpy(), x_np + x_np[0], rtol=1e-6)  # row broadcast (strided)


@pytest.mark.parametrize("split", [2, 3, 7, 64])
@pytest.mark.parametrize("direct", [None, False])
def test_gemm_cpu_split_k(split, direct):
    """CPU shape, split-K: gemm_cpu computes each K slice into its own partial C (the slice is an argument of
    the one kernel), gemm_sum_k adds them into C in slice order.  Odd sizes, uneven last slice, transposed and
    strided operands, narrow products (C^T = B^T A^T), a batch of one, K blocks inside slices, C a view."""
    from pygrad.runtime import get_backend

    be = get_backend(torch.device(DEV))
    if be.rt.kernel_shape != "cpu":
        pytest.skip("gemm_cpu is the CPU-shaped GEMM")
    saved = be.gemm_split_k, be.gemm_direct_a, be.gemm_direct_b, be.gemm_kc, be.gemm_small
    be.gemm_split_k, be.gemm_direct_a, be.gemm_direct_b, be.gemm_kc, be.gemm_small = split, direct, direct, 5, False
    try:
        for m, k, n in [(1, 1, 1), (3, 2, 5), (7, 65, 127), (6, 301, 25), (16, 97, 150), (32, 203, 2), (5, 64, 64)]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            both(lambda p, q: p @ q, a, b)
            both(lambda p, q: p @ q, a.t().contiguous().t(), b)      # A transposed
            both(lambda p, q: p @ q, a, b.t().contiguous().t())      # B transposed (conv dW: cols^T)
        big = torch.randn(90, 160)
        both(lambda p, q: p @ q[16:80, ::2], torch.randn(5, 64), big)  # B strided along n
        both(lambda p, q: p[:, 3:70] @ q[3:70, 16:96], big[:7], big)   # A and B at offsets
        both(lambda p, q: p @ q, torch.randn(1, 7, 90), torch.randn(1, 90, 33))  # batch of one: batch strides
        both(lambda p, q: (p @ q).t(), torch.randn(9, 77), torch.randn(77, 70))  # result read transposed
        both(lambda p, q: p @ q, torch.randn(2, 9, 77), torch.randn(2, 77, 70))  # batch of two: no split
        if torch.opencl.get_device_properties(0)["fp64"]:
            both(lambda p, q: p @ q, torch.randn(9, 170, dtype=torch.float64), torch.randn(170, 66, dtype=torch.float64))
    finally:
        be.gemm_split_k, be.gemm_direct_a, be.gemm_direct_b, be.gemm_kc, be.gemm_small = saved


@pytest.mark.parametrize("small", [True, None])
@pytest.mark.parametrize("split", [None, 3])
def test_gemm_small_forms(small, split):
    """CPU shape, small and narrow products: gemm_dot_k (A's rows and B's columns along k) and gemm_row_k
    (B's rows along n, or C^T = B^T A^T where A's columns are), several blocks per work-item, split-K
    slices summed by gemm_sum_k.  Odd sizes, K not a multiple of 16, a narrow B whose 16-wide loads run into
    the next row (the last rows read element by element), B a column slice, unaligned offsets, a batch,
    the result read transposed; ``gemm_small=True`` takes the forms wherever they fit."""
    from pygrad.runtime import get_backend

    be = get_backend(torch.device(DEV))
    if be.rt.kernel_shape != "cpu":
        pytest.skip("gemm_dot_k / gemm_row_k are CPU-shaped kernels")
    saved = be.gemm_small, be.gemm_split_k
    be.gemm_small, be.gemm_split_k = small, split
    try:
        for m, k, n in [(1, 1, 1), (3, 5, 1), (1, 17, 1), (7, 65, 32), (13, 5, 48), (6, 16, 17), (19, 40, 70),
                        (70, 9, 2), (64, 84, 10), (32, 1000, 2), (2, 333, 33), (1, 100, 100), (100, 100, 1),
                        (21, 31, 15), (5, 47, 3)]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            both(lambda p, q: p @ q, a, b)                                    # x @ W, W of shape K x N
            both(lambda p, q: p @ q, a, b.t().contiguous().t())               # x @ W^T: gemm_dot_k
            both(lambda p, q: p @ q, a.t().contiguous().t(), b)               # A transposed
            both(lambda p, q: p @ q, a.t().contiguous().t(), b.t().contiguous().t())
        big = torch.randn(90, 160)
        both(lambda p, q: p @ q[3:70, 1:4], torch.randn(5, 67), big)          # narrow B, rows 160 apart
        both(lambda p, q: p[:, 3:70] @ q[3:70, 5:30], big[:7], big)           # unaligned offsets
        both(lambda p, q: p @ q[:, ::2], torch.randn(5, 90), big)             # B strided along n
        both(lambda p, q: p @ q, torch.randn(3, 7, 40), torch.randn(3, 40, 5))
        both(lambda p, q: p @ q, torch.randn(2, 3, 7, 9), torch.randn(3, 9, 20))   # broadcast batch
        both(lambda p, q: (p @ q).t(), torch.randn(9, 77), torch.randn(77, 20))
    finally:
        be.gemm_small, be.gemm_split_k = saved


def test_gemm_small_form_choice():
    """Which kernel a product takes on the CPU shape: a Linear layer's forward x @ W^T the dot form, its
    backward the row form (dW = dY^T X transposed where X is narrow), big products gemm_cpu."""
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl.backend_ops import _small_gemm_form

    be = get_backend(torch.device(DEV))
    saved, be.gemm_small = be.gemm_small, None
    try:
        def form(m, k, n, a_t=False, b_t=False):  # strides of contiguous A (m x k) and B (k x n), or their .t()
            sa, sb = ((1, m) if a_t else (k, 1)), ((1, k) if b_t else (n, 1))
            return _small_gemm_form(be, m, n, k, sa + sb + (n, 1))
        assert form(64, 120, 84, b_t=True) == ("gemm_dot_k", False)       # LeNet's Linear(120, 84) forward
        assert form(64, 84, 120) == ("gemm_row_k", False)                 # its dX
        assert form(84, 64, 120, a_t=True) == ("gemm_row_k", False)       # its dW = dY^T X
        assert form(64, 120, 400) is None                                 # Linear(400, 120)'s dX: gemm_cpu
        assert form(10, 64, 3, a_t=True) == ("gemm_row_k", False)         # dW of Linear(3, 10): X narrow
        assert form(100, 64, 20, a_t=True, b_t=True) == ("gemm_row_k", True)   # A^T @ B^T: C^T = B A
        assert form(64, 784, 10) == ("gemm_row_k", False)                 # x @ W, W of shape 784 x 10
        assert form(8, 4096, 512, b_t=True) == ("gemm_dot_k", False)      # one side <= 64: dot form
        assert form(32, 10240, 2) == ("gemm_row_k", False)                # narrow: row form at any size
        assert form(512, 512, 512) is None and form(128, 128, 128, b_t=True) is None   # gemm_cpu
        assert form(4096, 16, 16, b_t=True) is None                       # K < 32: no dot form
        be.gemm_small = False
        assert form(64, 400, 120, b_t=True) is None
    finally:
        be.gemm_small = saved


def test_gemm_cpu_split_k_choice():
    """Split-K only for skinny products (fewer 6 x 64 blocks of C than ~4 per compute unit) with long K."""
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import backend_ops

    be = get_backend(torch.device(DEV))
    cus = be.rt.device.max_compute_units
    saved, be.gemm_split_k = be.gemm_split_k, None
    try:
        assert backend_ops._cpu_split_k(be, 1, 50176) == min(4 * cus, 49, 64)  # LeNet conv1 dW, batch 64
        assert backend_ops._cpu_split_k(be, 1, 1500) == 1                      # K too short for two slices
        assert backend_ops._cpu_split_k(be, 4 * cus, 10 ** 6) == 1              # enough blocks already
    finally:
        be.gemm_split_k = saved
    be.gemm_split_k = 3
    try:
        assert backend_ops._cpu_split_k(be, 100, 2) == 2                       # forced, never more than K
    finally:
        be.gemm_split_k = saved
