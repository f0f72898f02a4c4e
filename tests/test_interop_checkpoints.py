"""PyTorch's checkpoint format both ways, without PyTorch: the byte layout pygrad.save writes, the
PyTorch-written fixtures in tests/data/ (made by tests/data/make_torch_fixtures.py: the seeds' model
state_dict, an Adam state_dict, the legacy pre-1.6 format, a whole-module pickle), a file of an earlier
pygrad version, map_location, and (only where torch is importable) torch.load of pygrad's files."""
import collections
import io
import os
import pickle
import pickletools
import re
import struct
import warnings
import zipfile

import numpy as np
import pytest

import pygrad
from pygrad import nn, optim

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def pattern(n, k):
    """The fixture generator's values: multiples of 1/64, exact in float32."""
    return (((np.arange(n, dtype=np.int64) * 7 + k * 13) % 251 - 125) / 64).astype(np.float32)


def saved_bytes(obj):
    buf = io.BytesIO()
    pygrad.save(obj, buf)
    return buf.getvalue()


# -- the byte layout of pygrad.save ---------------------------------------------------------------------------
def test_save_writes_pytorchs_zip_layout():
    base = pygrad.arange(6.0).reshape(2, 3)
    blob = saved_bytes({"a": base, "row": base[1], "i": pygrad.tensor([1, 2]), "p": nn.Parameter(pygrad.ones(2))})
    zf = zipfile.ZipFile(io.BytesIO(blob))
    names = zf.namelist()
    assert names == ["archive/data.pkl", "archive/.format_version", "archive/.storage_alignment",
                     "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2", "archive/version",
                     "archive/.data/serialization_id"]
    assert zf.read("archive/version") == b"3\n" and zf.read("archive/byteorder") == b"little"
    assert zf.read("archive/.format_version") == b"1" and zf.read("archive/.storage_alignment") == b"64"
    assert re.fullmatch(rb"\d{40}", zf.read("archive/.data/serialization_id"))
    for info in zf.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        name_len, extra_len = struct.unpack_from("<HH", blob, info.header_offset + 26)
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0, info.filename  # records 64-aligned
    assert zf.read("archive/data/0") == np.arange(6, dtype="<f4").tobytes()  # one record for base and row
    assert zf.read("archive/data/1") == np.array([1, 2], dtype="<i8").tobytes()
    ops = list(pickletools.genops(zf.read("archive/data.pkl")))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert globals_ == {"torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter", "torch FloatStorage",
                        "torch LongStorage", "collections OrderedDict"}
    assert sum(op.name == "BINPERSID" for op, _, _ in ops) == 4


def test_persistent_ids_are_pytorchs_storage_tuples():
    pids = []

    class Named(str):
        def __call__(self, *args):
            return None

    class Spy(pickle.Unpickler):
        def find_class(self, module, name):
            return Named(f"{module}.{name}")

        def persistent_load(self, pid):
            pids.append(pid)
            return pid

    x = pygrad.arange(10, dtype=pygrad.int16)
    Spy(io.BytesIO(zipfile.ZipFile(io.BytesIO(saved_bytes([x[2:], x]))).read("archive/data.pkl"))).load()
    assert pids == [("storage", "torch.ShortStorage", "0", "cpu", 10)] * 2


def test_views_and_dtypes_round_trip_through_the_new_format():
    base = pygrad.arange(24.0).reshape(2, 3, 4)
    obj = {"t": base.transpose(0, 2), "s": base[1, :, 1:3], "e": base[:0], "z": pygrad.tensor(3.5),
           "h": pygrad.tensor([1.5, -2.0], dtype=pygrad.float16), "b": pygrad.tensor([True, False])}
    back = pygrad.load(io.BytesIO(saved_bytes(obj)))
    for k, v in obj.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and back[k].tolist() == v.tolist(), k
    assert back["t"].stride() == (1, 4, 12) and back["s"].storage_offset() == 13
    back["t"][1, 2, 1] = -1.0
    assert back["s"][2, 0].item() == -1.0  # one storage, still shared


