"""``pygrad demo`` end to end on a short setting: it trains, writes a checkpoint and a PNG, and resumes."""
import pytest

import pygrad
from pygrad.cli import main

DEVICES = ["cpu"] + (["opencl"] if pygrad.opencl.is_available() else [])


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_demo_trains_saves_and_resumes(tmp_path, capsys, device):
    pytest.importorskip("sklearn")
    out = tmp_path / "run"
    assert main(["demo", "--epochs", "1", "--device", device, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"device: {device}" in text and "test accuracy:" in text and "s per epoch" in text
    acc = float(text.split("test accuracy: ")[1].split("%")[0])
    assert acc > 60.0  # one epoch already learns most digits (the full default run reaches ~98%)
    assert (out / "checkpoint.pth").stat().st_size > 1000
    if pytest.importorskip("matplotlib"):
        png = (out / "curves.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = pygrad.load(out / "checkpoint.pth")
    assert ckpt["epoch"] == 1 and len(ckpt["history"]["test_acc"]) == 1
    assert main(["demo", "--epochs", "1", "--device", device, "--out", str(out),
                 "--resume", str(out / "checkpoint.pth")]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert pygrad.load(out / "checkpoint.pth")["epoch"] == 2


def test_info_runs(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "pygrad" in text and "Cython core: compiled" in text


@pytest.mark.parametrize("device", DEVICES)
def test_resume_equals_uninterrupted_run(tmp_path, capsys, monkeypatch, device):
    """2 epochs in one run == 1 epoch + ``--resume`` 1 epoch: same final weights, bit for bit, because the
    checkpoint carries the RNG states (CPU generator, OpenCL Philox counter, the loader's generator)."""
    pytest.importorskip("sklearn")
    from pygrad import cli
    from pygrad.utils.data import Subset
    from pygrad.vision import datasets

    def tiny(args):  # a few batches per epoch keep the test fast; dropout and shuffling still draw
        return (Subset(datasets.Digits(train=True, seed=args.seed), range(96)),
                Subset(datasets.Digits(train=False, seed=args.seed), range(32)), "tiny digits")

    monkeypatch.setattr(cli, "_datasets", tiny)
    monkeypatch.setattr(cli, "_plot", lambda history, path: None)
    common = ["demo", "--device", device, "--batch-size", "16"]
    assert main(common + ["--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    assert main(common + ["--epochs", "1", "--out", str(tmp_path / "b")]) == 0
    pygrad.manual_seed(12345)  # whatever happens in between must not matter
    pygrad.rand(100)
    assert main(common + ["--epochs", "1", "--out", str(tmp_path / "b"),
                          "--resume", str(tmp_path / "b" / "checkpoint.pth")]) == 0
    capsys.readouterr()
    a = pygrad.load(tmp_path / "a" / "checkpoint.pth")
    b = pygrad.load(tmp_path / "b" / "checkpoint.pth")
    assert a["epoch"] == b["epoch"] == 2
    for k, v in a["model"].items():
        assert pygrad.equal(v.cpu(), b["model"][k].cpu()), k
    assert a["history"]["loss"] == b["history"]["loss"]
