"""A malicious-checkpoint corpus built here (overflowing layouts, BUILD of private state, decompression
bombs, truncated records, wrong storage sizes, pickled code), each loaded under the default settings:
a clean error every time, never a crash or a wrong tensor.  The corpus is loaded in a subprocess, so a
crash fails the test instead of killing pytest.  Also: temporaries of killed writers, the
force-no-weights-only environment variables and ``safe_globals``."""
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import pygrad
from pygrad import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- building checkpoints by hand -------------------------------------------------------------------------
def _str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(v):
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _tuple(vals):
    return b"(" + b"".join(_int(v) for v in vals) + b"t"


def tensor_pickle(size, stride, offset, numel, storage="FloatStorage", location="cpu", key="0"):
    """The opcodes torch.save writes for one tensor (without PROTO/STOP)."""
    pid = b"(" + _str("storage") + f"ctorch\n{storage}\n".encode() + _str(key) + _str(location) + _int(numel) + b"t"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"Q" + _int(offset) + _tuple(size) + _tuple(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR")


def checkpoint(pkl_body, records, compress=False):
    """A PyTorch-format zip: ``archive/data.pkl`` = PROTO 2 + body + STOP, plus ``archive/data/<key>``."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + pkl_body + b".")
        zf.writestr("archive/byteorder", "little")
        for key, data in records.items():
            zf.writestr("archive/data/" + key, data)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def patch_declared_size(blob, name, new_size):
    """Rewrite the uncompressed size the zip headers (local and central) declare for ``name``."""
    blob = bytearray(blob)
    info = zipfile.ZipFile(io.BytesIO(bytes(blob))).getinfo(name)
    struct.pack_into("<I", blob, info.header_offset + 22, new_size)
    pos = 0
    while True:
        pos = blob.index(b"PK\x01\x02", pos)
        n = struct.unpack_from("<H", blob, pos + 28)[0]
        if blob[pos + 46:pos + 46 + n] == name.encode():
            struct.pack_into("<I", blob, pos + 24, new_size)
            return bytes(blob)
        pos += 4


def valid_body():
    return tensor_pickle((2, 2), (2, 1), 0, 4)


FLOATS4 = struct.pack("<4f", 1, 2, 3, 4)


def corpus():
    """name -> checkpoint bytes.  Each must fail to load with a clean error."""
    c = {}
    # Overflowing or out-of-range layouts.
    c["stride_2**62"] = checkpoint(tensor_pickle((5,), (2 ** 62,), 0, 4), {"0": FLOATS4})
    c["stride_wraps_int64"] = checkpoint(tensor_pickle((3,), (2 ** 63 - 1,), 0, 4), {"0": FLOATS4})
    c["stride_not_int64"] = checkpoint(tensor_pickle((2,), (2 ** 64,), 0, 4), {"0": FLOATS4})
    c["numel_overflows"] = checkpoint(tensor_pickle((2 ** 32, 2 ** 32, 4), (0, 0, 0), 0, 4), {"0": FLOATS4})
    c["size_negative"] = checkpoint(tensor_pickle((-1, 4), (4, 1), 0, 4), {"0": FLOATS4})
    c["offset_negative"] = checkpoint(tensor_pickle((2,), (1,), -1, 4), {"0": FLOATS4})
    c["offset_past_end"] = checkpoint(tensor_pickle((2,), (1,), 3, 4), {"0": FLOATS4})
    c["negative_stride_below_0"] = checkpoint(tensor_pickle((3,), (-1,), 1, 4), {"0": FLOATS4})
    c["million_elements_of_4"] = checkpoint(tensor_pickle((1000000,), (1,), 0, 4), {"0": FLOATS4})
    c["rank_mismatch"] = checkpoint(tensor_pickle((2, 2), (1,), 0, 4), {"0": FLOATS4})
    c["65_dims"] = checkpoint(tensor_pickle((1,) * 65, (1,) * 65, 0, 4), {"0": FLOATS4})
    # BUILD rewriting private state after the checks.
    state = b"}" + _str("_shape") + _tuple((1000000,)) + b"s"
    c["build_tensor_shape"] = checkpoint(valid_body() + state + b"b", {"0": FLOATS4})
    slot = b"N}" + _str("_strides") + _tuple((2 ** 62,)) + b"s\x86"
    c["build_tensor_slotstate"] = checkpoint(valid_body() + slot + b"b", {"0": FLOATS4})
    c["build_dunder_on_ordereddict"] = checkpoint(b"ccollections\nOrderedDict\n)R}" + _str("__class__") + b"Ns" + b"b",
                                                  {})
    # Wrong storage sizes and truncated records.
    c["record_too_short"] = checkpoint(valid_body(), {"0": FLOATS4[:8]})
    c["record_too_long"] = checkpoint(valid_body(), {"0": FLOATS4 + b"\0" * 4})
    c["record_missing"] = checkpoint(valid_body(), {})
    c["record_odd_bytes"] = checkpoint(tensor_pickle((1,), (1,), 0, 1, "DoubleStorage"), {"0": b"\0" * 7})
    c["negative_numel"] = checkpoint(tensor_pickle((0,), (1,), 0, -4), {"0": b""})
    c["pickle_truncated"] = checkpoint(valid_body()[:40], {"0": FLOATS4})
    whole = checkpoint(valid_body(), {"0": FLOATS4})
    c["zip_truncated"] = whole[: len(whole) - 30]
    c["pickle_bytes_longer_than_file"] = checkpoint(b"\x8e" + struct.pack("<Q", 2 ** 40), {})
    c["unknown_storage_type"] = checkpoint(tensor_pickle((1,), (1,), 0, 1, "QInt8Storage"), {"0": b"\0"})
    # Decompression bombs: 64 MiB of zeros deflate to ~64 KiB.
    bomb = b"\0" * (64 << 20)
    c["bomb_record_for_4_floats"] = checkpoint(valid_body(), {"0": bomb}, compress=True)
    c["bomb_header_claims_1GiB"] = patch_declared_size(
        checkpoint(tensor_pickle((2 ** 28,), (1,), 0, 2 ** 28), {"0": b"\0" * 16}, compress=True),
        "archive/data/0", 1 << 30)
    c["inflates_past_declared"] = patch_declared_size(
        checkpoint(valid_body(), {"0": b"\0" * 4096}, compress=True), "archive/data/0", 16)
    # Pickled code.
    c["os_system"] = checkpoint(b"cos\nsystem\n" + _str("touch PWNED") + b"\x85R", {})
    c["posix_system"] = checkpoint(b"cposix\nsystem\n" + _str("touch PWNED") + b"\x85R", {})
    c["builtins_eval"] = checkpoint(b"cbuiltins\neval\n" + _str("1") + b"\x85R", {})
    c["builtins_getattr"] = checkpoint(b"cbuiltins\ngetattr\n", {})
    c["stack_global_os_system"] = checkpoint(_str("os") + _str("system") + b"\x93", {})
    c["inst_opcode"] = checkpoint(b"(" + _str("touch PWNED") + b"ios\nsystem\n", {})
    c["obj_opcode"] = checkpoint(b"(cos\nsystem\n" + _str("touch PWNED") + b"o", {})
    c["ext1_opcode"] = checkpoint(b"\x82\x01", {})
    c["torch_global_not_allowed"] = checkpoint(b"ctorch\nload\n", {})
    c["call_a_tensor"] = checkpoint(valid_body() + b")R", {"0": FLOATS4})
    c["bytearray_of_huge_int"] = checkpoint(b"cbuiltins\nbytearray\n" + _int(2 ** 40) + b"\x85R", {})
    c["module_persistent_id"] = checkpoint(b"(" + _str("module") + _str("x") + b"tQ", {})
    c["storage_id_with_os_system"] = checkpoint(
        b"(" + _str("storage") + b"cos\nsystem\n" + _str("0") + _str("cpu") + _int(1) + b"tQ", {})
    c["appends_to_a_tensor"] = checkpoint(valid_body() + b"(K\x01e", {"0": FLOATS4})
    # A file of an earlier pygrad version whose tensor claims more elements than its storage has.
    old = b"(" + _str("tensor") + _int(0) + _str("0") + _str("float32") + _str("cpu") + _tuple((1000000,)) + \
          _tuple((1,)) + _int(0) + b"\x89" + _str("pygrad.tensor") + _str("Tensor") + b"tQ"
    c["pygrad_v1_million_of_4"] = checkpoint(old, {"0": FLOATS4})
    # PyTorch's legacy format with a storage larger than the file.
    legacy = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(part, legacy, protocol=2)
    legacy.write(b"\x80\x02" + tensor_pickle((4,), (1,), 0, 2 ** 40, key="k") + b".")
    pickle.dump(["k"], legacy, protocol=2)
    legacy.write(struct.pack("<q", 2 ** 40) + FLOATS4)
    c["legacy_storage_larger_than_file"] = legacy.getvalue()
    return c


RUNNER = textwrap.dedent("""
    import json, os, pickle, resource, sys
    import pygrad
    folder = sys.argv[1]
    out = {}
    for name in sorted(os.listdir(folder)):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            obj = pygrad.load(os.path.join(folder, name))
            out[name] = ["loaded", repr(obj)[:200]]
        except (RuntimeError, pickle.UnpicklingError) as e:
            out[name] = [type(e).__name__, str(e)]
        except Exception as e:  # any other type is a failure of the test
            out[name] = ["unexpected " + type(e).__name__, str(e)]
        out[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for name, blob in corpus().items():
        (folder / name).write_bytes(blob)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    env.pop("PYGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(folder)], capture_output=True, text=True, cwd=folder,
                          env=env, timeout=300)
    assert proc.returncode == 0, f"the loader crashed (rc {proc.returncode}): {proc.stderr[-2000:]}"
    assert not (folder / "PWNED").exists()
    return json.loads(proc.stdout.strip().splitlines()[-1])


EXPECTED = {  # a piece of the message each case must give
    "stride_2**62": "reaches element", "stride_wraps_int64": "reaches element",
    "stride_not_int64": "does not fit in int64", "numel_overflows": "overflowed", "size_negative": "negative",
    "offset_negative": "negative", "offset_past_end": "reaches element", "negative_stride_below_0": "reaches element",
    "million_elements_of_4": "reaches element 999999 of a storage of 4", "rank_mismatch": "different lengths",
    "65_dims": "dimensions",
    "build_tensor_shape": "Unsupported operand BUILD on pygrad.tensor.Tensor",
    "build_tensor_slotstate": "Unsupported operand BUILD", "build_dunder_on_ordereddict": "plain attributes",
    "record_too_short": "holds 8 bytes", "record_too_long": "holds 20 bytes", "record_missing": "no storage record",
    "record_odd_bytes": "holds 7 bytes", "negative_numel": "negative storage size", "pickle_truncated": "truncated",
    "zip_truncated": "zip archive", "pickle_bytes_longer_than_file": "truncated",
    "unknown_storage_type": "Unsupported global: GLOBAL torch.QInt8Storage",
    "bomb_record_for_4_floats": "holds 67108864 bytes", "bomb_header_claims_1GiB": "decompression bomb",
    "inflates_past_declared": "corrupt",
    "os_system": "Unsupported global: GLOBAL os.system", "posix_system": "GLOBAL posix.system",
    "builtins_eval": "GLOBAL builtins.eval", "builtins_getattr": "GLOBAL builtins.getattr",
    "stack_global_os_system": "GLOBAL os.system", "inst_opcode": "Unsupported operand INST",
    "obj_opcode": "GLOBAL os.system", "ext1_opcode": "Unsupported operand EXT1",
    "torch_global_not_allowed": "GLOBAL torch.load", "call_a_tensor": "not an allowed callable",
    "bytearray_of_huge_int": "bytearray may only", "module_persistent_id": "Only persistent_load of storage",
    "storage_id_with_os_system": "GLOBAL os.system", "appends_to_a_tensor": "only a list",
    "pygrad_v1_million_of_4": "reaches element 999999 of a storage of 4",
    "legacy_storage_larger_than_file": "more than the file holds",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malicious_checkpoint_is_refused_cleanly(corpus_results, name):
    kind, message, rss_kib = corpus_results[name]
    assert kind in ("RuntimeError", "UnpicklingError"), (name, kind, message)
    assert EXPECTED[name] in message, (name, message)
    assert rss_kib < 48 * 1024, f"{name} raised the peak RSS by {rss_kib} KiB"  # bombs are never inflated


def test_corpus_is_complete():
    assert set(corpus()) == set(EXPECTED)


def test_refusals_name_the_global_in_pytorchs_words(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(corpus()["os_system"])
    with pytest.raises(pickle.UnpicklingError) as info:
        pygrad.load(path)
    msg = str(info.value)
    assert msg.startswith("Weights only load failed")
    assert "Unsupported global: GLOBAL os.system was not an allowed global by default" in msg
    assert "weights_only=False" in msg and "safe_globals" in msg


def test_ordereddict_metadata_build_is_allowed(tmp_path):
    """A state_dict's ``_metadata`` attribute is set by BUILD on an OrderedDict: that stays allowed."""
    body = b"ccollections\nOrderedDict\n)R}" + _str("_metadata") + b"}s" + b"b"
    path = tmp_path / "ok.pt"
    path.write_bytes(checkpoint(body, {}))
    od = pygrad.load(path)
    assert od == {} and od._metadata == {}


# -- temporaries of writers that died -------------------------------------------------------------------
def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_save_removes_temporaries_of_dead_writers_only(tmp_path):
    path = tmp_path / "ckpt.pt"
    dead = tmp_path / f".ckpt.pt.{_dead_pid()}.0a1b2c3d.tmp"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".ckpt.pt.{live_proc.pid}.deadbeef.tmp"
        other = tmp_path / f".other.pt.{_dead_pid()}.0a1b2c3d.tmp"
        for f in (dead, live, other):
            f.write_bytes(b"partial")
        pygrad.save({"w": pygrad.ones(2)}, path)
        assert not dead.exists()  # its writer no longer runs
        assert live.exists()  # a live process may still be writing it
        assert other.exists()  # a temporary of another checkpoint is not ours to judge
        assert pygrad.load(path)["w"].tolist() == [1.0, 1.0]
    finally:
        live_proc.kill()
        live_proc.wait()


def test_sigkill_during_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = tmp_path / "big.pt"
    code = ("import pygrad, sys\nx = pygrad.ones(4 << 20)\n"
            "while True:\n    pygrad.save({'x': x}, sys.argv[1])\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        deadline = time.time() + 60
        tmps = []
        while time.time() < deadline and not tmps:
            tmps = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
            time.sleep(0.002)
        assert tmps, "the child never wrote a temporary file"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    left = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    if not left:
        pytest.skip("the kill landed between two saves")
    assert all(f".{child.pid}." in f for f in left)
    pygrad.save({"x": pygrad.zeros(2)}, path)
    assert sorted(os.listdir(tmp_path)) == ["big.pt"]
    assert pygrad.load(path)["x"].tolist() == [0.0, 0.0]


# -- weights_only switches --------------------------------------------------------------------------------
class Thing:
    def __init__(self, v):
        self.v = v


@pytest.mark.parametrize("var", ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "PYGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD"])
def test_force_no_weights_only_env(tmp_path, monkeypatch, var):
    path = tmp_path / "thing.pt"
    pygrad.save(Thing(pygrad.ones(1)), path)
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL .*Thing"):
        pygrad.load(path)
    monkeypatch.setenv(var, "1")
    assert pygrad.load(path).v.tolist() == [1.0]
    with pytest.raises(pickle.UnpicklingError):
        pygrad.load(path, weights_only=True)  # an explicit request still wins
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(pickle.UnpicklingError):
        pygrad.load(path, weights_only=False)


def test_safe_globals_context_manager(tmp_path):
    path = tmp_path / "thing.pt"
    pygrad.save({"t": Thing(pygrad.arange(3))}, path)
    with serialization.safe_globals([Thing]):
        assert serialization.get_safe_globals() == [Thing]
        assert pygrad.load(path)["t"].v.tolist() == [0, 1, 2]
    assert serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError, match="Thing"):
        pygrad.load(path)
    with serialization.safe_globals([(Thing, f"{__name__}.Thing")]):
        assert isinstance(pygrad.load(path)["t"], Thing)


# -- random layouts through load (error or the right values, never a crash) ------------------------------------
FUZZ_RUNNER = textwrap.dedent("""
    import io, json, sys
    import numpy as np
    import pygrad
    cases = json.load(open(sys.argv[1]))
    out = []
    for blob_hex, numel in cases:
        try:
            t = pygrad.load(io.BytesIO(bytes.fromhex(blob_hex)))
            if t.numel() == 0 or t.numel() > 1000:  # empty, or many elements at stride 0: read one element
                out.append(["ok-big", list(t.shape)])
                if t.numel():
                    t[(0,) * t.dim()].item()
            else:
                t.sum().item(); t.contiguous()
                out.append(["ok", t.tolist()])
        except RuntimeError as e:
            out.append(["error", str(e)[:120]])
    print(json.dumps(out))
""")


def _expected(shape, strides, offset, numel):
    """The values of the layout over storage [0, 1, ..., numel-1], or None when it leaves the storage."""
    if any(s < 0 for s in shape) or offset < 0 or len(shape) != len(strides):
        return None
    if any(not -2 ** 63 <= v < 2 ** 63 for v in list(shape) + list(strides) + [offset]):
        return None
    count = 1
    for s in shape:
        count *= s
    if count >= 2 ** 63:
        return None
    if count == 0:
        return ("big", list(shape)) if offset <= numel else None
    if count > 1000:
        lo = offset + sum((s - 1) * st for s, st in zip(shape, strides) if st < 0)
        hi = offset + sum((s - 1) * st for s, st in zip(shape, strides) if st > 0)
        return ("big", list(shape)) if lo >= 0 and hi < numel else None
    lo = offset + sum((s - 1) * st for s, st in zip(shape, strides) if st < 0)
    hi = offset + sum((s - 1) * st for s, st in zip(shape, strides) if st > 0)
    if lo < 0 or hi >= numel:
        return None
    idx = np.full(shape, offset, dtype=object)
    for d, (s, st) in enumerate(zip(shape, strides)):
        r = np.arange(s, dtype=object) * st
        idx = idx + r.reshape([-1 if i == d else 1 for i in range(len(shape))])
    return np.vectorize(float, otypes=[float])(idx).tolist() if idx.size else []


def test_random_layouts_load_as_error_or_right_values(tmp_path):
    rng = np.random.default_rng(15)
    big = [2 ** 31, 2 ** 32 + 1, 2 ** 62, 2 ** 63 - 1, 2 ** 63, -2 ** 63, 2 ** 64]
    cases, expect = [], []
    for _ in range(300):
        nd = int(rng.integers(0, 4))
        shape = [int(rng.integers(0, 5)) for _ in range(nd)]
        strides = [int(rng.integers(-3, 8)) for _ in range(nd)]
        offset = int(rng.integers(-2, 12))
        numel = int(rng.integers(1, 24))
        if rng.random() < 0.3 and nd:
            k = int(rng.integers(0, nd))
            (shape if rng.random() < 0.5 else strides)[k] = int(rng.choice(big)) * (1 if rng.random() < 0.8 else -1)
        if rng.random() < 0.1:
            offset = int(rng.choice(big))
        record = np.arange(numel, dtype="<f4").tobytes()
        blob = checkpoint(tensor_pickle(tuple(shape), tuple(strides), offset, numel), {"0": record})
        cases.append([blob.hex(), numel])
        expect.append(_expected(shape, strides, offset, numel))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, "-c", FUZZ_RUNNER, str(path)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, f"the loader crashed (rc {proc.returncode}): {proc.stderr[-2000:]}"
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = 0
    for (kind, value), want, case in zip(results, expect, cases):
        if want is None:
            assert kind == "error", (case, value)
        elif isinstance(want, tuple):
            assert kind == "ok-big" and value == want[1], (case, kind, value)
        else:
            assert kind == "ok" and value == want, (case, kind, value, want)
            loaded += 1
    assert 30 < loaded < 270  # both outcomes are exercised