def test_compressed_records_load_too():
    """Some tools re-zip checkpoints with deflate: such records are streamed (and capped) instead of read in place."""
    base = pygrad.arange(1000.0).reshape(10, 100)
    src = zipfile.ZipFile(io.BytesIO(saved_bytes({"b": base, "c": base[:, 3]})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            z.writestr(name, src.read(name))
    back = pygrad.load(io.BytesIO(out.getvalue()))
    assert back["b"].tolist() == base.tolist() and back["c"].tolist() == base[:, 3].tolist()


# -- PyTorch-written fixtures ---------------------------------------------------------------------------------
def test_seeds_model_state_dict_written_by_torch():
    sd = pygrad.load(os.path.join(DATA, "torch_seeds_model_state_dict.pt"))
    shapes = {"features.0.weight": (20, 3, 5, 5), "features.0.bias": (20,), "features.2.weight": (10, 20, 3, 3),
              "features.2.bias": (10,), "fc.weight": (2, 10240), "fc.bias": (2,)}
    assert isinstance(sd, collections.OrderedDict) and list(sd) == list(shapes)
    for k, (name, shape) in enumerate(shapes.items()):
        t = sd[name]
        assert t.shape == shape and t.dtype == pygrad.float32 and not t.requires_grad
        np.testing.assert_array_equal(t.numpy().reshape(-1), pattern(int(np.prod(shape)), k))
    assert sd._metadata["fc"] == {"version": 1}  # the OrderedDict attribute BUILD sets

    class MyModel(nn.Module):  # the seeds' chapter 1.5.1 model
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 20, 5), nn.ReLU(), nn.Conv2d(20, 10, 3))
            self.avgpool = nn.AdaptiveAvgPool2d((32, 32))
            self.fc = nn.Linear(10 * 32 * 32, 2)

    model = MyModel()
    model.load_state_dict(sd)
    np.testing.assert_array_equal(model.fc.bias.detach().numpy(), pattern(2, 5))
    # ... and back: pygrad's file of that model holds the same tensors.
    again = pygrad.load(io.BytesIO(saved_bytes(model.state_dict())))
    for name in shapes:
        np.testing.assert_array_equal(again[name].numpy(), sd[name].numpy())


ADAM_PARAMS = [[[-1.7204725742340088, -1.6111611127853394, -1.5018681287765503],
                [-1.392601728439331, -1.2833765745162964, -1.1742188930511475]],
               [-1.5192515850067139, -1.41141676902771]]
ADAM_STATE_1 = [[-0.14550000429153442, -0.09212500602006912], [0.003988246433436871, 0.002220539143308997],
                [0.003988246433436871, 0.002240502741187811]]
ADAM_AFTER_STEP_4 = [[[-1.7133896350860596, -1.6045547723770142, -1.4959145784378052],
                      [-1.387495756149292, -1.2793692350387573, -1.1716110706329346]],
                     [-1.516313910484314, -1.4116605520248413]]


def test_adam_state_dict_written_by_torch_continues_in_pygrad():
    ckpt = pygrad.load(os.path.join(DATA, "torch_adam_state_dict.pt"))
    assert ckpt["epoch"] == 3
    state, group = ckpt["optimizer"]["state"], ckpt["optimizer"]["param_groups"][0]
    assert group["params"] == [0, 1] and group["betas"] == (0.8, 0.99) and group["lr"] == 0.01 and group["amsgrad"]
    assert state[0]["step"].item() == 3.0 and state[0]["step"].dim() == 0
    got = [state[1][k].tolist() for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")]
    np.testing.assert_allclose(got, ADAM_STATE_1, rtol=0, atol=0)
    np.testing.assert_array_equal(ckpt["params"][0].numpy(), np.float32(ADAM_PARAMS[0]))
    w = nn.Parameter(ckpt["params"][0].clone())
    b = nn.Parameter(ckpt["params"][1].clone())
    opt = optim.Adam([w, b], lr=0.5, betas=(0.5, 0.5), amsgrad=True)
    opt.load_state_dict(ckpt["optimizer"])
    w.grad, b.grad = pygrad.tensor(pattern(6, 10).reshape(2, 3)), pygrad.tensor(pattern(2, 11))
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), ADAM_AFTER_STEP_4[0], rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), ADAM_AFTER_STEP_4[1], rtol=1e-6)


def test_legacy_format_written_by_torch():
    d = pygrad.load(os.path.join(DATA, "torch_legacy_format.pt"))
    assert list(d) == ["base", "row", "col", "ints", "flags", "half"]
    base = pattern(12, 4).reshape(3, 4)
    np.testing.assert_array_equal(d["base"].numpy(), base)
    np.testing.assert_array_equal(d["col"].numpy(), base[:, 2])
    assert d["ints"].tolist() == [-2, -1, 0, 1, 2] and d["ints"].dtype == pygrad.int64
    assert d["flags"].tolist() == [True, False, True] and d["half"].dtype == pygrad.float16
    assert d["half"].tolist() == [0.5, -2.0]
    d["base"][1, 2] = 99.0
    assert d["row"][2].item() == 99.0 and d["col"][1].item() == 99.0  # one storage
    moved = pygrad.load(os.path.join(DATA, "torch_legacy_format.pt"), map_location=lambda s, loc: s.double())
    assert moved["row"].dtype == pygrad.float64 and moved["row"].tolist() == base[1].tolist()


MODULE_OUTPUT = [[-0.8725700378417969, -0.8438436985015869, -0.8093010783195496]]


