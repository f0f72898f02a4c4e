"""The CPU backend's compiled kernels (``_vmath``, ``_core``) and fused CPU paths give the same results as the
NumPy / step-by-step code they replace, forward and backward."""
import numpy as np
import pytest

import pygrad
from pygrad import _vmath


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threshold_backward_matches_numpy_where(dtype):
    rng = np.random.default_rng(0)
    g = rng.standard_normal(1037).astype(dtype)
    y = rng.standard_normal(1037).astype(dtype)
    y[:6] = [np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-30]
    g[6:9] = [np.nan, np.inf, -np.inf]
    out = np.empty_like(g)
    assert _vmath.threshold_backward(g, y, out)
    np.testing.assert_array_equal(out, np.where(y <= 0, 0, g))
    assert not _vmath.threshold_backward(g[::2], y[::2], np.empty(519, dtype))  # strided: the caller's NumPy path
    assert not _vmath.threshold_backward(g.astype(np.float16), y.astype(np.float16), np.empty(1037, np.float16))


def test_relu_backward_on_strided_and_broadcast_operands():
    """The compiled pass only takes dense same-shape operands; the rest still go through NumPy."""
    x = pygrad.randn(6, 5).t().requires_grad_()
    w = pygrad.randn(5, 6)
    (x.relu() * w).sum().backward()
    xa = x.detach().numpy()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(xa > 0, w.numpy(), 0))
