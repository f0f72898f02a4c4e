"""Run under ``mpiexec -n N`` by tests/test_distributed.py: many checks in one MPI launch (start-up costs
seconds).  Every rank prints ``OK <name>`` or ``FAIL <name>: <error>`` per check and exits 0; the pytest
side asserts that every rank reported OK for every check.  ``python tests/dist_checks.py fault`` instead
makes rank 1 raise, to test that the job ends (non-zero) instead of hanging.
"""
import os
import sys
import traceback

import numpy as np

import pygrad as torch
import pygrad.distributed as dist
import pygrad.nn as nn
from pygrad.nn.parallel import DistributedDataParallel as DDP

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
          torch.float32, torch.float64]
R = N = None


def values(dtype, rank, shape=(3, 4), salt=0):
    """Rank-dependent small values (products over 3 ranks stay in int8's range)."""
    v = (np.arange(int(np.prod(shape))).reshape(shape) * 5 + rank * 3 + salt) % 4 + 1
    if dtype == torch.bool:
        return (v % 2).astype(np.bool_)
    if dtype.is_floating_point:
        return v.astype(dtype.np) * np.asarray(0.5, dtype.np)
    return v.astype(dtype.np)


def make(arr, device, contiguous):
    """A tensor with ``arr``'s values on ``device``; non-contiguous: a transposed view."""
    if contiguous:
        return torch.from_numpy(arr.copy()).to(device)
    t = torch.from_numpy(np.ascontiguousarray(arr.swapaxes(-1, -2))).to(device).transpose(-1, -2)
    assert not t.is_contiguous()
    return t


def host(t):
    return t.cpu().numpy()


def np_reduce(op, arrs):
    if arrs[0].dtype == np.bool_:
        f = {"SUM": np.logical_or, "MAX": np.logical_or, "PRODUCT": np.logical_and, "MIN": np.logical_and}[op]
        return f.reduce(arrs)
    if op == "AVG":
        return np.sum(arrs, axis=0, dtype=np.float64) / len(arrs)
    f = {"SUM": np.add, "MAX": np.maximum, "MIN": np.minimum, "PRODUCT": np.multiply}[op]
    return f.reduce(np.stack(arrs), axis=0).astype(arrs[0].dtype)


