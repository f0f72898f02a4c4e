"""Float32 log, log2, log10, log1p, erf and gelu on OpenCL devices against float64 references, in units in the
last place of the float32 result.  The CPU kernel shape computes them in plain arithmetic (``cl_kernels/common.h``:
PoCL's library functions are scalar calls, 10-50x slower than its vectorised exp); the GPU shape calls the
device's library.  Both must be as accurate as a float32 library function (about 1 ulp) and agree on every
special value (zeros of both signs, subnormals, infinities, NaN, negative arguments)."""
import math

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F

pytestmark = pytest.mark.skipif(not torch.opencl.is_available(), reason="needs an OpenCL device")

_rng = np.random.default_rng(7)
_SPECIAL = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 1e-45, -1e-45, 1.2e-38, 1e-40, 3.4e38, -3.4e38,
            0.5, -0.5, 0.49999997, 0.84, -0.84, 0.8399999, 1e-30, -1e-30, 5.0, -9.0, 2.0 ** -24, -0.999999]
_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _args(kind):
    if kind == "positive":  # the whole float range, and around 1
        x = np.concatenate([np.exp(_rng.uniform(-103, 88.7, 40000)), _rng.uniform(0, 2, 20000)])
    elif kind == "log1p":
        x = np.concatenate([np.exp(_rng.uniform(-90, 88, 20000)), -np.exp(_rng.uniform(-90, 0, 20000)),
                            _rng.uniform(-1, 1, 20000)])
    else:  # erf, gelu: around 0 and its tails
        x = np.concatenate([_rng.normal(0, 2, 20000), _rng.uniform(-1, 1, 20000), np.exp(_rng.uniform(-40, 2, 10000)),
                            -np.exp(_rng.uniform(-40, 2, 10000))])
    return np.concatenate([x, _SPECIAL]).astype(np.float32)


def _gelu64(x):
    return x * 0.5 * (1 + _ERF(x / math.sqrt(2)))


# name, function of a pygrad tensor, float64 reference, arguments, largest error (ulp) of pygrad's CPU-shape code,
# and of a device library (the GPU shape): OpenCL's limits (log 3, log2 3, log10 3, log1p 2, erf 16 ulp)
CASES = [
    ("log", torch.log, np.log, "positive", 1.0, 3),
    ("log2", torch.log2, np.log2, "positive", 1.0, 3),
    ("log10", torch.log10, np.log10, "positive", 1.0, 3),
    ("log1p", torch.log1p, np.log1p, "log1p", 1.0, 2),
    ("erf", torch.erf, _ERF, "erf", 1.0, 16),
    ("gelu", F.gelu, _gelu64, "erf", 1.5, 16),  # (plus the cancellation of 1 + erf in float, see below)
]


@pytest.mark.parametrize("name, fn, ref, kind, ulps, lib_ulps", CASES, ids=[c[0] for c in CASES])
def test_float_math_on_opencl(name, fn, ref, kind, ulps, lib_ulps):
    from pygrad.runtime import get_backend

    if get_backend(torch.device("opencl")).rt.kernel_shape != "cpu":
        ulps = lib_ulps
    x = _args(kind)
    got = fn(torch.tensor(x, device="opencl")).cpu().numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    want32 = want.astype(np.float32)
    same_class = (np.isnan(got) == np.isnan(want32)) & (np.isinf(got) == np.isinf(want32))
    assert same_class.all(), [(float(a), float(g), float(w)) for a, g, w in zip(x[~same_class], got[~same_class], want32[~same_class])][:8]
    inf = np.isinf(want32)
    np.testing.assert_array_equal(got[inf], want32[inf])
    fin = np.isfinite(want32)
    err = np.abs(got[fin] - want[fin])
    if name == "gelu":  # x (1 + erf(x / sqrt 2)) / 2 in float: 1 + erf loses ~6e-8 |x| to cancellation (PyTorch too)
        err = np.maximum(err - 6e-8 * np.abs(x[fin]), 0)
    err = err / np.spacing(np.abs(want32[fin])).astype(np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= ulps, (name, float(x[fin][worst]), float(got[fin][worst]), float(want[fin][worst]), err[worst])
    zero = fin & (want32 == 0)  # signed zeros: log1p(-0.) = -0., erf(-0.) = -0.
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want32[zero]))


def test_float_pow_on_opencl():
    """x ** y for exponents that are not computed without pow (ops/elementwise.py special-cases 2, 0.5, ...):
    within 1 ulp of float64 on the CPU shape (OpenCL's 16 on a library), C99's special cases exactly: negative x
    to a non-integer power is NaN, odd integer powers keep the sign (of -0. too), x ** 0 and 1 ** y are 1 even
    for NaN, (-1) ** +-inf is 1, zeros and infinities to positive and negative powers."""
    from pygrad.runtime import get_backend

    ulps = 1.0 if get_backend(torch.device("opencl")).rt.kernel_shape == "cpu" else 16
    vals = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, math.inf, -math.inf, math.nan, 1e-40, -1e-40, 1e30, 7.5]
    xs, ys = np.meshgrid(np.array(vals + [-3.0], np.float32), np.array(vals + [-3.0, 1.7, 2.0 ** 24 + 2, 101.0], np.float32))
    x = np.concatenate([xs.ravel(), np.abs(_rng.normal(0, 3, 30000)), -np.abs(_rng.normal(0, 3, 2000))]).astype(np.float32)
    y = np.concatenate([ys.ravel(), _rng.normal(0, 4, 30000), np.round(_rng.normal(0, 4, 2000))]).astype(np.float32)
    got = torch.pow(torch.tensor(x, device="opencl"), torch.tensor(y, device="opencl")).cpu().numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64))
        want32 = want.astype(np.float32)
    same_class = (np.isnan(got) == np.isnan(want32)) & (np.isinf(got) == np.isinf(want32))
    assert same_class.all(), [(float(a), float(b), float(g), float(w)) for a, b, g, w in
                              zip(x[~same_class], y[~same_class], got[~same_class], want32[~same_class])][:8]
    exact = np.isinf(want32) | (want32 == 0)
    np.testing.assert_array_equal(got[exact], want32[exact])
    np.testing.assert_array_equal(np.signbit(got[exact]), np.signbit(want32[exact]))
    # (exponents 2 and 3 are multiplied out, as PyTorch's kernels do: x * x * x rounds twice, up to ~1.5 ulp)
    fin = np.isfinite(want32) & (want32 != 0) & ~np.isin(y, [2.0, 3.0])
    err = np.abs(got[fin] - want[fin]) / np.spacing(np.abs(want32[fin])).astype(np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= ulps, (float(x[fin][worst]), float(y[fin][worst]), float(got[fin][worst]), err[worst])
