"""The per-op host path: the compiled fast path of small elementwise ops (``pygrad/_hotpath.pyx``) and the
streamlined graph recording give exactly what the general path gives (values, dtypes, layouts, nodes,
errors, version counters, profiler rows).  Speed is measured by ``benchmarks/bench_host_path.py``."""
import gc
import threading
import weakref

import numpy as np
import pytest

import pygrad
from pygrad import profiler
from pygrad.ops import elementwise as E

HOT = E._hot_binary is not None


def _general(opname, a, b):
    """The general path, bypassing the compiled one."""
    return E.BINARY_OPS[opname].apply(a, b)


@pytest.mark.parametrize("op,np_fn", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                                      ("div", np.true_divide), ("div_floor", np.floor_divide),
                                      ("fmod", np.fmod), ("atan2", np.arctan2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_path_matches_general_path(op, np_fn, dtype):
    rng = np.random.default_rng(0)
    an = rng.standard_normal((3, 4)).astype(dtype)
    bn = rng.standard_normal((3, 4)).astype(dtype) + 3
    a, b = pygrad.tensor(an), pygrad.tensor(bn)
    for x, y in ((a, b), (a, b[0]), (a[:1], b), (a, 2.5), (-3, b), (a, 2)):
        got, want = E.binary(op, x, y), _general(op, x, y)
        assert got.dtype is want.dtype and got.shape == want.shape and got.stride() == want.stride()
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        xn = x.numpy() if hasattr(x, "numpy") else x
        yn = y.numpy() if hasattr(y, "numpy") else y
        np.testing.assert_allclose(got.numpy(), np_fn(xn, yn).astype(dtype), rtol=1e-6)


def test_operators_and_promotion():
    a = pygrad.tensor([1.0, 2.0, 3.0])
    b = pygrad.tensor([0.5, 0.25, 2.0], dtype=pygrad.float64)
    assert (a + b).dtype is pygrad.float64  # mixed dtypes: the general path promotes
    assert (a + 1).dtype is pygrad.float32 and (a * 1.5).dtype is pygrad.float32
    assert (a + True).tolist() == [2.0, 3.0, 4.0]
    assert (pygrad.tensor([1, 2]) * 1.5).dtype is pygrad.float32  # int tensor, float scalar
    assert (pygrad.tensor([1, 2]) + 1).dtype is pygrad.int64
    assert (2 - a).tolist() == [1.0, 0.0, -1.0] and (6 / a).tolist() == [6.0, 3.0, 2.0]
    assert (a + np.float64(1)).dtype is pygrad.float32
    h = pygrad.tensor([1.0, 2.0], dtype=pygrad.float16)
    assert (h + h).dtype is pygrad.float16
    big = 2 ** 60 + 1
    np.testing.assert_array_equal((pygrad.tensor([0.0], dtype=pygrad.float64) + big).numpy(),
                                  np.asarray(big).astype(np.float64) + np.zeros(1))


def test_layouts():
    x = pygrad.arange(12.0).reshape(3, 4)
    t = x.t()  # a transposed input: the output follows its memory order (general path)
    r = t + t
    assert r.stride() == (1, 4)
    np.testing.assert_array_equal(r.numpy(), 2 * np.arange(12.0).reshape(3, 4).T)
    r = x + t.t()
    assert r.stride() == (4, 1)
    r = x[:, 1] * 2  # a strided (non row-major) view
    np.testing.assert_array_equal(r.numpy(), [2.0, 10.0, 18.0])
    z = pygrad.zeros(0, 3)
    assert (z + z).shape == (0, 3)
    s = pygrad.tensor(2.0)
    assert (s * s).shape == () and (s * s).item() == 4.0
    e = pygrad.ones(3).expand(2, 3)
    assert (e + 1).tolist() == [[2.0] * 3] * 2


def test_errors_unchanged():
    with pytest.raises(RuntimeError, match="must match the size"):
        pygrad.ones(3) + pygrad.ones(4)
    with pytest.raises(TypeError):
        pygrad.ones(3) + "a"
    assert (pygrad.ones(2) / 0).tolist() == [float("inf")] * 2  # no NumPy warning, as PyTorch
    with np.errstate(all="raise"):
        assert (pygrad.ones(2) / 0).tolist() == [float("inf")] * 2


def test_nodes_and_gradients():
    a = pygrad.tensor([1.0, 2.0], requires_grad=True)
    b = pygrad.tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    assert y.grad_fn.name() == "MulBackward0" and y.requires_grad and not y.is_leaf
    assert [n.name() for n, _ in y.grad_fn.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    assert y.grad_fn.next_functions[0][0].variable is a
    z = a + 1.0
    assert z.grad_fn.name() == "AddBackward0" and z.grad_fn.next_functions[1] == (None, 0)
    (y.sum() + z.sum()).backward()
    assert a.grad.tolist() == [4.0, 5.0] and b.grad.tolist() == [1.0, 2.0]
    (2.0 / a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0 - 2.0, 5.0 - 0.5])
    c = pygrad.tensor([1.0, 2.0])
    assert (c + c).grad_fn is None and not (c + c).requires_grad
    with pygrad.no_grad():
        assert (a + b).grad_fn is None


def test_accumulate_grad_node_per_leaf():
    """One AccumulateGrad per leaf while a graph uses it, as in PyTorch (a weak reference from the leaf)."""
    x = pygrad.ones(3, requires_grad=True)
    y, z = x * 2, x + 1
    assert y.grad_fn.next_functions[0][0] is z.grad_fn.next_functions[0][0]
    w = x.exp()
    assert w.grad_fn.next_functions[0][0] is y.grad_fn.next_functions[0][0]
    acc = weakref.ref(y.grad_fn.next_functions[0][0])
    del y, z, w
    gc.collect()
    assert acc() is None  # no graph left: the node is gone, and the leaf holds no cycle


def test_accumulation_in_place_bumps_version():
    x = pygrad.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    v = g._version
    (x * 3).sum().backward()
    assert x.grad is g and g._version == v + 1 and g.tolist() == [5.0] * 3
    x.grad = pygrad.zeros(3, dtype=pygrad.float32).t()  # any layout the user sets still works
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0] * 3


def test_inplace_change_of_saved_operand_is_caught():
    a = pygrad.tensor([1.0, 2.0], requires_grad=True)
    b = pygrad.tensor([3.0, 4.0])
    y = a * b
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    c = pygrad.tensor([3.0, 4.0])
    y = a + c  # add saves nothing: changing c afterwards is allowed, as in PyTorch
    c.add_(1)
    y.sum().backward()


def test_hooks_and_retain_grad():
    a = pygrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    a.register_hook(lambda g: seen.append(g.tolist()))
    y = a * 3.0
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    assert seen == [[6.0, 6.0]] and a.grad.tolist() == [6.0, 6.0] and y.grad.tolist() == [1.0, 1.0]


def test_profiler_sees_fast_ops():
    a, b = pygrad.ones(4, requires_grad=True), pygrad.ones(4)
    with profiler.profile() as prof:
        (a + b).sum().backward()
        (a * 2).sum().backward()
    names = {e.name for e in prof.events()}
    assert {"Add", "Mul", "autograd::engine::evaluate_function: AddBackward0"} <= names
    assert prof.key_averages()  # and it stays off afterwards: the fast path runs again
    assert profiler._ACTIVE is None and (a + b).tolist() == [2.0] * 4


def test_grad_mode_is_per_thread():
    a = pygrad.ones(2, requires_grad=True)
    out = {}

    def worker():
        out["thread"] = (a + a).requires_grad

    with pygrad.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        out["main"] = (a + a).requires_grad
    assert out == {"thread": True, "main": False}


@pytest.mark.skipif(not HOT, reason="the compiled fast path is not built")
def test_fast_path_declines_what_it_does_not_cover():
    from pygrad import _hotpath

    f = pygrad.ones(2)
    assert _hotpath.binary("add", f, f) is not None
    assert _hotpath.binary("pow", f, f) is None  # not registered
    assert _hotpath.binary("add", f, pygrad.ones(2, dtype=pygrad.float64)) is None
    assert _hotpath.binary("add", f, True) is None
    assert _hotpath.binary("add", f, pygrad.ones(3)) is None  # the general path raises its error
    assert _hotpath.binary("add", pygrad.ones(2, dtype=pygrad.int64), 1) is None


def test_wrapping_function_apply_sees_fast_ops(monkeypatch):
    """Whatever wraps ``Function.apply`` (the profiler, the ONNX exporter, a test counting ops) sees every op."""
    from pygrad.autograd.function import Function

    seen = []
    original = Function.__dict__["apply"].__func__

    def apply(cls, *args, **kwargs):
        seen.append(cls.__name__)
        return original(cls, *args, **kwargs)

    x = pygrad.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    monkeypatch.setattr(Function, "apply", classmethod(apply))
    (x + x).sum().backward()
    assert seen.count("Add") == 3  # a + b; the two gradients reaching x summed; x.grad += their sum
    monkeypatch.undo()
    seen.clear()
    (x + x).sum().backward()
    assert seen == []


def _scenario(device="cpu"):
    """Graph-building cases that touch every branch of apply/attach: views, multi-output, saved outputs,
    non-differentiable outputs, an input returned unchanged, integer outputs, in-place rebasing."""
    x = pygrad.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True, device=device)
    w = pygrad.tensor([0.5, -1.5], requires_grad=True, device=device)
    y = (x * w).exp().sum(1)  # saved output (exp), broadcasting
    v = x[0]  # a view
    m, idx = x.max(1)  # two outputs, one an integer tensor
    z = x.clone()
    z.add_(1.0)  # in place on a non-leaf: history rebased
    s = x.sigmoid().t().contiguous().view(4)
    out = y.sum() + (v * 2).sum() + m.sum() + z.pow(2).sum() + s.sum() + (x @ w).sum()
    out.backward()
    names = [out.grad_fn.name()] + [n.name() for n, _ in out.grad_fn.next_functions if n is not None]
    return x.grad.tolist(), w.grad.tolist(), names, idx.tolist(), m.grad_fn.name(), v.grad_fn.name()


