"""The reduction kernels of issue 13 under Oclgrind (out-of-bounds accesses, local-memory races), both kernel
shapes, on small cases: column reductions (reduce_colblk_k and reduce_cols_wg_k, each with its chunks;
argreduce_cols_k, argreduce_cols_wg_k + argmerge_k), var/std/var_mean (var_k, var_cols_k / var_cols_wg_k, var_merge_k), and long rows split into chunks (rr_rows + rr_fin_rows, sm_stat/sm_apply
and their backward, argreduce + argmerge_k).  Oclgrind has one compute unit, where the CPU shape would
not split a row: the script forces the chunk counts down so that the chunked kernels run.  Each result
is also checked against NumPy."""
import os

import pytest

from helpers import run_on_oclgrind

SCRIPT = r"""
import sys
import numpy as np
import pygrad
from pygrad.runtime.opencl import backend, backend_ops  # (backend first: it installs backend_ops)

assert pygrad.opencl.is_available()
backend_ops._cpu_row_chunks = lambda self, nrows, n, min_chunk=0: 3 if n >= 16 else 1  # chunks on 1 CU
rng = np.random.default_rng(0)

def t(a):
    return pygrad.tensor(a, device="opencl")

def close(got, want, tol=2e-5):
    g = got.detach().cpu().numpy()
    assert np.allclose(g, want, rtol=tol, atol=tol), (g, want)

m = rng.standard_normal((70, 37)).astype(np.float32)
close(t(m).sum(0), m.sum(0))
close(t(m).amax(0), m.max(0))
w = rng.standard_normal((530, 1)).astype(np.float32)  # tall and narrow: row chunks, second launch
close(t(w).sum(0), w.sum(0))
b3 = rng.standard_normal((3, 1031, 5)).astype(np.float32)  # outer kept dim, ragged last chunk (GPU shape: 4)
close(t(b3).sum(1), b3.sum(1), 1e-4)
close(t(b3).amin(1), b3.min(1))
assert (t(b3).argmin(1).cpu().numpy() == b3.argmin(1)).all()  # (GPU shape: argreduce_cols_wg_k + argmerge_k)
assert (t(w).argmax(0).cpu().numpy() == w.argmax(0)).all()
b4 = rng.standard_normal((2, 3, 300)).astype(np.float32)  # batch norm's layout: GPU shape, run by run
close(t(b4).sum((0, 2)), b4.sum((0, 2)), 1e-4)
close(t(b4).var((0, 2)), b4.var((0, 2), ddof=1), 1e-4)
close(t(b3).var(1), b3.var(1, ddof=1), 1e-4)
v, mu = pygrad.std_mean(t(b3), 1)
close(v, b3.std(1, ddof=1), 1e-4); close(mu, b3.mean(1), 1e-4)
close(t(m).var(0), m.var(0, ddof=1))
close(t(m).std(1), m.std(1, ddof=1))
v, mu = pygrad.var_mean(t(m), 1, keepdim=True)
close(v, m.var(1, ddof=1, keepdims=True)); close(mu, m.mean(1, keepdims=True))
r = rng.standard_normal(4097).astype(np.float32)  # GPU shape: 4 chunks of its work-group kernels
close(t(r).var(), r.var(ddof=1))
close(t(r).logsumexp(0), np.log(np.exp(r - r.max()).sum()) + r.max())
close(t(r).norm(), np.linalg.norm(r))
for log in (0, 1):
    x = t(r).requires_grad_()
    y = x.log_softmax(0) if log else x.softmax(0)
    e = np.exp(r - r.max()); e /= e.sum()
    close(y, np.log(e) if log else e)
    g = rng.standard_normal(r.size).astype(np.float32)
    y.backward(t(g))
    close(x.grad, (g - e * g.sum()) if log else e * (g - (g * e).sum()))
assert t(r).argmax().item() == r.argmax() and t(r).argmin().item() == r.argmin()
rs = t(np.stack([r, -r], 1))[:, 0]  # a strided long row
close(rs.softmax(0), np.exp(r - r.max()) / np.exp(r - r.max()).sum())
assert rs.argmax().item() == r.argmax()
vals, idx = t(r).max(0)
assert idx.item() == r.argmax() and vals.item() == r.max()
print("ok", pygrad.opencl.get_device_name())
"""


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
@pytest.mark.parametrize("shape", ["gpu", "cpu"])
def test_reduction_kernels_under_oclgrind(shape, tmp_path):
    r, report = run_on_oclgrind(SCRIPT, tmp_path, shape=shape)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-4000:] + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]
