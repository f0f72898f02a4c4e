"""The compiled CPU im2col / col2im loops (``_core.im2col``, ``_core.col2im``) against plain NumPy loops."""
import numpy as np
import pytest

from pygrad import _core

CASES = [((2, 3, 9, 8), (3, 2), (1, 2), (1, 0), (2, 1)), ((2, 6, 14, 14), (5, 5), (1, 1), (0, 0), (1, 1)),
         ((2, 1, 28, 28), (5, 5), (1, 1), (2, 2), (1, 1)), ((1, 2, 5, 5), (3, 3), (2, 2), (3, 3), (3, 2)),
         ((1, 1, 3, 3), (3, 3), (1, 1), (4, 4), (1, 1)), ((1, 1, 1, 7), (1, 3), (1, 1), (0, 1), (1, 3))]


def ref_im2col(x, k, d, p, s, pad):
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.full((n, c, k[0], k[1], oh, ow), pad, x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            for y in range(oh):
                for xx in range(ow):
                    hh, ww = y * s[0] - p[0] + i * d[0], xx * s[1] - p[1] + j * d[1]
                    if 0 <= hh < h and 0 <= ww < w:
                        out[:, :, i, j, y, xx] = x[:, :, hh, ww]
    return out


def ref_col2im(cols, h, w, d, p, s):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for xx in range(ow):
                    hh, ww = y * s[0] - p[0] + i * d[0], xx * s[1] - p[1] + j * d[1]
                    if 0 <= hh < h and 0 <= ww < w:
                        out[:, :, hh, ww] += cols[:, :, i, j, y, xx]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k,d,p,s", CASES)
def test_im2col_and_col2im(shape, k, d, p, s, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    cols = _core.im2col(x, k, d, p, s, -1.5)
    np.testing.assert_array_equal(cols, ref_im2col(x, k, d, p, s, -1.5))
    g = rng.standard_normal(cols.shape).astype(dtype)
    np.testing.assert_allclose(_core.col2im(g, shape[2], shape[3], d, p, s), ref_col2im(g, shape[2], shape[3], d, p, s),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_read_only_input_and_bad_windows():
    x = np.broadcast_to(np.ones((1, 1, 4, 4), np.float32), (2, 1, 4, 4))
    assert _core.im2col(np.ascontiguousarray(x), (3, 3), (1, 1), (0, 0), (1, 1)).shape == (2, 1, 3, 3, 2, 2)
    ro = np.ones((1, 1, 4, 4), np.float32)
    ro.flags.writeable = False
    assert _core.im2col(ro, (2, 2), (1, 1), (0, 0), (2, 2)).shape == (1, 1, 2, 2, 2, 2)
    with pytest.raises(RuntimeError, match="window larger"):
        _core.im2col(ro, (5, 5), (1, 1), (0, 0), (1, 1))
    with pytest.raises(RuntimeError, match="bad window"):
        _core.im2col(ro, (2, 2), (1, 1), (0, 0), (0, 1))
    with pytest.raises(RuntimeError, match="do not match"):
        _core.col2im(np.zeros((1, 1, 2, 2, 2, 2), np.float32), 4, 4, (1, 1), (0, 0), (1, 1))