@pytest.mark.skipif(not HOT, reason="the compiled fast path is not built")
def test_compiled_apply_matches_python_apply(monkeypatch, device):
    from pygrad.autograd import function

    assert function.Function.__dict__["apply"] is not function._python_apply  # the compiled one is in use
    compiled = _scenario(device)
    monkeypatch.setattr(function.Function, "apply", function._python_apply)  # (the fast path steps aside too)
    assert _scenario(device) == compiled


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_fast_path_matches_general_path(dtype):
    rng = np.random.default_rng(1)
    xn = (rng.random((3, 5)) + 0.2).astype(dtype)  # positive: log, sqrt, ... are defined
    names = [n for n, row in E.UNARY.items() if row[0] is not None and row[2] is not None and row[3] != "bool"]
    assert {"exp", "relu", "sigmoid", "tanh", "neg", "gelu"} <= set(names)
    for name in names:
        outs = []
        for general in (False, True):
            x = pygrad.tensor(xn, requires_grad=True)
            y = E.UNARY_OPS[name].apply(x) if general else E.unary(name, x)
            g = pygrad.tensor(rng.random((3, 5)).astype(dtype)) if not outs else outs[0][3]
            (y * g).sum().backward()
            outs.append((y.detach().numpy(), y.grad_fn.name(), x.grad.numpy(), g, y.dtype, y.stride()))
        (y0, n0, gx0, _, d0, s0), (y1, n1, gx1, _, d1, s1) = outs
        assert n0 == n1 and d0 is d1 and s0 == s1, name
        np.testing.assert_array_equal(y0, y1, err_msg=name)
        np.testing.assert_array_equal(gx0, gx1, err_msg=name)