def close(a, b, dtype):
    tol = 1e-3 if dtype == torch.float16 else 1e-6
    assert a.shape == b.shape, (a.shape, b.shape)
    if dtype.is_floating_point:
        np.testing.assert_allclose(a.astype(np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(a, b)


def check_collectives(device, contiguous):
    everyone = lambda dt, salt=0: [values(dt, r, salt=salt) for r in range(N)]  # noqa: E731
    for dt in DTYPES:
        ops = ["SUM", "MAX", "MIN", "PRODUCT"] + (["AVG"] if dt.is_floating_point else [])
        for op in ops:
            t = make(values(dt, R), device, contiguous)
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            close(host(t), np_reduce(op, everyone(dt)), dt)
            assert t.device.type == torch.device(device).type and t.dtype == dt
        # async
        t = make(values(dt, R), device, contiguous)
        w = dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True)
        assert w.wait() is True and w.is_completed()
        close(host(t), np_reduce("MAX", everyone(dt)), dt)
        # broadcast from the last rank
        t = make(values(dt, R), device, contiguous)
        assert dist.broadcast(t, src=N - 1) is None
        close(host(t), values(dt, N - 1), dt)
        # reduce into rank 0 (the others keep theirs)
        t = make(values(dt, R), device, contiguous)
        dist.reduce(t, dst=0, op=dist.ReduceOp.SUM)
        close(host(t), np_reduce("SUM", everyone(dt)) if R == 0 else values(dt, R), dt)
        # all_gather into a list (non-contiguous outputs too)
        outs = [make(np.zeros_like(values(dt, 0)), device, contiguous) for _ in range(N)]
        dist.all_gather(outs, make(values(dt, R), device, contiguous))
        for r in range(N):
            close(host(outs[r]), values(dt, r), dt)
        # all_gather_into_tensor: concatenated along dim 0 and stacked
        out = torch.zeros(N * 3, 4, dtype=dt, device=device)
        dist.all_gather_into_tensor(out, make(values(dt, R), device, contiguous))
        close(host(out), np.concatenate(everyone(dt)), dt)
        out = torch.zeros(N, 3, 4, dtype=dt, device=device)
        w = dist.all_gather_into_tensor(out, make(values(dt, R), device, contiguous), async_op=True)
        w.wait()
        close(host(out), np.stack(everyone(dt)), dt)
        # reduce_scatter_tensor
        big = [values(dt, r, shape=(N * 2, 3)) for r in range(N)]
        out = torch.zeros(2, 3, dtype=dt, device=device)
        dist.reduce_scatter_tensor(out, make(big[R], device, contiguous), op=dist.ReduceOp.SUM)
        close(host(out), np_reduce("SUM", big)[R * 2:(R + 1) * 2], dt)
        # gather to rank 1 % N
        dst = 1 % N
        gl = [make(np.zeros_like(values(dt, 0)), device, contiguous) for _ in range(N)] if R == dst else None
        dist.gather(make(values(dt, R), device, contiguous), gl, dst=dst)
        if R == dst:
            for r in range(N):
                close(host(gl[r]), values(dt, r), dt)
        # scatter from rank 0
        sl = [make(values(dt, r, salt=1), device, contiguous) for r in range(N)] if R == 0 else None
        t = make(np.zeros_like(values(dt, 0)), device, contiguous)
        dist.scatter(t, sl, src=0)
        close(host(t), values(dt, R, salt=1), dt)
        # send / recv around a ring, then isend / irecv the other way
        t = make(np.zeros_like(values(dt, 0)), device, contiguous)
        if R % 2 == 0:
            dist.send(make(values(dt, R), device, contiguous), dst=(R + 1) % N)
            src = dist.recv(t, src=(R - 1) % N)
        else:
            src = dist.recv(t)
            dist.send(make(values(dt, R), device, contiguous), dst=(R + 1) % N)
        assert src == (R - 1) % N, src
        close(host(t), values(dt, (R - 1) % N), dt)
        t = make(np.zeros_like(values(dt, 0)), device, contiguous)
        rw = dist.irecv(t, src=(R + 1) % N, tag=7)
        sw = dist.isend(make(values(dt, R, salt=2), device, contiguous), dst=(R - 1) % N, tag=7)
        sw.wait()
        rw.wait()
        close(host(t), values(dt, (R + 1) % N, salt=2), dt)


def check_async_all(device):
    """Every collective with async_op=True: the result is in place after wait(), not necessarily before."""
    dt = torch.float32
    everyone = [values(dt, r) for r in range(N)]
    t = make(values(dt, R), device, False)
    works = [("broadcast", dist.broadcast(t, src=0, async_op=True), t, values(dt, 0))]
    r = make(values(dt, R), device, True)
    works.append(("reduce", dist.reduce(r, dst=0, op=dist.ReduceOp.MIN, async_op=True), r,
                  np_reduce("MIN", everyone) if R == 0 else values(dt, R)))
    a = make(values(dt, R), device, True)
    works.append(("all_reduce AVG", dist.all_reduce(a, op=dist.ReduceOp.AVG, async_op=True), a, np_reduce("AVG", everyone)))
    big = [values(dt, q, shape=(N * 2, 3)) for q in range(N)]
    o = torch.zeros(2, 3, device=device)
    works.append(("reduce_scatter", dist.reduce_scatter_tensor(o, make(big[R], device, True), async_op=True), o,
                  np_reduce("SUM", big)[R * 2:(R + 1) * 2]))
    sc = torch.zeros(3, 4, device=device)
    sl = [make(values(dt, q, salt=3), device, True) for q in range(N)] if R == 0 else None
    works.append(("scatter", dist.scatter(sc, sl, src=0, async_op=True), sc, values(dt, R, salt=3)))
    gl = [torch.zeros(3, 4, device=device) for _ in range(N)] if R == 0 else None
    gw = dist.gather(make(values(dt, R), device, True), gl, dst=0, async_op=True)
    bw = dist.barrier(async_op=True)
    for name, w, tensor, expected in works:
        w.wait()
        close(host(tensor), expected, dt)
    gw.wait()
    bw.wait()
    if R == 0:
        for q in range(N):
            close(host(gl[q]), values(dt, q), dt)


def check_debug_mismatch():
    os.environ["PYGRAD_DEBUG"] = "1"
    dist.set_debug_level_from_env()
    try:
        t = torch.zeros(2 + (R == 1), dtype=torch.float32 if R != N - 1 else torch.float64)
        try:
            dist.all_reduce(t)
        except RuntimeError as e:
            msg = str(e)
            assert "shape [2]" in msg and "shape [3]" in msg and "float64" in msg, msg
        else:
            raise AssertionError("no RuntimeError for mismatched shapes")
        dist.all_reduce(torch.ones(2))  # matching shapes still work in debug mode
    finally:
        del os.environ["PYGRAD_DEBUG"]
        dist.set_debug_level_from_env()


def check_errors():
    try:
        dist.init_process_group("mpi")
    except ValueError as e:
        assert str(e) == "trying to initialize the default process group twice!"
    else:
        raise AssertionError("double init did not raise")
    try:
        dist.all_reduce(torch.ones(2, dtype=torch.int64), op=dist.ReduceOp.AVG)
    except RuntimeError as e:
        assert "AVG" in str(e)
    else:
        raise AssertionError("AVG on int64 did not raise")
    gl = [torch.zeros(2)] * N
    try:
        dist.gather(torch.zeros(2), gl if R != 0 else None, dst=0)
    except ValueError as e:
        assert "gather_list" in str(e)
    else:
        raise AssertionError("gather_list misuse did not raise")
    objs = [None] * N
    dist.all_gather_object(objs, {"rank": R})
    assert objs == [{"rank": r} for r in range(N)]
    lst = [R, "x"] if R == 0 else [None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "x"]
    dist.barrier()


class Net(nn.Module):
    def __init__(self, unused=False):
        super().__init__()
        self.fc1 = nn.Linear(5, 7)
        self.fc2 = nn.Linear(7, 3)
        if unused:
            self.extra = nn.Linear(3, 3)  # never used in forward

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def global_batches(steps, micro, per_rank):
    rng = np.random.default_rng(1234)
    return [[(rng.standard_normal((N * per_rank, 5)).astype(np.float32),
              rng.standard_normal((N * per_rank, 3)).astype(np.float32)) for _ in range(micro)]
            for _ in range(steps)]


def check_ddp(opt_name, no_sync, unused, tiny_buckets, device="cpu"):
    torch.manual_seed(100 + R)  # different initial weights per rank: DDP must broadcast rank 0's
    model = Net(unused).to(device)
    ddp = DDP(model, bucket_cap_mb=(20 / 2**20) if tiny_buckets else 25, find_unused_parameters=unused)
    if tiny_buckets:
        assert len(ddp._buckets) == len(list(model.parameters())), len(ddp._buckets)
    ref = Net(unused).to(device)
    ref.load_state_dict(model.state_dict())
    mk = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
          "adam": lambda p: torch.optim.Adam(p, lr=0.01)}[opt_name]
    opt, ropt = mk(ddp.parameters()), mk(ref.parameters())
    per_rank, micro = 4, (3 if no_sync else 1)
    for batches in global_batches(4, micro, per_rank):
        opt.zero_grad()
        ropt.zero_grad()
        for k, (x, y) in enumerate(batches):
            xs = torch.from_numpy(x[R * per_rank:(R + 1) * per_rank]).to(device)
            ys = torch.from_numpy(y[R * per_rank:(R + 1) * per_rank]).to(device)
            loss = ((ddp(xs) - ys) ** 2).mean()
            if k < micro - 1:
                with ddp.no_sync():
                    loss = ((ddp(xs) - ys) ** 2).mean()
                    loss.backward()
            else:
                loss.backward()
            rl = ((ref(torch.from_numpy(x).to(device)) - torch.from_numpy(y).to(device)) ** 2).mean()
            rl.backward()
        opt.step()
        ropt.step()
    for (name, p), rp in zip(model.named_parameters(), ref.parameters()):
        if unused and name.startswith("extra"):
            assert p.grad is None, "a parameter unused on every rank keeps grad None"
        np.testing.assert_allclose(host(p.detach()), host(rp.detach()), rtol=1e-5, atol=1e-5, err_msg=name)
    assert list(ddp.state_dict())[0] == "module.fc1.weight"


