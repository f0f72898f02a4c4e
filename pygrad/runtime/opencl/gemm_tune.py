"""GEMM configuration per device: a fixed default, or what ``tune()`` measured, cached on disk.

Like CLBlast's tuning database, but small: a handful of candidates (GPU shape: the 64 x 64 ``gemm_tiled``
and the 128 x 128 double-buffered ``gemm_big`` kernel, the size from which the big one is used, the K
from which skinny products split K; CPU shape: ``gemm_cpu``'s K block and row blocks per work-item) are timed once on the device, and the fastest is stored in
``$PYGRAD_CACHE_DIR`` (default ``~/.cache/pygrad``) under the device's name and driver version.  Without a
tuning run the default below is used, so nothing is ever timed behind a user's back: ``pygrad bench
--tune`` (or ``pygrad.runtime.opencl.gemm_tune.tune(0)``) runs it.
"""
import hashlib
import json
import os
import pathlib
import time

# cpu_kc, cpu_mb: gemm_cpu's K block (0: all of K) and the most row blocks per work-item (CPU-shaped
# devices; both are kernel arguments, so a candidate costs no build; backend_ops._cpu_row_blocks may take
# more for small K).  The default measured best on a 2-core Xeon (AVX-512, L1d 48 KiB, L2 2 MiB), PoCL 3.1,
# 6 x 64 blocks, consecutive work-groups sharing a B panel: GFLOP/s per core at N = 2048 / 4096 152 / 136
# with (1024, 64) against 163 / 160 with (4096, 8); at 2 threads N = 2048 / 4096 300 / 295 against 323 / 317
DEFAULT = {"large": "big", "big_min": 256, "split_k_min": 2048, "cpu_kc": 4096, "cpu_mb": 8}
CPU_CANDIDATES = ((4096, 8), (0, 8), (1024, 8), (4096, 4), (4096, 16))
_memo = {}


def cache_path(rt):
    """The JSON file holding ``rt``'s tuned configuration."""
    key = f"{rt.device.name.strip()}|{rt.device.platform.name.strip()}|{rt.device.driver_version.strip()}"
    root = pathlib.Path(os.environ.get("PYGRAD_CACHE_DIR") or pathlib.Path.home() / ".cache" / "pygrad")
    return root / f"gemm-{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"


def config(rt):
    """The GEMM configuration of ``rt``'s device: tuned if a cache file exists, else ``DEFAULT``."""
    cfg = _memo.get(id(rt))
    if cfg is None:
        cfg = dict(DEFAULT)
        try:
            stored = json.loads(cache_path(rt).read_text())
            cfg.update({k: stored[k] for k in DEFAULT if k in stored})
        except (OSError, ValueError, KeyError, TypeError):
            pass
        _memo[id(rt)] = cfg
    return cfg


def tune(index=0, n=1024, repeat=3, verbose=True):
    """Time the candidates on ``opencl:index`` with n x n x n products, store and return the best."""
    import numpy as np

    import pygrad
    from pygrad.runtime import get_backend

    dev = pygrad.device("opencl", index)
    be = get_backend(dev)
    rt = be.rt
    a = pygrad.from_numpy(np.random.rand(n, n).astype(np.float32)).to(dev)
    b = pygrad.from_numpy(np.random.rand(n, n).astype(np.float32)).to(dev)

    def timed(kind):
        old = type(be).gemm_kernel
        type(be).gemm_kernel = kind
        try:
            a @ b
            be.synchronize()
            best = float("inf")
            for _ in range(repeat):
                t = time.perf_counter()
                a @ b
                be.synchronize()
                best = min(best, time.perf_counter() - t)
            return best
        finally:
            type(be).gemm_kernel = old

    if rt.kernel_shape == "cpu":  # gemm_cpu's K block and row blocks per work-item
        def timed_cpu(kc, mb):  # through the launch's own choice of row blocks, with (kc, mb) as the config
            live = config(rt)
            old = live["cpu_kc"], live["cpu_mb"]
            live["cpu_kc"], live["cpu_mb"] = kc, mb
            small, type(be).gemm_small = type(be).gemm_small, False  # gemm_cpu itself, at any n
            try:
                return timed("cpu")
            finally:
                live["cpu_kc"], live["cpu_mb"] = old
                type(be).gemm_small = small

        times = {f"kc{kc}-mb{mb}": timed_cpu(kc, mb) for kc, mb in CPU_CANDIDATES}
        best = min(times, key=times.get)
        kc, mb = CPU_CANDIDATES[list(times).index(best)]
        cfg = dict(DEFAULT, cpu_kc=kc, cpu_mb=mb)
        summary = f"-> gemm_cpu K block {kc}, {mb} row blocks"
    else:
        times = {kind: timed(kind) for kind in ("tiled", "big")}
        large = min(times, key=times.get)
        # from which size the big tiles pay off: the smallest of a few sizes where they are not slower
        big_min = DEFAULT["big_min"]
        if large == "big":
            for m in (128, 256, 512):
                sa = pygrad.from_numpy(np.random.rand(m, m).astype(np.float32)).to(dev)
                a, b = sa, sa
                t = {kind: timed(kind) for kind in ("tiled", "big")}
                if t["big"] <= t["tiled"]:
                    big_min = m
                    break
            else:
                big_min = 1024
        cfg = dict(DEFAULT, large=large, big_min=big_min)
        summary = f"-> {large} from size {big_min}"
    cfg.update(gflops={k: 2 * n ** 3 / v / 1e9 for k, v in times.items()}, device=rt.device.name.strip(),
               driver=rt.device.driver_version.strip())
    path = cache_path(rt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cfg, indent=1))
    os.replace(tmp, path)
    _memo.pop(id(rt), None)
    if verbose:
        print(f"GEMM tuning for {cfg['device']} (driver {cfg['driver']}): "
              + ", ".join(f"{k} {g:.1f} GFLOP/s" for k, g in cfg["gflops"].items())
              + f" {summary}; saved to {path}")
    return cfg
