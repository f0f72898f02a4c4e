"""Issue 11: a long Adam run on OpenCL holds steady device memory (the scalar cache is bounded)."""
import numpy as np
import pytest

import pygrad
from conftest import DEVICES


@pytest.mark.slow
@pytest.mark.skipif("opencl" not in DEVICES, reason="needs an OpenCL device")
def test_adam_2000_steps_memory_flat_after_warmup():
    rng = np.random.default_rng(0)
    dev = "opencl"
    model = pygrad.nn.Sequential(pygrad.nn.Linear(8, 16), pygrad.nn.ReLU(), pygrad.nn.Linear(16, 1)).to(dev)
    opt = pygrad.optim.Adam(model.parameters(), lr=1e-3)
    x = pygrad.from_numpy(rng.standard_normal((32, 8)).astype(np.float32)).to(dev)
    y = pygrad.from_numpy(rng.standard_normal((32, 1)).astype(np.float32)).to(dev)
    samples = {}
    for step in range(1, 2001):
        opt.zero_grad()
        loss = pygrad.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            pygrad.opencl.synchronize()
            samples[step] = pygrad.opencl.memory_allocated()
    assert np.isfinite(loss.item())
    warm = samples[400]
    grew = {s: m for s, m in samples.items() if s > 400 and m > warm}
    assert not grew, f"memory_allocated grew after warm-up ({warm} bytes at step 400): {grew}"
    pygrad.opencl.empty_cache()
    assert pygrad.opencl.memory_allocated() <= warm