def check_ddp_unused_error():
    ddp = DDP(Net(unused=True))
    try:
        ddp(torch.ones(2, 5)).sum().backward()
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e) and "extra.weight" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter without find_unused_parameters did not raise")


def check_ddp_shape_mismatch():
    """Different models on different ranks: DDP's constructor raises on every rank, naming the shapes."""
    try:
        DDP(nn.Linear(3, 2 + (R == N - 1)))
    except RuntimeError as e:
        assert "parameter shapes or dtypes differ" in str(e) and "(2, 3)" in str(e) and "(3, 3)" in str(e), str(e)
    else:
        raise AssertionError("mismatched models did not raise")


def check_ddp_locally_unused():
    """A parameter used on rank 0 only: every rank gets the average (rank 0's gradient / N)."""
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 1)
            self.b = nn.Linear(2, 1)

        def forward(self, x, use_b):
            return self.a(x) + (self.b(x) if use_b else 0)

    torch.manual_seed(0)
    m = Branchy()
    ddp = DDP(m, find_unused_parameters=True)
    x = torch.ones(1, 2)
    ddp(x, R == 0).sum().backward()
    np.testing.assert_allclose(host(m.b.weight.grad), np.ones((1, 2)) / N, rtol=1e-6)
    np.testing.assert_allclose(host(m.a.weight.grad), np.ones((1, 2)), rtol=1e-6)