def test_unary_saved_output_and_inplace_check():
    x = pygrad.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # saves its output
    assert y.grad_fn.name() == "ExpBackward0"
    z = y * 1.0
    with pygrad.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    del z
    r = weakref.ref(x.sigmoid().grad_fn)
    gc.collect()
    assert r() is None  # no cycle output -> node -> output
    t = pygrad.arange(6.0).reshape(2, 3).t()
    assert t.exp().stride() == t.stride() and -t is not None  # a transposed input: the general path
    assert (-pygrad.ones(2, dtype=pygrad.float16)).dtype is pygrad.float16


# ----------------------------------------------------------------------------------------------------------
# The OpenCL twin (``_hotpath._cl_binary`` / ``_cl_unary``): same-shape row-major float operands on one OpenCL
# device are launched from C; everything must equal the general path.  These tests run under the kernel
# shape of the session (``PYGRAD_KERNEL_SHAPE``); ``test_opencl_fast_path_other_kernel_shape`` reruns them
# under the other shape in a subprocess.
# ----------------------------------------------------------------------------------------------------------
def _opencl_ok():
    try:
        return pygrad.opencl.is_available()
    except Exception:
        return False


opencl = pytest.mark.skipif(not (_opencl_ok() and HOT), reason="no OpenCL device, or the fast path is not built")
CL = "opencl"
_BIN = [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide),
        ("div_floor", np.floor_divide), ("fmod", np.fmod), ("atan2", np.arctan2)]


