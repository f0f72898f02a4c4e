"""The ``pygrad`` command: ``pygrad demo`` (train a CNN on handwritten digits), ``pygrad info``, ``pygrad bench``.

``pygrad demo`` is the whole training loop of the course notes (seed 002, chapter 4) in one place:
prepare data, build the model and optimizer, then per batch: forward, loss, zero the gradients,
backward, step, and report metrics.
"""
import argparse
import os
import pathlib
import sys
import time


def _best_device():
    """An OpenCL GPU when there is one; otherwise the CPU backend (faster than an OpenCL CPU device)."""
    import pygrad

    if pygrad.opencl.is_available():
        for i in range(pygrad.opencl.device_count()):
            if pygrad.opencl.get_device_properties(i)["type"] == "GPU":
                return f"opencl:{i}"
    return "cpu"


def lenet():
    """A LeNet-style CNN for 1-channel digit images of any size >= 8x8."""
    import pygrad.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10),
    )


def _datasets(args):
    from pygrad.vision import datasets, transforms

    if args.data:
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        return (datasets.MNIST(args.data, train=True, transform=tf),
                datasets.MNIST(args.data, train=False, transform=tf), f"MNIST IDX files in {args.data}")
    return (datasets.Digits(train=True, seed=args.seed), datasets.Digits(train=False, seed=args.seed),
            "scikit-learn's bundled 8x8 handwritten digits")


def _progress(iterable, total, desc):
    if getattr(sys.stdout, "name", None) == os.devnull:  # a rank other than 0 of a data-parallel run
        return _PlainProgress(iterable, total, desc)
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the demo extra; without it, plain lines
        return _PlainProgress(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc, unit="batch", dynamic_ncols=True, mininterval=0.5)


class _PlainProgress:
    def __init__(self, iterable, total, desc):
        self.iterable, self.desc, self.postfix = iterable, desc, {}

    def __iter__(self):
        yield from self.iterable

    def set_postfix(self, **kw):
        self.postfix = kw

    def close(self):
        print(self.desc, " ".join(f"{k}={v}" for k, v in self.postfix.items()))


def evaluate(model, loader, device):
    import pygrad

    model.eval()
    correct = total = 0
    with pygrad.no_grad():
        for x, y in loader:
            pred = model(x.to(device)).argmax(1)
            correct += int((pred == y.to(device)).sum().item())
            total += y.shape[0]
    model.train()
    return correct / max(total, 1)


def demo(args):
    """Train, evaluate, checkpoint and plot; returns the final test accuracy."""
    import pygrad
    import pygrad.nn.functional as F
    from pygrad.utils.data import DataLoader

    pygrad.manual_seed(args.seed)
    device = _best_device() if args.device == "auto" else args.device
    train_set, test_set, source = _datasets(args)
    gen = pygrad.Generator().manual_seed(args.seed)
    world = _mpi_world()  # (rank, size) under `pygrad run -n N` / mpiexec: data parallel over N ranks
    if world:
        from pygrad.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, seed=args.seed)  # each rank its shard of the global batch
        train_loader = DataLoader(train_set, batch_size=max(1, args.batch_size // world[1]), sampler=sampler)
    else:
        train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=gen)
    test_loader = DataLoader(test_set, batch_size=256)
    net = lenet().to(device)
    model = pygrad.nn.parallel.DistributedDataParallel(net) if world else net
    opt = pygrad.optim.Adam(model.parameters(), lr=args.lr)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    history, start_epoch = {"loss": [], "train_acc": [], "test_acc": [], "epoch_time": []}, 0
    if args.resume:
        ckpt = pygrad.load(args.resume, map_location=device)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        history, start_epoch = ckpt["history"], ckpt["epoch"]
        if "rng" in ckpt:  # continue the same random streams: a resumed run equals an uninterrupted one
            pygrad.random._set_all_rng_states(ckpt["rng"])
            gen.set_state(ckpt["rng"]["loader"])
        print(f"resumed from {args.resume} after epoch {start_epoch}")
    print(f"pygrad {pygrad.__version__} | device: {device} | data: {source} "
          f"({len(train_set)} train / {len(test_set)} test)" + (f" | {world[1]} ranks, data parallel" if world else ""))
    for epoch in range(start_epoch, start_epoch + args.epochs):
        if world:
            sampler.set_epoch(epoch)
        t0, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
        bar = _progress(train_loader, len(train_loader), f"epoch {epoch + 1}/{start_epoch + args.epochs}")
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            logits = model(x)                       # forward
            loss = F.cross_entropy(logits, y)       # loss
            opt.zero_grad()                         # zero the gradients
            loss.backward()                         # backward
            opt.step()                              # update the weights
            n = y.shape[0]
            seen += n
            loss_sum += loss.item() * n
            correct += int((logits.argmax(1) == y).sum().item())
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}",
                            samples_per_s=f"{seen / (time.perf_counter() - t0):.0f}")
        bar.close()
        dt = time.perf_counter() - t0
        test_acc = evaluate(net, test_loader, device)
        for k, v in (("loss", loss_sum / seen), ("train_acc", correct / seen), ("test_acc", test_acc),
                     ("epoch_time", dt)):
            history[k].append(v)
        print(f"epoch {epoch + 1}: loss {loss_sum / seen:.4f}  train acc {correct / seen:.4f}  "
              f"test acc {test_acc:.4f}  time {dt:.2f}s")
        if world and world[0] != 0:
            continue  # rank 0 saves; every replica holds the same weights
        rng = dict(pygrad.random._get_all_rng_states(), loader=gen.get_state())
        pygrad.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                     "history": history, "rng": rng}, out / "checkpoint.pth")
    final = history["test_acc"][-1] if history["test_acc"] else 0.0
    mean_time = sum(history["epoch_time"]) / max(len(history["epoch_time"]), 1)
    plot = _plot(history, out / "curves.png") if not world or world[0] == 0 else None
    print(f"test accuracy: {final * 100:.2f}% | {mean_time:.2f} s per epoch on {device}")
    print(f"checkpoint: {out / 'checkpoint.pth'}" + (f" | curves: {plot}" if plot else ""))
    return final


