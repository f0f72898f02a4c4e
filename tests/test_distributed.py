"""pygrad.distributed, DistributedDataParallel, DistributedSampler and ``pygrad run``.

The multi-process checks live in ``tests/dist_checks.py``: one ``mpiexec -n 2`` and one ``-n 3``
launch run all of them (MPI start-up costs seconds); each check is then one test here, asserting that
every rank reported it OK.  Select them with ``-m mpi``.
"""
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import pygrad
import pygrad.distributed as dist
from pygrad.utils.data.distributed import DistributedSampler

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECKS = ROOT / "tests" / "dist_checks.py"
TIMEOUT = 300


def _mpiexec():
    if not dist.is_available():
        return None
    from pygrad.distributed.run import find_mpiexec

    try:
        return find_mpiexec()
    except FileNotFoundError:
        return None


needs_mpi = pytest.mark.skipif(_mpiexec() is None, reason='needs mpi4py and mpiexec: pip install "pygrad[distributed]"')


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYGRAD_DEBUG", None)
    return env


def _launch(n, *args, timeout=TIMEOUT):
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(CHECKS), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)


_results = {}


def _report(n):
    """{check name: {rank: 'OK' or the failure}} from one launch with n ranks (run once per session)."""
    if n not in _results:
        p = _launch(n)
        got = {}
        for line in p.stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] in ("OK", "FAIL"):
                got.setdefault(parts[2].split(":")[0], {})[int(parts[1])] = "OK" if parts[0] == "OK" else line
        _results[n] = (p, got)
    return _results[n]


NAMES = ["errors", "debug_mismatch", "sampler", "sampler_loader", "collectives_cpu_contiguous",
         "collectives_cpu_strided", "async_cpu", "ddp_sgd", "ddp_sgd_no_sync", "ddp_adam", "ddp_adam_no_sync", "ddp_sgd_unused",
         "ddp_adam_tiny_buckets", "ddp_sgd_no_sync_unused_tiny", "ddp_unused_error", "ddp_locally_unused",
         "ddp_shape_mismatch"]
OPENCL_NAMES = ["collectives_opencl_contiguous", "collectives_opencl_strided", "async_opencl", "ddp_adam_opencl"]


@pytest.mark.mpi
@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("name", NAMES + OPENCL_NAMES)
def test_multi_rank(n, name):
    if name in OPENCL_NAMES and not pygrad.opencl.is_available():
        pytest.skip("no OpenCL device")
    p, got = _report(n)
    ranks = got.get(name, {})
    assert p.returncode == 0, p.stderr[-3000:]
    assert sorted(ranks) == list(range(n)), f"ranks that reported {name}: {sorted(ranks)}\n{p.stdout[-3000:]}"
    assert all(v == "OK" for v in ranks.values()), "\n".join(v for v in ranks.values() if v != "OK")


@pytest.mark.mpi
@needs_mpi
@pytest.mark.parametrize("n,when", [(2, "fault"), (3, "fault"), (2, "fault-before-init")])
def test_raising_rank_aborts_the_job(n, when):
    p = _launch(n, when, timeout=120)
    assert p.returncode != 0
    assert "ZeroDivisionError: rank 1 fails on purpose" in p.stderr
    assert "rank 1 raised an exception; aborting the job" in p.stderr
    assert "survived the fault" not in p.stdout


