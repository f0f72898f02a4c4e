"""Shared test setup: the device fixtures and the hypothesis profile used in CI.

``device`` runs a test once per backend pygrad can use here (``cpu``, and ``opencl`` when a device
exists): tests of the tensor API create their tensors with ``device=device``.  The suites listed in
``DEFAULT_DEVICE_SUITES`` (autograd, nn, optim, training) instead run every test once per backend
with that backend as the default device (``pygrad.set_default_device``), so the factories,
``torch.tensor`` and the layers' parameters all land there, as ``torch.set_default_device`` does
in PyTorch.
"""
import os

import pytest
from hypothesis import settings

import pygrad

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


def _opencl_available():
    try:
        from pygrad import runtime

        runtime.get_backend(pygrad.device("opencl"))
        return True
    except Exception:  # no OpenCL backend (yet), no platform, no device, ...
        return False


DEVICES = ["cpu"] + (["opencl"] if _opencl_available() else [])


def pytest_report_header(config):
    """Say which OpenCL device the ``opencl`` tests use (or why there is none) at the top of the run."""
    from pygrad.runtime.opencl import runtime

    if "opencl" in DEVICES:
        p = runtime.properties(0)
        lines = [f"pygrad OpenCL device: {p['name']} ({p['platform']} {p['driver_version']})"]
    else:
        lines = ["pygrad OpenCL device: none, the opencl tests are skipped"]
    return lines + [f"pygrad left out: {msg}" for msg in runtime.rejected()]


@pytest.fixture(params=DEVICES)
def device(request):
    """The name of a device to create tensors on (``"cpu"``, and ``"opencl"`` when available)."""
    return request.param


DEFAULT_DEVICE_SUITES = {
    "test_autograd.py", "test_autograd_inplace_and_functions.py", "test_gradcheck.py", "test_nn_layers.py",
    "test_nn_functional.py", "test_nn_gradcheck.py", "test_losses.py", "test_nn_module.py", "test_optim.py",
    "test_rnn_transformer.py", "test_training.py", "test_serialization.py",
}


def pytest_generate_tests(metafunc):
    """Run the tests of DEFAULT_DEVICE_SUITES once per device (those taking ``device`` already do)."""
    if os.path.basename(metafunc.definition.fspath) in DEFAULT_DEVICE_SUITES and \
            "device" not in metafunc.fixturenames:
        metafunc.parametrize("default_device", DEVICES, indirect=True)


@pytest.fixture(autouse=True)
def default_device(request):
    """In DEFAULT_DEVICE_SUITES: make ``request.param`` the default device for one test (then restore it)."""
    if not hasattr(request, "param"):  # another suite: nothing to do
        yield None
        return
    old = pygrad.get_default_device()
    pygrad.set_default_device(request.param)
    yield request.param
    pygrad.set_default_device(old)


@pytest.fixture
def default_float64():
    """Run a test with float64 as the default dtype, restoring float32 afterwards."""
    old = pygrad.get_default_dtype()
    pygrad.set_default_dtype(pygrad.float64)
    yield
    pygrad.set_default_dtype(old)