def _cl_fast(opname, *args):
    """The OpenCL fast path's answer (None: it declined).  A first general launch of the op is made first,
    as the fast path only takes over keys the general path has launched."""
    from pygrad import _hotpath

    if len(args) == 1:
        E.UNARY_OPS[opname].apply(args[0].detach())
        return _hotpath.unary(opname, args[0])
    E.BINARY_OPS[opname].apply(args[0].detach(), args[1].detach())
    return _hotpath.binary(opname, *args)


def _shape_kind():
    from pygrad.runtime.opencl.runtime import runtime

    return runtime(0).kernel_shape


def _node_summary(y):
    n = y.grad_fn
    if n is None:
        return None
    saved = [(None if t is None else (tuple(t.shape), v, o)) for t, v, o in (n._saved or [])]
    return (n.name(), n.needs_input_grad, saved, getattr(n, "scalars", None),
            tuple(None if f is None else (f.name(), i) for f, i in n.next_functions), n._input_meta,
            tuple((s, d, str(dev)) for s, d, dev in n._output_meta))


@opencl
@pytest.mark.parametrize("op,np_fn", _BIN)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_opencl_fast_path_matches_general_path(op, np_fn, dtype):
    from pygrad.runtime.opencl import kernels

    rng = np.random.default_rng(2)
    an = rng.standard_normal((3, 4)).astype(dtype)
    bn = (rng.standard_normal((3, 4)) + 3).astype(dtype)
    for grads in ((False, False), (True, False), (False, True), (True, True)):
        for pick in (lambda t: t, lambda t: t[1], lambda t: t[1:2], lambda t: t[2, 3]):  # views with offsets, 0-d
            outs = []
            for fast in (True, False):
                a = pygrad.tensor(an, device=CL, requires_grad=grads[0])
                b = pygrad.tensor(bn, device=CL, requires_grad=grads[1])
                x, y = pick(a), pick(b)
                if fast:
                    n = kernels.launches
                    z = _cl_fast(op, x, y)
                    assert z is not None, (op, grads)  # the fast path took it
                    assert kernels.launches == n + 2  # the warm-up's launch and its own
                else:
                    z = _general(op, x, y)
                g = pygrad.tensor(rng.standard_normal(tuple(z.shape)).astype(dtype), device=CL) if not outs \
                    else outs[0][-1]
                summary = _node_summary(z)
                if z.requires_grad:
                    (z * g).sum().backward()
                outs.append((z.detach().cpu().numpy(), z.dtype, tuple(z.shape), z.stride(), z.device,
                             z.requires_grad, summary, None if a.grad is None else a.grad.cpu().numpy(),
                             None if b.grad is None else b.grad.cpu().numpy(), g))
            f, s = outs
            np.testing.assert_array_equal(f[0], s[0])
            assert f[1:7] == s[1:7], (op, grads)
            for k in (7, 8):
                assert (f[k] is None) == (s[k] is None)
                if f[k] is not None:
                    np.testing.assert_array_equal(f[k], s[k])
            np.testing.assert_allclose(f[0], np_fn(pick(an), pick(bn)), rtol=1e-5, atol=1e-6)


def _cl_unary_names():
    from pygrad import _hotpath  # noqa: F401

    return [n for n, row in E.UNARY.items() if row[0] is not None and row[2] is not None and row[3] in ("float", "same")]


@opencl
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_opencl_unary_fast_path_matches_general_path(dtype):
    rng = np.random.default_rng(3)
    xn = (rng.random((3, 5)) + 0.2).astype(dtype)
    taken = []
    for name in _cl_unary_names():
        outs = []
        for fast in (True, False):
            x = pygrad.tensor(xn, device=CL, requires_grad=True)
            try:
                y = _cl_fast(name, x) if fast else E.UNARY_OPS[name].apply(x)
            except NotImplementedError:  # no OpenCL kernel for this op: the general path says so
                y = None
            if fast and y is not None:
                taken.append(name)
            if y is None:
                outs.append(None)
                continue
            g = pygrad.tensor(rng.random((3, 5)).astype(dtype), device=CL) if not outs or outs[0] is None \
                else outs[0][-1]
            summary = _node_summary(y)
            (y * g).sum().backward()
            outs.append((y.detach().cpu().numpy(), y.dtype, y.stride(), summary, x.grad.cpu().numpy(), g))
        if outs[0] is None:
            continue
        (y0, d0, s0, n0, gx0, _), (y1, d1, s1, n1, gx1, _) = outs
        assert d0 is d1 and s0 == s1 and n0 == n1, name
        np.testing.assert_array_equal(y0, y1, err_msg=name)
        np.testing.assert_array_equal(gx0, gx1, err_msg=name)
    assert {"exp", "relu", "sigmoid", "tanh", "neg"} <= set(taken)


