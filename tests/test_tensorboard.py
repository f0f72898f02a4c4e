"""Issue 14: ``pygrad.utils.tensorboard.SummaryWriter`` writes real TensorBoard event files (read back here)."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import pygrad as torch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader  # noqa: E402  (raw events)
from tensorboard.compat.proto import graph_pb2  # noqa: E402

from pygrad.utils.tensorboard import SummaryWriter  # noqa: E402


def _events(folder):
    files = sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*")))
    assert files, f"no event file in {folder}"
    return [e for f in files for e in LegacyEventFileLoader(f).Load()]


def _values(events):
    return [(e.step, v) for e in events if e.HasField("summary") for v in e.summary.value]


def test_scalars_histogram_image_text(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("acc", torch.tensor(0.75), 7)
        w.add_histogram("weights", torch.tensor([-1.0, 0.0, 0.5, 0.5, 2.0]), 1)
        w.add_histogram("uniform", np.arange(100.0), 2, bins=10)
        w.add_image("img", torch.ones(3, 4, 5) * 0.5, 3)
        w.add_image("gray", np.zeros((6, 7), dtype=np.uint8), 4, dataformats="HW")
        w.add_text("note", "hello", 5)
        w.flush()
    vals = _values(_events(str(tmp_path)))
    scalars = [(s, v.tag, round(v.simple_value, 6)) for s, v in vals if v.HasField("simple_value")]
    assert scalars == [(0, "loss/train", 1.0), (1, "loss/train", 0.5), (2, "loss/train", 0.333333), (7, "acc", 0.75)]
    hist = {v.tag: (s, v.histo) for s, v in vals if v.HasField("histo")}
    s, h = hist["weights"]
    assert s == 1 and h.num == 5 and h.min == -1.0 and h.max == 2.0 and h.sum == 2.0 and h.sum_squares == 5.5
    assert sum(h.bucket) == 5 and len(h.bucket) == len(h.bucket_limit)
    assert list(hist["uniform"][1].bucket) == [10.0] * 10
    images = {v.tag: (s, v.image) for s, v in vals if v.HasField("image")}
    s, im = images["img"]
    assert s == 3 and (im.height, im.width, im.colorspace) == (4, 5, 3)
    assert im.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    import io
    px = np.asarray(Image.open(io.BytesIO(im.encoded_image_string)))
    assert px.shape == (4, 5, 3) and (px == 128).all()
    assert (images["gray"][1].height, images["gray"][1].width, images["gray"][1].colorspace) == (6, 7, 1)
    assert any(v.tag.startswith("note") for _, v in vals)


def test_add_scalars_writes_one_run_per_key(tmp_path):
    w = SummaryWriter(str(tmp_path))
    w.add_scalars("run", {"a": 1.0, "b": 2.0}, 0)
    w.add_scalars("run", {"a": 3.0, "b": 4.0}, 1)
    w.close()
    for key, expected in (("a", [1.0, 3.0]), ("b", [2.0, 4.0])):
        got = [(s, v.tag, v.simple_value) for s, v in _values(_events(str(tmp_path / f"run_{key}")))]
        assert got == [(0, "run", expected[0]), (1, "run", expected[1])]


def test_add_graph(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(model, torch.ones(5, 3))
    graphs = [e.graph_def for e in _events(str(tmp_path)) if e.graph_def]
    assert len(graphs) == 1
    g = graph_pb2.GraphDef.FromString(graphs[0])
    ops = [n.op for n in g.node]
    assert ops.count("Parameter") == 4 and "AddmmBackward0" in ops and "ReluBackward0" in ops and "Output" in ops
    names = {n.name for n in g.node}
    assert "params/0/weight" in names and "params/2/bias" in names
    for n in g.node:  # every edge points at a node of the graph
        assert all(i in names for i in n.input)


def test_default_log_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    w.add_scalar("x", 1.0, 0)
    w.close()
    runs = os.listdir(tmp_path / "runs")
    assert len(runs) == 1 and runs[0].endswith("_exp")


def test_clear_import_error_without_tensorboard():
    code = ("import sys\n"
            "sys.modules['tensorboard'] = None\n"
            "try:\n"
            "    import pygrad.utils.tensorboard\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "needs the 'tensorboard' package (pip install tensorboard)" in r.stdout, r.stdout + r.stderr