@pytest.mark.mpi
@needs_mpi
def test_pygrad_run_script_and_module(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys, pygrad.distributed as dist\n"
                      "dist.init_process_group('gloo')\n"
                      "import pygrad\n"
                      "t = pygrad.ones(2) * (dist.get_rank() + 1)\n"
                      "dist.all_reduce(t)\n"
                      "sys.stdout.write(f'rank {dist.get_rank()} of {dist.get_world_size()} {t.tolist()} {sys.argv[1:]}\\n')\n")
    p = subprocess.run([sys.executable, "-m", "pygrad", "run", "-n", "3", str(script), "a", "--b"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.strip().splitlines()) == [f"rank {r} of 3 [6.0, 6.0] ['a', '--b']" for r in range(3)]
    p = subprocess.run([sys.executable, "-m", "pygrad", "run", "-n", "2", "-m", "json.tool", "--help"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.count("usage:") == 2, p.stdout + p.stderr


@pytest.mark.mpi
@pytest.mark.slow
@needs_mpi
def test_demo_data_parallel_matches_single_process(tmp_path):
    """`pygrad run -n 2 -m pygrad demo` trains to about the accuracy of one process (same global batch)."""
    def run(prefix):
        p = subprocess.run(prefix + ["demo", "--epochs", "3", "--device", "cpu", "--out", str(tmp_path / str(len(prefix)))],
                           capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=tmp_path)
        assert p.returncode == 0, p.stderr[-3000:]
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("test accuracy:")]
        assert len(line) == 1, p.stdout  # only rank 0 prints
        return float(line[0].split()[2].rstrip("%")), p.stdout

    single, _ = run([sys.executable, "-m", "pygrad"])
    parallel, out = run([sys.executable, "-m", "pygrad", "run", "-n", "2", "-m", "pygrad"])
    assert "2 ranks, data parallel" in out
    assert single > 85 and abs(single - parallel) < 3, (single, parallel)


# -- single-process tests ---------------------------------------------------------------------------
def test_errors_before_init():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(pygrad.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        pygrad.nn.parallel.DistributedDataParallel(pygrad.nn.Linear(2, 2))
    assert dist.ReduceOp.SUM == 0 and repr(dist.ReduceOp.AVG) == "<RedOpType.AVG: 1>"


def test_import_error_without_mpi4py():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import pygrad.distributed as dist\n"
            "try:\n    dist.init_process_group('mpi')\n"
            "except ImportError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert 'pip install "pygrad[distributed]"' in p.stdout, p.stdout + p.stderr


@needs_mpi
def test_single_process_group_in_a_subprocess():
    """Without mpiexec a process is a job of one rank: collectives are identities, nccl is refused."""
    code = ("import pygrad, pygrad.distributed as dist\n"
            "try:\n    dist.init_process_group('nccl')\nexcept RuntimeError as e:\n    print(e)\n"
            "dist.init_process_group('gloo', world_size=1, rank=0)\n"
            "t = pygrad.arange(4.0)\n"
            "dist.all_reduce(t, op=dist.ReduceOp.AVG); print(t.tolist(), dist.get_world_size(), dist.get_backend())\n"
            "m = pygrad.nn.parallel.DistributedDataParallel(pygrad.nn.Linear(2, 1))\n"
            "m(pygrad.ones(3, 2)).sum().backward(); print(m.module.weight.grad.tolist())\n"
            "plain = pygrad.nn.Linear(2, 1)\n"
            "plain.load_state_dict({k.removeprefix('module.'): v for k, v in m.state_dict().items()})\n"
            "print(list(m.state_dict()), bool((plain.weight == m.module.weight).all()))\n"
            "dist.destroy_process_group(); print(dist.is_initialized())\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["Distributed package doesn't have NCCL built in",
                                     "[0.0, 1.0, 2.0, 3.0] 1 gloo", "[[3.0, 3.0]]",
                                     "['module.weight', 'module.bias'] True", "False"], p.stdout


def _torch_sampler(n, replicas, rank, drop_last, perm):
    """PyTorch's DistributedSampler.__iter__ on a given permutation (its algorithm, written out)."""
    num = math.ceil((n - replicas) / replicas) if drop_last and n % replicas else math.ceil(n / replicas)
    total = num * replicas
    idx = list(perm)
    if not drop_last:
        pad = total - len(idx)
        idx += idx[:pad] if pad <= len(idx) else (idx * math.ceil(pad / len(idx)))[:pad]
    else:
        idx = idx[:total]
    return idx[rank:total:replicas]


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False), (12, 4, False),
                                                   (7, 2, True)])
def test_distributed_sampler_as_pytorch(n, replicas, drop_last):
    shards = []
    for rank in range(replicas):
        s = DistributedSampler(list(range(n)), num_replicas=replicas, rank=rank, shuffle=True, seed=5,
                               drop_last=drop_last)
        g = pygrad.Generator().manual_seed(5)
        perm = pygrad.randperm(n, generator=g).tolist()
        assert list(s) == _torch_sampler(n, replicas, rank, drop_last, perm)
        assert len(s) == len(list(s))
        shards.append(list(s))
        s.set_epoch(3)
        perm3 = pygrad.randperm(n, generator=pygrad.Generator().manual_seed(8)).tolist()
        assert list(s) == _torch_sampler(n, replicas, rank, drop_last, perm3)
    flat = [i for sh in shards for i in sh]
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // replicas) * replicas
    else:
        assert set(flat) == set(range(n)) and len(flat) == math.ceil(n / replicas) * replicas
    no_shuffle = DistributedSampler(list(range(n)), num_replicas=replicas, rank=0, shuffle=False, drop_last=drop_last)
    assert list(no_shuffle) == _torch_sampler(n, replicas, 0, drop_last, range(n))
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)


def test_distributed_sampler_literal_torch_order():
    """With a permutation equal to PyTorch's randperm(10, seed 0) the shards are PyTorch's (literals)."""
    perm = [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]  # torch.randperm(10, generator=torch.Generator().manual_seed(0))
    torch_shards = [[4, 5, 0, 2], [1, 3, 8, 4], [7, 9, 6, 1]]  # PyTorch's DistributedSampler(range(10), 3, r)
    assert [_torch_sampler(10, 3, r, False, perm) for r in range(3)] == torch_shards
    if pygrad.randperm(10, generator=pygrad.Generator().manual_seed(0)).tolist() == perm:  # a bit-exact generator
        assert [list(DistributedSampler(range(10), 3, r)) for r in range(3)] == torch_shards


def test_post_accumulate_grad_hook_and_queue_callback():
    from pygrad.autograd import engine

    w = pygrad.ones(3, requires_grad=True)
    seen, order = [], []
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0, 2.0, 2.0], [5.0, 5.0, 5.0]]  # called after accumulation, with the total
    h.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass"):
        engine.queue_callback(lambda: None)

    def hook(g):
        order.append("hook")
        engine.queue_callback(lambda: order.append(("callback", w.grad is not None)))
        return g

    w.grad = None
    w.register_hook(hook)
    (w * 2).sum().backward()
    assert order == ["hook", ("callback", True)]  # the callback runs after the leaf got its gradient


@pytest.mark.mpi
@pytest.mark.slow
@needs_mpi
def test_ddp_digits_example_on_two_ranks(tmp_path):
    pytest.importorskip("sklearn.datasets")
    p = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(ROOT / "examples" / "ddp_digits.py")],
                       capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    result = [ln for ln in p.stdout.splitlines() if ln.startswith("result:")]
    assert len(result) == 1 and "on 2 rank(s)" in result[0], p.stdout  # rank 0 alone reports
    assert float(result[0].split()[3].rstrip("%")) >= 95, result[0]
    assert (tmp_path / "ddp_digits.pth").exists()