def test_whole_module_pickle_written_by_torch():
    path = os.path.join(DATA, "torch_whole_module.pt")
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL torch.nn.modules.container.Sequential"):
        pygrad.load(path)
    net = pygrad.load(path, weights_only=False)
    assert type(net) is nn.Sequential and [type(m).__name__ for m in net] == \
        ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Tanh"]
    assert isinstance(net[0].weight, nn.Parameter) and net[0].weight.requires_grad
    assert list(net.state_dict()) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    x = pygrad.tensor(pattern(16, 9).reshape(1, 1, 4, 4))
    np.testing.assert_allclose(net(x).detach().numpy(), MODULE_OUTPUT, rtol=1e-6)
    net.train()
    loss = net(x).sum()
    loss.backward()
    assert net[4].weight.grad.shape == (3, 8)


def test_file_of_an_earlier_pygrad_version_still_loads():
    d = pygrad.load(os.path.join(DATA, "pygrad_v1_checkpoint.pt"))
    assert d["base"].tolist() == np.arange(12.0).reshape(3, 4).tolist() and d["col"].tolist() == [2.0, 6.0, 10.0]
    assert d["ints"].tolist() == [-2, 7] and type(d["p"]) is nn.Parameter and d["p"].requires_grad
    assert d["dtype"] is pygrad.float16 and d["size"] == (2, 3) and d["od"] == {"a": 1} and d["epoch"] == 7
    d["base"][0, 2] = -5.0
    assert d["col"][0].item() == -5.0


# -- map_location ------------------------------------------------------------------------------------------
def _cuda_checkpoint():
    """A PyTorch-format file whose storage was saved on cuda:0."""
    blob = saved_bytes({"w": pygrad.arange(3.0)})
    zin = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(name, data)
    return out.getvalue()


def test_cuda_locations_load_on_the_cpu_with_a_note():
    blob = _cuda_checkpoint()
    with pytest.warns(UserWarning, match="saved on 'cuda:0' is loaded on the CPU"):
        d = pygrad.load(io.BytesIO(blob))
    assert d["w"].device == pygrad.device("cpu") and d["w"].tolist() == [0.0, 1.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loc in ("cpu", pygrad.device("cpu"), {"cuda:0": "cpu"}):
            assert pygrad.load(io.BytesIO(blob), map_location=loc)["w"].device.type == "cpu"
    seen = []
    pygrad.load(io.BytesIO(blob), map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cuda:0"]


def test_map_location_opencl(device):
    if device != "opencl":
        pytest.skip("needs an OpenCL device")
    obj = {"a": pygrad.arange(4.0)}
    obj["v"] = obj["a"][1:]
    for loc in ("opencl", {"cpu": "opencl"}):
        back = pygrad.load(io.BytesIO(saved_bytes(obj)), map_location=loc)
        assert back["v"].device.type == "opencl" and back["v"].tolist() == [1.0, 2.0, 3.0]
        back["a"][1] = 7.0
        assert back["v"][0].item() == 7.0
    on_device = {"x": pygrad.arange(5.0, device="opencl")[1:]}
    back = pygrad.load(io.BytesIO(saved_bytes(on_device)))  # restored where it was saved
    assert back["x"].device.type == "opencl" and back["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert pygrad.load(io.BytesIO(saved_bytes(on_device)), map_location="cpu")["x"].device.type == "cpu"


# -- with PyTorch, where it is installed -------------------------------------------------------------------------
def test_torch_reads_pygrad_checkpoints_and_pygrad_reads_torchs(tmp_path):
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(pygrad.ones(2, 3)).sum().backward()
    opt.step()
    base = pygrad.arange(12.0).reshape(3, 4)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 5,
            "nested": [base, (base.t(), {"row": base[1]})], "half": pygrad.tensor([1.5], dtype=pygrad.float16),
            "dtype": pygrad.int16, "size": pygrad.Size([4, 5])}
    path = tmp_path / "pg.pt"
    pygrad.save(ckpt, path)
    t = torch.load(path, weights_only=True)
    for k, v in ckpt["model"].items():
        np.testing.assert_array_equal(t["model"][k].numpy(), v.numpy())
    for i, st in ckpt["optimizer"]["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(t["optimizer"]["state"][i][k].numpy(), v.numpy())
    assert t["optimizer"]["param_groups"][0]["params"] == [0, 1, 2, 3] and t["epoch"] == 5
    tb, (tt, inner) = t["nested"]
    assert tt.stride() == (1, 4) and tb.untyped_storage().data_ptr() == inner["row"].untyped_storage().data_ptr()
    assert t["dtype"] is torch.int16 and t["size"] == torch.Size([4, 5]) and t["half"].dtype == torch.float16
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tmodel.load_state_dict(t["model"])
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(tmodel(torch.tensor(x)).detach().numpy(), model(pygrad.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # the other way round
    tpath = tmp_path / "torch.pt"
    torch.save({"sd": tmodel.state_dict(), "v": torch.arange(10)[2::3]}, tpath)
    back = pygrad.load(tpath)
    assert back["v"].tolist() == [2, 5, 8] and back["v"].stride() == (3,)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model2.load_state_dict(back["sd"])
    np.testing.assert_array_equal(model2(pygrad.tensor(x)).detach().numpy(), model(pygrad.tensor(x)).detach().numpy())
