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
