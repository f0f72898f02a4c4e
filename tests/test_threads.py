"""Issue 11, threads: grad mode, inference mode and the default device are thread-local, and the OpenCL
runtime is safe to use from several threads at once.

Each workload runs in a subprocess (a race in a driver can kill the interpreter) and compares what the
threads computed with the same work run one job after another: the results must be equal.
"""
import os
import subprocess
import sys
import threading

import pytest

import pygrad
from conftest import DEVICES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOAD = r'''
import sys, threading
import numpy as np
import pygrad as torch

DEV, MODE, STEPS = sys.argv[1], sys.argv[2], int(sys.argv[3])


def make_job(seed, kind):
    """A model, its data and what to do: 'train' (SGD/Adam steps) or 'eval' (no_grad forward passes)."""
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(p.shape).astype(np.float32) * 0.3))
    model.to(DEV)
    x = torch.from_numpy(rng.standard_normal((32, 8)).astype(np.float32)).to(DEV)
    y = torch.from_numpy(rng.integers(0, 3, 32)).to(DEV)
    return {"model": model, "x": x, "y": y, "kind": kind, "seed": seed}


def run(job, errors):
    model, x, y = job["model"], job["x"], job["y"]
    out = []
    try:
        if job["kind"] == "train":
            opt = (torch.optim.Adam if job["seed"] % 2 else torch.optim.SGD)(model.parameters(), lr=0.01)
            for _ in range(STEPS):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                out.append(float(loss.item()) if _ % 50 == 0 else None)
            out.append([p.detach().cpu().numpy().copy() for p in model.parameters()])
        else:
            for i in range(STEPS):
                with torch.no_grad():
                    r = model(x + i * 0.01)
                    if r.requires_grad or torch.is_grad_enabled():
                        raise RuntimeError("grad mode leaked into the no_grad thread")
                out.append(r.sum().item() if i % 50 == 0 else None)
        job["grad_mode_after"] = torch.is_grad_enabled()
    except BaseException as e:
        errors.append(f"{job['kind']} {job['seed']}: {type(e).__name__}: {e}")
    job["out"] = out


kinds = {"train4": ["train"] * 4, "train_eval": ["train", "eval"], "mixed4": ["train", "eval", "train", "eval"]}[MODE]
seq = [make_job(s, k) for s, k in enumerate(kinds)]
par = [make_job(s, k) for s, k in enumerate(kinds)]
errors = []
for job in seq:
    run(job, errors)
threads = [threading.Thread(target=run, args=(job, errors)) for job in par]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
for a, b in zip(seq, par):
    assert len(a["out"]) == len(b["out"]), (len(a["out"]), len(b["out"]))
    for u, v in zip(a["out"], b["out"]):
        if isinstance(u, list):
            for p, q in zip(u, v):
                np.testing.assert_array_equal(p, q)
        else:
            assert u == v, (a["kind"], u, v)
    assert b["grad_mode_after"] is True
assert torch.is_grad_enabled(), "grad mode was left off in the main thread"
print("THREADS OK", MODE, DEV)
'''


def _run(device, mode, steps, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", WORKLOAD, device, mode, str(steps)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    assert p.returncode == 0 and f"THREADS OK {mode} {device}" in p.stdout, \
        f"rc={p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"


@pytest.mark.parametrize("mode", ["train4", "train_eval"])
def test_threads_train_and_evaluate_like_sequential(device, mode):
    """4 threads training their own models; a trainer beside a no_grad evaluator (issue 11's repros)."""
    _run(device, mode, 120)


@pytest.mark.slow
def test_opencl_threads_few_hundred_steps():
    """4 threads x (train | evaluate), 300 steps each, on one OpenCL device: equal to sequential."""
    if "opencl" not in DEVICES:
        pytest.skip("no OpenCL device")
    _run("opencl", "mixed4", 300)


def test_first_use_of_opencl_from_several_threads_at_once():
    """Creating the context/queue/programs from 4 threads at once (was INVALID_CONTEXT)."""
    if "opencl" not in DEVICES:
        pytest.skip("no OpenCL device")
    code = r'''
import threading
import pygrad as torch
barrier = threading.Barrier(4)
res, errs = [None] * 4, []
def work(i):
    try:
        barrier.wait()
        x = torch.arange(10.0, device="opencl") * (i + 1)
        res[i] = float(x.sum().item())
    except BaseException as e:
        errs.append(repr(e))
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
assert not errs, errs
assert res == [45.0 * (i + 1) for i in range(4)], res
print("FIRST USE OK")
'''
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert p.returncode == 0 and "FIRST USE OK" in p.stdout, f"rc={p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"


def _in_thread(fn):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # pragma: no cover - reported below
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_grad_mode_is_thread_local():
    with pygrad.no_grad():
        assert not pygrad.is_grad_enabled()
        assert _in_thread(pygrad.is_grad_enabled) is True  # a new thread starts with grad mode on
    _in_thread(lambda: pygrad.set_grad_enabled(False))  # bare call: changes that thread only
    assert pygrad.is_grad_enabled()


def test_inference_mode_is_thread_local():
    assert not pygrad.is_inference_mode_enabled()
    with pygrad.inference_mode():
        assert pygrad.is_inference_mode_enabled() and not pygrad.is_grad_enabled()
        assert _in_thread(pygrad.is_inference_mode_enabled) is False
    assert not pygrad.is_inference_mode_enabled() and pygrad.is_grad_enabled()


def test_default_device_is_thread_local():
    old = pygrad.get_default_device()
    try:
        pygrad.set_default_device("cpu")
        _in_thread(lambda: pygrad.set_default_device("opencl"))
        assert pygrad.get_default_device() == pygrad.device("cpu")
        assert pygrad.zeros(1).device.type == "cpu"
    finally:
        pygrad.set_default_device(old)


def test_anomaly_mode_and_default_dtype_stay_process_wide():
    """As in PyTorch: only grad/inference mode and the default device are per thread."""
    try:
        pygrad.set_default_dtype(pygrad.float64)
        assert _in_thread(pygrad.get_default_dtype) is pygrad.float64
        pygrad.autograd.set_detect_anomaly(True)
        assert _in_thread(pygrad.autograd.is_anomaly_enabled) is True
    finally:
        pygrad.set_default_dtype(pygrad.float32)
        pygrad.autograd.set_detect_anomaly(False)