@opencl
def test_opencl_fast_path_declines_what_it_does_not_cover():
    from pygrad import _hotpath

    f = pygrad.ones(2, 3, device=CL)
    assert _cl_fast("add", f, f) is not None
    assert _hotpath.binary("add", f, pygrad.ones(3, device=CL)) is None  # broadcasting
    assert _hotpath.binary("add", f, True) is None and _hotpath.binary("add", np.float32(2), f) is None  # (bool, NumPy)
    assert _hotpath.binary("add", f.t(), 2.0) is None  # a number with a tensor that is not row-major
    assert _hotpath.binary("add", f, pygrad.ones(2, 3, device=CL, dtype=pygrad.float64)) is None  # mixed dtypes
    assert _hotpath.binary("add", f.t(), f.t()) is None  # not row-major
    assert _hotpath.binary("add", f, pygrad.ones(2, 3)) is None  # two devices: the general path raises
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        f + pygrad.ones(2, 3)
    i = pygrad.ones(2, 3, device=CL, dtype=pygrad.int64)
    assert (i + i).dtype is pygrad.int64 and _hotpath.binary("add", i, i) is None
    e = pygrad.ones(0, 3, device=CL)
    assert _hotpath.binary("add", e, e) is None and (e + e).shape == (0, 3)
    with pytest.raises(RuntimeError, match="The size of tensor a"):
        f + pygrad.ones(4, device=CL)
    big = pygrad.ones(2048, device=CL)
    assert (big + big).tolist() == [2.0] * 2048
    if _shape_kind() == "gpu":  # the GPU shape's vectorised ew_contig4 stays with the general path
        assert _hotpath.binary("add", big, big) is None
    else:
        assert _hotpath.binary("add", big, big) is not None


@opencl
def test_opencl_fast_path_inplace_change_of_saved_operand_is_caught():
    a = pygrad.ones(3, device=CL, requires_grad=True)
    b = pygrad.full((3,), 2.0, device=CL)
    assert _cl_fast("mul", a, b) is not None
    y = a * b  # saves b
    with pygrad.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x = pygrad.tensor([0.5, 1.0], device=CL, requires_grad=True)
    assert _cl_fast("exp", x) is not None
    e = x.exp()  # saves its output
    with pygrad.no_grad():
        e.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()
    r = weakref.ref(x.sigmoid().grad_fn)
    gc.collect()
    assert r() is None  # no cycle output -> node -> output


@opencl
def test_opencl_profiler_and_wrappers_see_fast_ops(monkeypatch):
    from pygrad.runtime.opencl import kernels

    a, b = pygrad.ones(4, device=CL, requires_grad=True), pygrad.ones(4, device=CL)
    assert _cl_fast("add", a, b) is not None
    with profiler.profile() as prof:
        (a + b).exp()
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["Add"].count == 1 and rows["Add"].launches == 1 and rows["Exp"].launches == 1
    seen = []
    original = kernels._TypedKernel.__call__

    def call(self, *args):
        seen.append(self.name)
        return original(self, *args)

    monkeypatch.setattr(kernels._TypedKernel, "__call__", call)
    assert (a + b).tolist() == [2.0] * 4
    assert seen == ["ew_contig"]
    monkeypatch.undo()
    n = kernels.launches
    (a + b).sum().backward()  # the fast path again: launches still counted
    assert kernels.launches > n + 1


@opencl
def test_opencl_fast_path_in_a_forked_child_refuses(monkeypatch):
    from pygrad import _hotpath
    from pygrad.runtime.opencl import runtime

    a = pygrad.ones(3, device=CL)
    assert _cl_fast("add", a, a) is not None
    monkeypatch.setitem(runtime._state, "forked", True)  # what os.register_at_fork sets in a child
    assert _hotpath.binary("add", a, a) is None
    with pytest.raises(RuntimeError, match="forked subprocess"):
        a + a


