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
