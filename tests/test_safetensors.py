"""pygrad.utils.safetensors: round trips through the safetensors package's NumPy API and through pygrad's
own reader/writer, the file written by the package's PyTorch API in tests/data/, and header validation
of untrusted files."""
import json
import os
import struct

import numpy as np
import pytest

import pygrad
from pygrad import nn
from pygrad.utils import safetensors as st

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
HAVE_PACKAGE = st._package() is not None


def pattern(n, k):
    return (((np.arange(n, dtype=np.int64) * 7 + k * 13) % 251 - 125) / 64).astype(np.float32)


@pytest.fixture(params=["package", "own"])
def impl(request, monkeypatch):
    """Run a test with the safetensors package (when installed) and with pygrad's own reader/writer."""
    if request.param == "package" and not HAVE_PACKAGE:
        pytest.skip("the safetensors package is not installed")
    if request.param == "own":
        monkeypatch.setattr(st, "_package", lambda: None)
    return request.param


def tensors():
    base = pygrad.arange(12.0).reshape(3, 4)
    return {"w": base, "wt": base.t(), "row": base[1], "i": pygrad.tensor([[-1, 2]], dtype=pygrad.int64),
            "b": pygrad.tensor([True, False, True]), "h": pygrad.tensor([0.5, -1.5], dtype=pygrad.float16),
            "u8": pygrad.tensor([255, 0], dtype=pygrad.uint8), "i8": pygrad.tensor([-128], dtype=pygrad.int8),
            "i16": pygrad.tensor([300], dtype=pygrad.int16), "i32": pygrad.tensor([7], dtype=pygrad.int32),
            "d": pygrad.tensor(2.5, dtype=pygrad.float64), "empty": pygrad.zeros(0, 3)}


def test_round_trip(tmp_path, impl):
    path = tmp_path / "t.safetensors"
    src = tensors()
    st.save_file(src, path, metadata={"format": "pt", "note": "hi"})
    back = st.load_file(path)
    assert list(back) == sorted(src) or set(back) == set(src)
    for k, v in src.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and back[k].tolist() == v.tolist(), k
    assert st.metadata(path) == {"format": "pt", "note": "hi"}
    back["w"][0, 0] = 9.0  # writable, and each name is its own tensor
    assert back["wt"][0, 0].item() == 0.0


def test_own_writer_matches_the_package_bit_for_bit(tmp_path):
    if not HAVE_PACKAGE:
        pytest.skip("the safetensors package is not installed")
    src = tensors()
    st.save_file(src, tmp_path / "pkg.safetensors", metadata={"a": "b"})
    assert st.save(src, metadata={"a": "b"}) == (tmp_path / "pkg.safetensors").read_bytes()
    back = st.load(st.save(src))
    assert back["wt"].tolist() == src["wt"].tolist()


def test_file_written_by_torch(impl):
    d = st.load_file(os.path.join(DATA, "torch_model.safetensors"))
    np.testing.assert_array_equal(d["linear.weight"].numpy(), pattern(12, 0).reshape(3, 4))
    np.testing.assert_array_equal(d["linear.bias"].numpy(), pattern(3, 1))
    assert d["steps"].tolist() == [0, -3, -6, -9, -12] and d["steps"].dtype == pygrad.int64
    assert d["mask"].tolist() == [[True, False], [False, True]]
    assert d["half"].dtype == pygrad.float16 and d["half"].numpy().tolist() == \
        pattern(6, 2).astype(np.float16).reshape(3, 2).tolist()
    assert d["scalar"].dim() == 0 and d["scalar"].item() == 0.25 and d["scalar"].dtype == pygrad.float64
    assert st.metadata(os.path.join(DATA, "torch_model.safetensors")) == {"format": "pt", "epoch": "3"}
    lin = nn.Linear(4, 3)
    lin.load_state_dict({"weight": d["linear.weight"], "bias": d["linear.bias"]})
    x = pygrad.ones(1, 4)
    np.testing.assert_allclose(lin(x).detach().numpy(), [pattern(12, 0).reshape(3, 4).sum(1) + pattern(3, 1)],
                               rtol=1e-6)


def test_load_to_opencl(tmp_path, device):
    path = tmp_path / "t.safetensors"
    st.save_file({"a": pygrad.arange(3.0, device=device)}, path)
    a = st.load_file(path, device=device)["a"]
    assert a.device.type == device and a.tolist() == [0.0, 1.0, 2.0]


def _file(header, buffer, raw_header=None):
    head = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + buffer


BAD = {
    "offset_past_end": (_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
                        "outside the 4-byte buffer"),
    "size_disagrees": (_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
                       "span 8 bytes"),
    "overlap": (_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "an overlap"),
    "hole": (_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "a hole"),
    "unknown_dtype": (_file({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unknown dtype"),
    "negative_shape": (_file({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}, b""), "invalid shape"),
    "float_offsets": (_file({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1.0]}}, b"\0"),
                      "invalid data_offsets"),
    "header_too_long": (struct.pack("<Q", 2 ** 40) + b"{}", "larger than the file"),
    "not_json": (_file(None, b"", raw_header=b"{nope"), "not valid JSON"),
    "short_file": (b"\x01\x00", "shorter than"),
    "huge_shape": (_file({"a": {"dtype": "F64", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 8]}}, b"\0" * 8),
                   "span 8 bytes"),
    "bad_metadata": (_file({"__metadata__": {"a": 1}}, b""), "__metadata__"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_untrusted_headers_are_validated(tmp_path, impl, name):
    blob, message = BAD[name]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=message):
        st.load_file(path)
    with pytest.raises(ValueError, match=message):
        st.load(blob)


def test_bad_arguments():
    with pytest.raises(TypeError, match="not a Tensor"):
        st.save({"a": [1, 2]})
    with pytest.raises(TypeError, match="str -> str"):
        st.save({"a": pygrad.ones(1)}, metadata={"a": 1})
