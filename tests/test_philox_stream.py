"""The OpenCL random kernels (``cl_kernels/random.cl``) against Philox4x32-10 written out in NumPy: word w of a
request is word w % 4 of block offset + w // 4 under the generator's key, and uniform, normal, randint and the
dropout mask are the documented functions of those words.  Both kernel shapes (the CPU shape's loop over
blocks is vectorised; every block's values must still be the same words)."""
import numpy as np
import pytest

import pygrad as torch

pytestmark = pytest.mark.skipif(not torch.opencl.is_available(), reason="needs an OpenCL device")

M0, M1, W0, W1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)


def philox(counters, key):
    """Philox4x32-10 of 64-bit counters (as (low, high, 0, 0)) under key (k0, k1): an array of 4 words each."""
    c = np.asarray(counters, np.uint64)
    x, y = (c & 0xFFFFFFFF).astype(np.uint32), (c >> np.uint64(32)).astype(np.uint32)
    z, w = np.zeros_like(x), np.zeros_like(x)
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    for _ in range(10):
        p0, p1 = M0 * x.astype(np.uint64), M1 * z.astype(np.uint64)
        x, y, z, w = ((p1 >> np.uint64(32)).astype(np.uint32) ^ y ^ k0, p1.astype(np.uint32),
                      (p0 >> np.uint64(32)).astype(np.uint32) ^ w ^ k1, p0.astype(np.uint32))
        k0, k1 = k0 + W0, k1 + W1
    return np.stack([x, y, z, w], axis=1).ravel()


def words(gen_seed, counter, n):
    key = (gen_seed & 0xFFFFFFFF, (gen_seed >> 32) & 0xFFFFFFFF)
    return philox(counter + np.arange(-(-n // 4)), key)[:n]


def u01(w):
    return (w >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 7, 1000, 4097])
def test_device_stream_is_philox(n):
    from pygrad.runtime import get_backend

    be = get_backend(torch.device("opencl"))
    gen = torch.Generator()
    gen.manual_seed(0x1234_5678_9ABC)
    with np.errstate(over="ignore"):
        c = gen._counter
        got = be.random("uniform", (n,), torch.float32, 0.0, 1.0, gen).cpu().numpy()
        np.testing.assert_array_equal(got, u01(words(gen.initial_seed(), c, n)))
        c = gen._counter
        got = be.random("randint", (n,), torch.int64, -3, 1000003, gen).cpu().numpy()
        w = words(gen.initial_seed(), c, 2 * n).astype(np.uint64)
        np.testing.assert_array_equal(got, -3 + ((w[0::2] << np.uint64(32) | w[1::2]) % np.uint64(1000006)).astype(np.int64))
        c = gen._counter
        got = be.random("dropout", (n,), torch.float32, 0.3, 0.7, gen).cpu().numpy()
        keep = u01(words(gen.initial_seed(), c, n)) >= np.float32(0.3)
        np.testing.assert_array_equal(got, np.where(keep, np.float32(1) / np.float32(0.7), np.float32(0)))
        c = gen._counter
        got = be.random("normal", (n,), torch.float32, 0.0, 1.0, gen).cpu().numpy()
        w = words(gen.initial_seed(), c, n + 1 + (n + 1) % 2)
        r = np.sqrt(-2 * np.log(u01(w[0::2]).astype(np.float64) + 0.5 / 16777216.0))
        t = 2 * np.pi * u01(w[1::2]).astype(np.float64)
        want = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).ravel()[:n]
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)  # (log, cospi, sinpi of the device)