def check_sampler():
    from pygrad.utils.data.distributed import DistributedSampler

    for n, drop in ((10, False), (10, True), (12, False)):
        s = DistributedSampler(list(range(n)), shuffle=True, seed=3, drop_last=drop)
        mine = list(s)
        every = [None] * N
        dist.all_gather_object(every, mine)
        flat = sorted(i for e in every for i in e)
        assert all(len(e) == len(s) for e in every)
        if drop:
            assert len(set(flat)) == len(flat) == (n // N) * N
        else:
            assert set(flat) == set(range(n)) and len(flat) == -(-n // N) * N
        s.set_epoch(1)
        assert list(s) != mine or n < 4


def check_sampler_loader():
    from pygrad.utils.data import DataLoader, TensorDataset
    from pygrad.utils.data.distributed import DistributedSampler

    ds = TensorDataset(torch.arange(20))
    sampler = DistributedSampler(ds, shuffle=False)
    got = [int(v) for (b,) in DataLoader(ds, batch_size=3, sampler=sampler) for v in b.tolist()]
    total = -(-20 // N) * N
    padded = list(range(20)) + list(range(20))[:total - 20]
    assert got == padded[R:total:N], got


def main():
    global R, N
    if sys.argv[1:] == ["fault-before-init"]:
        if os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK")) == "1":
            raise ZeroDivisionError("rank 1 fails on purpose")
        dist.init_process_group("mpi")
        dist.barrier()
        print("survived the fault: the job did not abort", flush=True)
        return
    if sys.argv[1:] == ["fault"]:
        dist.init_process_group("mpi")
        if dist.get_rank() == 1:
            raise ZeroDivisionError("rank 1 fails on purpose")
        dist.barrier()  # the other ranks wait here until the job is aborted
        print("survived the fault: the job did not abort", flush=True)
        return
    dist.init_process_group("mpi")
    R, N = dist.get_rank(), dist.get_world_size()
    checks = [("errors", check_errors), ("debug_mismatch", check_debug_mismatch), ("sampler", check_sampler),
              ("sampler_loader", check_sampler_loader)]
    devices = ["cpu"] + (["opencl"] if torch.opencl.is_available() and "--no-opencl" not in sys.argv else [])
    for dev in devices:
        for contiguous in (True, False):
            checks.append((f"collectives_{dev}_{'contiguous' if contiguous else 'strided'}",
                           lambda d=dev, c=contiguous: check_collectives(d, c)))
        checks.append((f"async_{dev}", lambda d=dev: check_async_all(d)))
    for opt in ("sgd", "adam"):
        for no_sync in (False, True):
            checks.append((f"ddp_{opt}{'_no_sync' if no_sync else ''}", lambda o=opt, s=no_sync: check_ddp(o, s, False, False)))
    checks += [("ddp_sgd_unused", lambda: check_ddp("sgd", False, True, False)),
               ("ddp_adam_tiny_buckets", lambda: check_ddp("adam", False, False, True)),
               ("ddp_sgd_no_sync_unused_tiny", lambda: check_ddp("sgd", True, True, True)),
               ("ddp_unused_error", check_ddp_unused_error), ("ddp_locally_unused", check_ddp_locally_unused),
               ("ddp_shape_mismatch", check_ddp_shape_mismatch)]
    if "opencl" in devices:
        checks.append(("ddp_adam_opencl", lambda: check_ddp("adam", True, False, True, "opencl")))
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for name, fn in checks:
        if only and name not in only:
            continue
        try:
            fn()
            print(f"\nOK {R} {name}", flush=True)
        except Exception:
            tb = traceback.format_exc().replace("\n", " | ")
            print(f"\nFAIL {R} {name}: {tb}", flush=True)
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
