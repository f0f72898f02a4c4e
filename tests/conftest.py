"""Shared test setup: the ``device`` fixture and the hypothesis profile used in CI.

``device`` runs a test once per backend pygrad can use here.  Only the CPU backend exists today;
the OpenCL backend plugs in by making ``pygrad.backends.get_backend(device("opencl"))`` succeed,
and every test that takes ``device`` then also runs on it.
"""
import pytest
from hypothesis import settings

import pygrad

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


def _opencl_available():
    try:
        from pygrad import backends

        backends.get_backend(pygrad.device("opencl"))
        return True
    except Exception:  # no OpenCL backend (yet), no platform, no device, ...
        return False


DEVICES = ["cpu"] + (["opencl"] if _opencl_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """The name of a device to create tensors on (``"cpu"``, and ``"opencl"`` when available)."""
    return request.param


@pytest.fixture
def default_float64():
    """Run a test with float64 as the default dtype, restoring float32 afterwards."""
    old = pygrad.get_default_dtype()
    pygrad.set_default_dtype(pygrad.float64)
    yield
    pygrad.set_default_dtype(old)


def pytest_collection_modifyitems(config, items):
    """Run the DataLoader tests (which fork worker processes) after everything else.

    Observed on PoCL 3.0: compiling new OpenCL kernels in a process that has already started and
    stopped DataLoader worker processes occasionally aborts in PoCL's linker step ("posix_spawn failed:
    Bad address").  Running those tests last means no kernel is compiled after them.
    """
    items.sort(key=lambda item: item.fspath.basename == "test_data.py")
