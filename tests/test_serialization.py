"""pygrad.save / pygrad.load: round trips, shared storages, map_location, the weights_only guard,
corrupt files and atomic saves."""
import collections
import copy
import io
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

import pygrad as torch
from pygrad import optim
from pygrad.serialization import add_safe_globals, clear_safe_globals

ALL_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
              torch.float32, torch.float64]


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **load_kwargs)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.cpu().numpy(), b.cpu().numpy())


def parameter_class():
    """``nn.Parameter`` once pygrad.nn exists; a stand-in that is not a Parameter otherwise."""
    try:
        from pygrad.nn import Parameter
    except ImportError:
        return None
    return Parameter


# -- module-level classes (pickle finds classes by module and name) -------------------------------------
class TinyModel:
    """A stand-in model: two trainable tensors and a state_dict."""

    def __init__(self):
        self.weight = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        self.bias = torch.tensor([0.5, -0.5], requires_grad=True)

    def parameters(self):
        return [self.weight, self.bias]

    def state_dict(self):
        return collections.OrderedDict(weight=self.weight.detach(), bias=self.bias.detach())


class Evil:
    """Unpickling this runs a shell command: the weights_only guard must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


# -- round trips --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: d.name)
def test_every_dtype_round_trips(dtype):
    data = np.arange(-3, 9).reshape(3, 4)
    t = torch.tensor(data % 2 == 0 if dtype is torch.bool else data % 250, dtype=dtype)
    back = roundtrip({"t": t, "scalar": t[1, 2], "empty": t[:0], "noncontig": t.t()})
    assert same(back["t"], t) and same(back["scalar"], t[1, 2]) and same(back["empty"], t[:0])
    assert same(back["noncontig"], t.t()) and back["noncontig"].stride() == t.t().stride()


def test_float_values_exact_and_requires_grad_kept():
    t = torch.tensor([np.pi, -0.0, np.inf, np.nan, 1e-40], dtype=torch.float64, requires_grad=True)
    back = roundtrip(t)
    assert back.requires_grad and back.is_leaf
    np.testing.assert_array_equal(back.detach().cpu().numpy(), t.detach().cpu().numpy())
    assert np.signbit(back.detach().cpu().numpy()[1])


def test_views_share_storage_after_load():
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"base": base, "row": base[1], "col": base[:, 2], "tail": base.view(-1)[5:]}
    buf = io.BytesIO()
    torch.save(obj, buf)
    names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    assert [n for n in names if "/data/" in n] == ["archive/data/0"]  # one storage record for all four
    assert "archive/data.pkl" in names
    buf.seek(0)
    back = torch.load(buf)
    assert back["row"].tolist() == [4.0, 5.0, 6.0, 7.0] and back["col"].tolist() == [2.0, 6.0, 10.0]
    assert back["tail"].storage_offset() == 5
    back["base"][1, 2] = 100.0
    assert back["row"][2].item() == 100.0 and back["col"][1].item() == 100.0 and back["tail"][1].item() == 100.0
    assert base[1, 2].item() == 6.0  # the original is untouched


def test_separate_storages_stay_separate():
    a, b = torch.zeros(2), torch.zeros(2)
    back = roundtrip([a, b, a])
    back[0][0] = 1.0
    assert back[2][0].item() == 1.0 and back[1][0].item() == 0.0
    assert back[0] is back[2]  # pickle's memo keeps identity too


def test_nested_containers_and_plain_values():
    obj = {
        "list": [1, 2.5, "three", None, True, (4, [5, torch.ones(2)])],
        "od": collections.OrderedDict(b=torch.tensor([1]), a=2),
        "set": {1, 2}, "frozen": frozenset({"x"}), "bytes": b"\x00\xff", "complex": 1 + 2j,
        "dtype": torch.float16, "device": torch.device("cpu"), "size": torch.Size([2, 3]),
        "big": 2 ** 70, "inf": float("inf"),
    }
    back = roundtrip(obj)
    assert list(back["od"]) == ["b", "a"] and isinstance(back["od"], collections.OrderedDict)
    assert back["list"][:5] == [1, 2.5, "three", None, True] and back["list"][5][1][1].tolist() == [1.0, 1.0]
    assert back["set"] == {1, 2} and back["frozen"] == frozenset({"x"}) and back["bytes"] == b"\x00\xff"
    assert back["complex"] == 1 + 2j and back["dtype"] is torch.float16 and back["device"] == torch.device("cpu")
    assert back["size"] == (2, 3) and isinstance(back["size"], torch.Size) and back["big"] == 2 ** 70


def test_parameters_and_model_state_dict():
    model = TinyModel()
    back = roundtrip(model.state_dict())
    assert list(back) == ["weight", "bias"] and same(back["weight"], model.weight.detach())
    assert not back["weight"].requires_grad
    Parameter = parameter_class()
    if Parameter is not None:
        p = Parameter(torch.ones(2, 2))
        q = roundtrip({"p": p, "frozen": Parameter(torch.zeros(1), requires_grad=False)})
        assert type(q["p"]) is Parameter and q["p"].requires_grad and same(q["p"].detach(), p.detach())
        assert type(q["frozen"]) is Parameter and not q["frozen"].requires_grad


def test_whole_object_needs_weights_only_false(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(TinyModel(), path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        torch.load(path)
    model = torch.load(path, weights_only=False)
    assert isinstance(model, TinyModel) and model.weight.requires_grad
    assert model.bias.tolist() == [0.5, -0.5]


def test_module_instance_round_trip_when_nn_exists(tmp_path):
    try:
        from pygrad import nn
        net = nn.Linear(3, 2)
    except (ImportError, AttributeError):
        net = TinyModel()  # pygrad.nn not written yet: the stand-in takes its place
    torch.save(net, tmp_path / "net.pt")
    back = torch.load(tmp_path / "net.pt", weights_only=False)
    assert type(back) is type(net)
    for a, b in zip(back.parameters(), net.parameters()):
        assert same(a.detach(), b.detach()) and a.requires_grad


def test_optimizer_state_dict_round_trip_continues_identically(tmp_path):
    def make(values):
        ps = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
        return ps, optim.Adam(ps, lr=0.05, amsgrad=True)

    def steps(ps, opt, n):
        for _ in range(n):
            for p in ps:
                p.grad = (p * p).sin().detach()
            opt.step()

    ps, opt = make([[1.0, -2.0], [0.5]])
    steps(ps, opt, 3)
    torch.save({"optim": opt.state_dict(), "params": [p.detach() for p in ps]}, tmp_path / "ckpt.pt")
    ckpt = torch.load(tmp_path / "ckpt.pt")
    assert ckpt["optim"]["state"][0]["step"].item() == 3.0
    group = ckpt["optim"]["param_groups"][0]
    assert group["params"] == [0, 1] and group["betas"] == (0.9, 0.999)
    ps2, opt2 = make([p.tolist() for p in ckpt["params"]])
    opt2.load_state_dict(ckpt["optim"])
    steps(ps, opt, 3)
    steps(ps2, opt2, 3)
    assert [p.tolist() for p in ps] == [p.tolist() for p in ps2]


# -- paths and file objects ---------------------------------------------------------------------------
def test_str_path_pathlike_and_file_objects(tmp_path):
    t = torch.arange(6).reshape(2, 3)
    torch.save(t, str(tmp_path / "a.pt"))
    assert same(torch.load(str(tmp_path / "a.pt")), t)
    torch.save(t, tmp_path / "b.pt")
    assert same(torch.load(pathlib.Path(tmp_path / "b.pt")), t)
    with open(tmp_path / "c.pt", "wb") as f:
        torch.save(t, f)
        assert not f.closed
    with open(tmp_path / "c.pt", "rb") as f:
        assert same(torch.load(f), t)
    assert zipfile.is_zipfile(tmp_path / "c.pt")


# -- map_location -------------------------------------------------------------------------------------
def test_map_location_forms():
    obj = {"a": torch.arange(4.0, device="cpu"), "v": None}
    obj["v"] = obj["a"][1:]
    for loc in (None, "cpu", torch.device("cpu"), {"cpu": "cpu"}):
        back = roundtrip(obj, map_location=loc)
        assert back["a"].device == torch.device("cpu") and back["v"].tolist() == [1.0, 2.0, 3.0]
    calls = []

    def fn(storage, location):
        calls.append((location, storage.shape))
        return storage.to(torch.float64)  # a callable may hand back another storage

    back = roundtrip(obj, map_location=fn)
    assert calls == [("cpu", (4,))]  # once per storage, not once per tensor
    assert back["v"].dtype == torch.float64 and back["v"].tolist() == [1.0, 2.0, 3.0]
    back["a"][1] = 7.0
    assert back["v"][0].item() == 7.0
    assert roundtrip(obj, map_location=lambda s, loc: None)["v"].tolist() == [1.0, 2.0, 3.0]


# -- the weights_only guard ---------------------------------------------------------------------------
def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.ones(2), "payload": Evil(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only") as info:
        torch.load(path)
    assert "system" in str(info.value)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        torch.load(path, weights_only=True, map_location="cpu")
    assert not marker.exists()


def test_raw_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Evil(marker), protocol=2))
    with pytest.raises(RuntimeError, match="zip archive"):
        torch.load(path)
    assert not marker.exists()


def test_safe_globals_allow_trusted_classes():
    obj = {"p": Point(1, torch.ones(1))}
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        roundtrip(obj)
    add_safe_globals([Point])
    try:
        back = roundtrip(obj)
        assert isinstance(back["p"], Point) and back["p"].y.tolist() == [1.0]
    finally:
        clear_safe_globals()


def test_explicit_pickle_module_needs_weights_only_false():
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        torch.load(io.BytesIO(), pickle_module=pickle)
    buf = io.BytesIO()
    torch.save([torch.ones(1)], buf, pickle_module=pickle, pickle_protocol=4)
    buf.seek(0)
    assert torch.load(buf, pickle_module=pickle, weights_only=False)[0].tolist() == [1.0]


# -- broken files -------------------------------------------------------------------------------------
def test_truncated_and_corrupt_files_raise_runtime_error(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.arange(1000.0)}, path)
    good = path.read_bytes()
    at = good.index(np.arange(1000.0, dtype=np.float32)[500:502].tobytes())  # inside the storage bytes
    cases = {
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "garbage": bytes(range(256)) * 4,
        "flipped": good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:],  # inside the storage bytes: bad CRC
    }
    for name, data in cases.items():
        bad = tmp_path / f"{name}.pt"
        bad.write_bytes(data)
        with pytest.raises(RuntimeError) as info:
            torch.load(bad)
        assert "truncated" in str(info.value) or "corrupt" in str(info.value), name
    with pytest.raises(FileNotFoundError):
        torch.load(tmp_path / "missing.pt")


def test_missing_storage_record_raises_runtime_error(tmp_path):
    src = io.BytesIO()
    torch.save(torch.ones(3), src)
    with zipfile.ZipFile(io.BytesIO(src.getvalue())) as zin, zipfile.ZipFile(tmp_path / "x.pt", "w") as zout:
        for name in zin.namelist():
            if not name.endswith("data/0"):
                zout.writestr(name, zin.read(name))
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        torch.load(tmp_path / "x.pt")


# -- atomic saves -------------------------------------------------------------------------------------
def test_save_to_path_is_atomic(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"v": torch.ones(3)}, path)
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        torch.save({"v": torch.zeros(3), "bad": lambda: 0}, path)  # fails half-way through pickling
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temporary file left behind
    assert torch.load(path)["v"].tolist() == [1.0, 1.0, 1.0]  # the old checkpoint is intact
    torch.save({"v": torch.zeros(3)}, path)  # overwriting works
    assert torch.load(path)["v"].tolist() == [0.0, 0.0, 0.0] and os.listdir(tmp_path) == ["ckpt.pt"]


# -- plain pickle and deepcopy (Tensor.__reduce_ex__ -> reduce_tensor) -------------------------------------
def test_plain_pickle_and_deepcopy_of_tensors():
    t = torch.arange(6.0).reshape(2, 3).t()
    t.requires_grad_(True)
    for back in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert same(back.detach(), t.detach()) and back.requires_grad and back.is_leaf
    i = pickle.loads(pickle.dumps(torch.tensor([1, 2], dtype=torch.int16)))
    assert i.dtype == torch.int16 and i.tolist() == [1, 2]
    Parameter = parameter_class()
    if Parameter is not None:
        p = pickle.loads(pickle.dumps(Parameter(torch.ones(2))))
        assert type(p) is Parameter and p.requires_grad