def _mpi_world():
    """(rank, world size) when this process is one of several MPI ranks (the process group is started
    here if the script has not); None for a single process.  Ranks other than 0 print nothing."""
    import pygrad.distributed as dist

    if not dist.is_initialized():
        size = int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1")))
        if size <= 1 or not dist.is_available():
            return None
        dist.init_process_group("mpi")
    if dist.get_world_size() == 1:
        return None
    if dist.get_rank() != 0:
        sys.stdout = open(os.devnull, "w")  # tracebacks still reach stderr
    return dist.get_rank(), dist.get_world_size()


def _plot(history, path):
    """Loss and accuracy curves as a PNG (matplotlib, from the demo extra); None when unavailable."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'pygrad[demo]')")
        return None
    epochs = range(1, len(history["loss"]) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(epochs, history["loss"], marker="o")
    a.set(title="training loss", xlabel="epoch")
    b.plot(epochs, history["train_acc"], marker="o", label="train")
    b.plot(epochs, history["test_acc"], marker="o", label="test")
    b.set(title="accuracy", xlabel="epoch")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def info(args):
    """Versions, OpenCL platforms and devices, and whether the Cython core is compiled."""
    import numpy

    import pygrad
    from pygrad import _core
    from pygrad.runtime.opencl import runtime

    print(f"pygrad {pygrad.__version__}  (Cython core: {'compiled' if _core.__file__.endswith(('.so', '.pyd')) else 'NOT compiled'}, {_core.__file__})")
    print(f"numpy {numpy.__version__}")
    try:
        import pyopencl

        print(f"pyopencl {pyopencl.VERSION_TEXT}")
    except ImportError:
        print("pyopencl: not installed (" + runtime.INSTALL_HINT + ")")
        return
    devs = runtime.devices()
    if not devs:
        print("no OpenCL device found: " + runtime.INSTALL_HINT)
    for i in range(len(devs)):
        p = runtime.properties(i)
        print(f"opencl:{i}  {p['name']}  [{p['type']}, {p['platform']}]  compute units {p['compute_units']}, "
              f"memory {p['global_mem_bytes'] / 2**30:.1f} GiB, fp64 {p['fp64']}, fp16 {p['fp16']}, "
              f"driver {p['driver_version']}, kernel shape {p['kernel_shape']}"
              + (" (forced by PYGRAD_KERNEL_SHAPE)" if os.environ.get("PYGRAD_KERNEL_SHAPE") else ""))
    if devs:
        print(f"'opencl' resolves to opencl:0 ({runtime.properties(0)['name']}); "
              f"`pygrad demo` would use {_best_device()}")


def bench(argv):
    """``pygrad bench``: the side-by-side table of ``pygrad/bench.py`` (ships with the package)."""
    from . import bench as side_by_side

    return side_by_side.main(argv)


def _split_run(tokens):
    """``pygrad run``'s own options, and the program's command line (``script.py ...`` or ``-m module ...``)."""
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("-n", "--nproc", "--mpiexec-arg"):
            i += 2
        elif t.startswith(("--nproc=", "--mpiexec-arg=")) or (t.startswith("-n") and t[2:].isdigit()):
            i += 1
        elif t in ("-h", "--help"):
            i += 1
        else:
            break
    return tokens[:i], tokens[i:]


def _run(args, parser):
    """``pygrad run``: the mpiexec command line for a script or a module, with the environment forwarded."""
    from pygrad.distributed import run

    if args.module is None and not args.target:
        parser.error("give a script (pygrad run -n 2 train.py) or a module (pygrad run -n 2 -m pygrad demo)")
    if args.module is not None:
        return run.run(args.nproc, args.module, args.target, module=True, mpiexec_args=args.mpiexec_arg)
    return run.run(args.nproc, args.target[0], args.target[1:], mpiexec_args=args.mpiexec_arg)


def _demo_arg_problem(args):
    """What is wrong with ``--device`` / ``--resume`` (a sentence saying how to fix it), or None."""
    import os

    import pygrad

    if args.device != "auto":
        kind = args.device.split(":")[0].strip().lower()
        if kind in ("gpu", "cuda", "mps", "xpu"):
            return (f"--device {args.device}: pygrad runs on OpenCL devices, not '{kind}'; use --device opencl "
                    "(or opencl:N) for an OpenCL GPU, cpu, or auto")
        try:
            dev = pygrad.device(args.device)
        except (RuntimeError, ValueError) as e:
            return f"--device {args.device}: {e} (use cpu, opencl, opencl:N or auto)"
        if dev.type == "opencl":
            from pygrad.runtime.opencl import runtime

            n = runtime.device_count() if runtime.is_available() else 0
            if n == 0:
                return f"--device {args.device}: no OpenCL device found: {runtime.INSTALL_HINT}"
            if (dev.index or 0) >= n:
                return f"--device {args.device}: this machine has {n} OpenCL device(s): opencl:0 .. opencl:{n - 1}"
    if args.resume and not os.path.isfile(args.resume):
        return f"--resume {args.resume}: no such checkpoint file (it is written to --out, e.g. pygrad-demo/checkpoint.pth)"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pygrad", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train a LeNet-style CNN on handwritten digits")
    d.add_argument("--device", default="auto", help="cpu, opencl, opencl:N or auto (an OpenCL GPU if any)")
    d.add_argument("--data", default=None, help="folder with MNIST IDX files (default: bundled 8x8 digits)")
    d.add_argument("--epochs", type=int, default=12)
    d.add_argument("--batch-size", type=int, default=32)
    d.add_argument("--lr", type=float, default=3e-3)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="pygrad-demo", help="folder for the checkpoint and the plot")
    d.add_argument("--resume", default=None, help="checkpoint to continue training from")
    sub.add_parser("info", help="versions, OpenCL devices, build status")
    sub.add_parser("bench", help="pygrad side by side with PyTorch (pygrad bench --help for options)", add_help=False)
    r = sub.add_parser("run", help="run a script or module on N MPI ranks (wraps mpiexec)",
                       usage="pygrad run [-n N] [--mpiexec-arg ARG] (script.py | -m module) [args ...]")
    r.add_argument("-n", "--nproc", type=int, default=1, help="number of processes (ranks)")
    r.add_argument("-m", dest="module", default=None, help="run a module as `python -m module`")
    r.add_argument("--mpiexec-arg", action="append", default=[], help="extra argument for mpiexec (repeatable)")
    r.add_argument("target", nargs=argparse.REMAINDER, help="script.py and its arguments, or the module's arguments")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:  # everything from the script (or -m's module) on belongs to the program
        opts, rest = _split_run(argv[1:])
        args = parser.parse_args(["run"] + opts)
        args.target = rest
        if rest and args.module is None and rest[0] == "-m":
            args.module, args.target = (rest[1] if len(rest) > 1 else None), rest[2:]
        return _run(args, r)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return bench(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        problem = _demo_arg_problem(args)
        if problem:  # one clear line, no traceback
            print(f"pygrad demo: {problem}", file=sys.stderr)
            return 2
        demo(args)
        return 0
    if args.command == "info":
        info(args)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