@opencl
def test_opencl_deferred_error_survives_fast_ops():
    x = pygrad.arange(3.0, device=CL)
    assert _cl_fast("add", x, x) is not None
    y = x[pygrad.tensor([0, 5, 1], device=CL)]  # a bad index: recorded on the device, no wait
    z = x + x
    for _ in range(3):
        z = z * z
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        z.sum().item()
    del y


@opencl
def test_opencl_fast_path_threads():
    errors = []
    base = [pygrad.full((257,), float(i), device=CL) for i in range(4)]
    assert _cl_fast("add", base[0], base[0]) is not None

    def worker(i):
        try:
            t = base[i]
            for _ in range(200):
                y = t + t
                u = y.relu()
            assert u.tolist() == [2.0 * i] * 257
        except Exception as e:  # (reported by the main thread)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@opencl
def test_opencl_fast_path_other_kernel_shape():
    """The tests above under the kernel shape this session does not use (the CPU shape on PoCL: also the GPU one)."""
    import os
    import subprocess
    import sys

    other = "gpu" if _shape_kind() == "cpu" else "cpu"
    env = dict(os.environ, PYGRAD_KERNEL_SHAPE=other)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__, "-k",
                        "opencl and not other_kernel_shape"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout


@opencl
def test_warm_launches_queued_from_c_and_what_falls_back():
    """``_TypedKernel.__call__`` queues warm launches through ``_hotpath.launch``; an argument it cannot set
    exactly as pyopencl would, or a profiling queue, answers False (the caller launches through pyopencl)."""
    import pyopencl as cl

    from pygrad import _hotpath
    from pygrad.runtime.opencl import kernels
    from pygrad.runtime.opencl.runtime import runtime

    from pygrad.runtime.opencl.backend import _cl_entry_points

    if _cl_entry_points() is None:
        pytest.skip("the OpenCL loader's entry points were not found here: every launch goes through pyopencl")
    assert kernels._raw_launch is _hotpath.launch
    x = pygrad.arange(12.0, device=CL).reshape(3, 4)
    seen = {}
    original = kernels._TypedKernel.__call__

    def spy(self, queue, gs, ls, *args):
        seen.setdefault(self.name, (self, queue, gs, ls, args))
        return original(self, queue, gs, ls, *args)

    kernels._TypedKernel.__call__ = spy
    try:
        y = (x.t() + 1.0).sum(0)  # a strided launch (a by-value Layout struct), a scalar operand, a reduction
        y.tolist()
    finally:
        kernels._TypedKernel.__call__ = original
    assert y.tolist() == [10.0, 26.0, 42.0]
    assert (x.t() + 1.0).sum(0).tolist() == [10.0, 26.0, 42.0]  # warm now: from C
    tk, queue, gs, ls, args = next(v for k, v in seen.items() if k.startswith("ew_"))
    kinds = tk.__dict__["_kinds"]
    assert _hotpath.launch(tk.kernel, kinds, queue, gs, ls, args) is True
    bad = list(args)
    i8 = kinds.index(_hotpath.arg_kinds([1]))
    bad[i8] = 1.5  # a float for an int64 argument: pyopencl decides (and raises)
    assert _hotpath.launch(tk.kernel, kinds, queue, gs, ls, tuple(bad)) is False
    bad[i8] = 2 ** 70  # does not fit
    assert _hotpath.launch(tk.kernel, kinds, queue, gs, ls, tuple(bad)) is False
    bad = list(args)
    bad[0] = "not a buffer"
    assert _hotpath.launch(tk.kernel, kinds, queue, gs, ls, tuple(bad)) is False
    assert _hotpath.launch(tk.kernel, kinds, queue, gs, ls, args[:-1]) is False  # wrong count
    pq = cl.CommandQueue(runtime(0).context, properties=cl.command_queue_properties.PROFILING_ENABLE)
    assert _hotpath.launch(tk.kernel, kinds, pq, gs, ls, args) is False  # the profiler needs events
    assert _hotpath.arg_kinds([np.complex64(1)]) is None  # not handled: that kernel always goes through pyopencl
    pygrad.opencl.synchronize()


