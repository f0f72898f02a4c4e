"""pygrad.profiler: per-op rows (calls, host/self time, launches, bytes, device time), Chrome trace, no cost off."""
import json

import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.autograd import engine
from pygrad.autograd.function import Function
from pygrad.profiler import ProfilerActivity, profile, record_function


def _step(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(4, 6, device=device), torch.randint(0, 3, (4,), device=device)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    step()  # kernels built, momentum buffers created
    return step


def test_rows_of_a_training_step(device):
    step = _step(device)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.OPENCL] if device == "opencl" else [])
    with profile(activities=acts) as prof:
        with record_function("train_step"):
            step()
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["train_step"].count == 1
    assert rows["NllLoss"].count == 1
    assert rows["autograd::engine::evaluate_function: NllLossBackward0"].count == 1
    assert rows["Optimizer.step#SGD.step"].count == 1
    for r in rows.values():
        assert 0 <= r.self_cpu_time_total <= r.cpu_time_total + 1e-6
    # the block's total covers everything inside it
    assert rows["train_step"].cpu_time_total >= max(r.cpu_time_total for k, r in rows.items() if k != "train_step")
    if device == "opencl":
        assert rows["Optimizer.step#SGD.step"].launches == 4  # one fused kernel per parameter
        assert rows["NllLoss"].launches == 1
        assert sum(r.device_time_total for r in rows.values()) > 0
    else:
        assert all(r.launches == 0 and r.device_time_total == 0 for r in rows.values())
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    lines = table.splitlines()
    assert "Self CPU %" in lines[1] and "# of Calls" in lines[1] and "Launches" in lines[1]
    assert len(lines) == 3 + 5 + 2 + (1 if device == "opencl" else 0)
    assert lines[-1 if device == "cpu" else -2].startswith("Self CPU time total:")
    self_times = [r.self_cpu_time_total for r in sorted(prof.key_averages(), key=lambda r: -r.self_cpu_time_total)]
    assert self_times == sorted(self_times, reverse=True)


@pytest.mark.skipif(not torch.opencl.is_available(), reason="no OpenCL device")
def test_bytes_between_host_and_device():
    with profile() as prof:
        with record_function("upload"):
            t = torch.tensor([1.0, 2.0, 3.0, 4.0], device="opencl")
        with record_function("download"):
            t.cpu()
    # bytes and launches count where they happen: in the innermost op (here the copy inside .to / .cpu)
    rows = prof.key_averages()
    assert sum(r.h2d_bytes for r in rows) == 16
    assert sum(r.d2h_bytes for r in rows) == 16


def test_chrome_trace(tmp_path, device):
    step = _step(device)
    acts = [ProfilerActivity.CPU, ProfilerActivity.OPENCL] if device == "opencl" else None
    with profile(activities=acts) as prof:
        step()
    path = prof.export_chrome_trace(str(tmp_path / "trace.json"))
    events = json.load(open(path))["traceEvents"]
    assert {e["ph"] for e in events} == {"X"}
    names = {e["name"] for e in events}
    assert "NllLoss" in names and "Optimizer.step#SGD.step" in names
    assert all(e["dur"] >= 0 for e in events)
    if device == "opencl":
        assert any(e["cat"] == "kernel" and e["name"] == "sgd_k" for e in events)


def test_no_cost_when_off():
    apply, engine_apply = Function.__dict__["apply"], engine._apply
    with profile():
        assert Function.__dict__["apply"] is not apply
    assert Function.__dict__["apply"] is apply and engine._apply is engine_apply
    with profile(enabled=False) as prof:
        assert Function.__dict__["apply"] is apply
        torch.ones(2) + 1
    assert len(prof.key_averages()) == 0


def test_errors():
    with profile():
        with pytest.raises(RuntimeError, match="already running"):
            profile().__enter__()
    with profile() as prof:
        torch.ones(2) + 1
    with pytest.raises(ValueError, match="sort_by must be one of"):
        prof.key_averages().table(sort_by="nonsense")