@opencl
def test_opencl_gradient_accumulation_in_place():
    """``leaf.grad += g`` on OpenCL is one launch into the gradient (``_hotpath.add_into``), bumping its version."""
    from pygrad import _hotpath
    from pygrad.runtime.opencl import kernels

    a = pygrad.tensor([1.0, 2.0, 3.0], device=CL, requires_grad=True)
    w = pygrad.tensor([0.5, -1.0, 2.0], device=CL)
    _cl_fast("add", a.detach(), w)
    (a * w).sum().backward()  # the first gradient is stored
    grad = a.grad
    v = grad._storage.version
    n = kernels.launches
    assert _hotpath.add_into(grad, w) is True and kernels.launches == n + 1
    assert grad._storage.version == v + 1 and grad.tolist() == [1.0, -2.0, 4.0]
    (a * w).sum().backward()  # a row-major gradient
    a.sum().backward()  # one value broadcast (stride 0)
    assert a.grad is grad and grad.tolist() == [2.5, -2.0, 7.0]
    assert _hotpath.add_into(grad, grad) is False  # the same memory: add_ does it
    assert _hotpath.add_into(grad, pygrad.ones(3, device=CL, dtype=pygrad.float64)) is False
    assert _hotpath.add_into(grad, pygrad.ones(3)) is False  # another device
    assert _hotpath.add_into(grad, pygrad.ones(6, device=CL)[::2]) is False  # strided: add_ does it
    assert grad.tolist() == [2.5, -2.0, 7.0]
    # the same numbers through add_ (the general path)
    b = pygrad.tensor([1.0, 2.0, 3.0], device=CL, requires_grad=True)
    with profiler.profile():  # (wrapped Function.apply: add_into steps aside)
        for _ in range(3):  # (the first, the add_into by hand above, the second)
            (b * w).sum().backward()
        b.sum().backward()
    assert b.grad.tolist() == grad.tolist()


@opencl
@pytest.mark.parametrize("op,np_fn", _BIN)
def test_opencl_fast_path_with_a_python_number(op, np_fn):
    """A tensor and a Python float or int (either side): the general path's cached device scalar, step 0."""
    rng = np.random.default_rng(4)
    xn = (rng.standard_normal((2, 3)) + 3).astype("float32")
    for scalar, left in ((2.5, False), (-3, True), (2, False), (0.1, True)):
        outs = []
        for fast in (True, False):
            x = pygrad.tensor(xn, device=CL, requires_grad=True)
            args = (scalar, x) if left else (x, scalar)
            if fast:
                E.BINARY_OPS[op].apply(*(a.detach() if hasattr(a, "detach") else a for a in args))
                from pygrad import _hotpath

                z = _hotpath.binary(op, *args)
                assert z is not None, (op, scalar, left)
            else:
                z = _general(op, *args)
            summary = _node_summary(z)
            z.sum().backward()
            outs.append((z.detach().cpu().numpy(), z.dtype, z.stride(), summary, x.grad.cpu().numpy()))
        (z0, d0, s0, n0, g0), (z1, d1, s1, n1, g1) = outs
        np.testing.assert_array_equal(z0, z1)
        np.testing.assert_array_equal(g0, g1)
        assert d0 is d1 is pygrad.float32 and s0 == s1 and n0 == n1, (op, scalar, left)
        want = np_fn(np.float32(scalar), xn) if left else np_fn(xn, np.float32(scalar))
        np.testing.assert_allclose(z0, want, rtol=1e-5, atol=1e-6)
    from pygrad import _hotpath

    x = pygrad.ones(3, device=CL)
    assert _hotpath.binary(op, x, True) is None and _hotpath.binary(op, x, 2 ** 60) is None
    assert _hotpath.binary(op, x, np.float64(2.0)) is None  # a NumPy scalar: the general path


@opencl
def test_opencl_fast_path_binds_the_original_launch_when_first_used_under_a_wrapper():
    """The first OpenCL op of a process may run while something wraps ``_TypedKernel.__call__`` (a benchmark
    counting launches, the profiler): the fast path binds the original and takes over once it is back."""
    import subprocess
    import sys

    script = """
import pygrad
from pygrad import _hotpath
from pygrad.runtime.opencl import kernels
call = kernels._TypedKernel.__call__
def spy(self, *args):
    return call(self, *args)
kernels._TypedKernel.__call__ = spy
a = pygrad.ones(4, device="opencl")
b = a + a
assert _hotpath.binary("add", a, a) is None
kernels._TypedKernel.__call__ = call
assert _hotpath.binary("add", a, a) is not None
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
