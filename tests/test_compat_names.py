"""Issue 14, missing names PyTorch programs hit: accelerator, compile, amp, backends, nn.modules paths,
lazy layers, memory formats, is_sparse/is_complex, MNIST(download=).  Expected behaviour is PyTorch 2.13's
on a machine without CUDA (stored as literals)."""
import importlib
import warnings

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn


def test_accelerator_without_gpu(monkeypatch):
    from pygrad import accelerator

    monkeypatch.setattr(accelerator, "_gpu_indices", lambda: [])  # PoCL only: CPU devices are no accelerator
    assert accelerator.is_available() is False
    assert accelerator.current_accelerator() is None
    assert accelerator.device_count() == 0
    monkeypatch.setattr(accelerator, "_gpu_indices", lambda: [0])
    assert accelerator.is_available() is True
    assert accelerator.current_accelerator() == torch.device("opencl:0")


def test_accelerator_real_devices():
    from pygrad.runtime.opencl import runtime as rt

    gpus = [i for i in range(rt.device_count()) if rt.properties(i)["type"] == "GPU"] if rt.is_available() else []
    assert torch.accelerator.is_available() == bool(gpus)
    acc = torch.accelerator.current_accelerator()
    assert (acc is None) if not gpus else (acc == torch.device("opencl", gpus[0]))


def test_compile_is_a_documented_noop():
    m = nn.Linear(2, 2)
    assert torch.compile(m) is m
    assert torch.compile(m, mode="max-autotune", fullgraph=True) is m

    @torch.compile
    def f(x):
        return x * 2

    @torch.compile(mode="reduce-overhead")
    def g(x):
        return x + 1

    assert f(torch.ones(1)).tolist() == [2.0] and g(torch.ones(1)).tolist() == [2.0]


def test_backends_flags():
    import pygrad.backends.cuda
    import pygrad.backends.cudnn

    b = torch.backends
    # PyTorch's defaults
    assert b.cuda.matmul.allow_tf32 is False and b.cudnn.allow_tf32 is True
    assert b.cudnn.enabled is True and b.cudnn.benchmark is False and b.cudnn.deterministic is False
    assert b.mps.is_available() is False and b.cudnn.is_available() is False and b.cuda.is_built() is False
    b.cuda.matmul.allow_tf32 = True
    b.cudnn.allow_tf32 = True
    b.cudnn.benchmark = True
    assert b.cuda.matmul.allow_tf32 is True and pygrad_backends_cudnn().benchmark is True
    b.cuda.matmul.allow_tf32, b.cudnn.benchmark = False, False
    assert b.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    assert torch.backends is not torch.runtime if hasattr(torch, "runtime") else True


def pygrad_backends_cudnn():
    return importlib.import_module("pygrad.backends.cudnn")


def test_backends_opencl_kernel_shape(monkeypatch):
    if not torch.backends.opencl.is_available():
        pytest.skip("no OpenCL device")
    from pygrad.runtime.opencl import runtime as rt

    assert torch.backends.opencl.kernel_shape() == rt.runtime(0).kernel_shape
    assert torch.backends.opencl.kernel_shape("opencl:0") in ("cpu", "gpu")
    monkeypatch.delenv("PYGRAD_KERNEL_SHAPE", raising=False)
    torch.backends.opencl.set_kernel_shape("gpu")
    try:
        import os
        assert os.environ["PYGRAD_KERNEL_SHAPE"] == "gpu"
        assert rt.kernel_shape_for(rt.devices()[0]) == "gpu"
    finally:
        torch.backends.opencl.set_kernel_shape(None)
    with pytest.raises(ValueError):
        torch.backends.opencl.set_kernel_shape("tpu")


def test_grad_scaler_disabled_for_cuda():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = torch.cuda.amp.GradScaler(enabled=True)
        import pygrad.cuda.amp  # noqa: F401  (importable as a module path too)
    msgs = [str(x.message) for x in w]
    assert "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling." in msgs
    assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
    p = nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.SGD([p], lr=0.5)
    loss = (p * 3).sum()
    assert s.scale(loss) is loss
    loss.backward()
    s.step(opt)
    s.update()
    assert p.tolist() == [-0.5]


def test_grad_scaler_enabled_scales_and_skips():
    s = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
    assert s.state_dict() == {"scale": 4.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2,
                              "_growth_tracker": 0}
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.SGD([p], lr=0.1)
    for step in range(3):
        opt.zero_grad()
        scaled = s.scale((p * p).sum())
        assert scaled.item() == pytest.approx(s.get_scale() * float((p * p).sum()))
        scaled.backward()
        s.step(opt)
        s.update()
    # three clean steps of plain SGD on p^2: p *= 0.8 each; the scale grew once (after 2 steps)
    np.testing.assert_allclose(p.tolist(), [0.512, 1.024], rtol=1e-6)
    assert s.get_scale() == 8.0
    opt.zero_grad()
    s.scale((p * float("inf")).sum()).backward()
    assert s.step(opt) is None  # skipped: inf gradient
    s.update()
    np.testing.assert_allclose(p.tolist(), [0.512, 1.024], rtol=1e-6)
    assert s.get_scale() == 4.0
    s2 = torch.amp.GradScaler("cpu")
    s2.load_state_dict(s.state_dict())
    assert s2.get_scale() == 4.0


def test_autocast_noop_and_warnings():
    a = torch.ones(2, 2)
    with torch.autocast("cpu"):
        assert (a @ a).dtype is torch.float32  # documented no-op on the CPU
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch.amp.autocast(device_type="cuda", dtype=torch.float16):
            assert (a @ a).dtype is torch.float32
    assert "CUDA is not available or torch_xla is imported. Disabling autocast." in [str(x.message) for x in w]

    @torch.autocast("cpu")
    def f(x):
        return x @ x
    assert f(a).dtype is torch.float32


def test_autocast_opencl_casts_matmuls(monkeypatch):
    if not torch.opencl.is_available():
        pytest.skip("no OpenCL device")
    from pygrad.amp import autocast_mode

    monkeypatch.setattr(autocast_mode, "_fp16_supported", lambda dev: True)  # as on a GPU with cl_khr_fp16
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device="opencl")
    lin = nn.Linear(2, 2).to("opencl")
    with torch.autocast("opencl", dtype=torch.float16):
        assert torch.is_autocast_enabled("opencl") if hasattr(torch, "is_autocast_enabled") else True
        y = x @ x
        z = lin(x)
        w = x + 1  # not a matrix product: stays float32
    assert y.dtype is torch.float16 and y.tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert z.dtype is torch.float16 and w.dtype is torch.float32
    assert (x @ x).dtype is torch.float32  # outside the region


def test_autocast_opencl_without_fp16_is_noop(monkeypatch):
    if not torch.opencl.is_available():
        pytest.skip("no OpenCL device")
    from pygrad.amp import autocast_mode

    monkeypatch.setattr(autocast_mode, "_fp16_supported", lambda dev: False)
    x = torch.ones(2, 2, device="opencl")
    with pytest.warns(UserWarning, match="cl_khr_fp16"):
        with torch.autocast("opencl"):
            assert (x @ x).dtype is torch.float32


@pytest.mark.parametrize("path,name", [
    ("pygrad.nn.modules.activation", "MultiheadAttention"),
    ("pygrad.nn.modules.linear", "NonDynamicallyQuantizableLinear"),
    ("pygrad.nn.modules.batchnorm", "BatchNorm2d"), ("pygrad.nn.modules.instancenorm", "InstanceNorm1d"),
    ("pygrad.nn.modules.flatten", "Flatten"), ("pygrad.nn.modules.flatten", "Unflatten"),
    ("pygrad.nn.modules.fold", "Fold"), ("pygrad.nn.modules.fold", "Unfold"),
    ("pygrad.nn.modules.distance", "CosineSimilarity"), ("pygrad.nn.modules.module", "Module"),
    ("pygrad.nn.modules.conv", "Conv2d"), ("pygrad.nn.modules.sparse", "Embedding"),
    ("pygrad.nn.modules.normalization", "LayerNorm"), ("pygrad.nn.modules.container", "Sequential"),
])
def test_nn_modules_paths_match_pytorch(path, name):
    assert getattr(importlib.import_module(path), name) is getattr(nn, name)


def test_mha_out_proj_class():
    from pygrad.nn.modules.linear import NonDynamicallyQuantizableLinear

    mha = nn.MultiheadAttention(4, 2)
    assert type(mha.out_proj) is NonDynamicallyQuantizableLinear and isinstance(mha.out_proj, nn.Linear)


def test_lazy_linear():
    m = nn.LazyLinear(3)
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert repr(m.weight) == "<UninitializedParameter>"
    y = m(torch.ones(2, 5))
    assert type(m) is nn.Linear and repr(m) == "Linear(in_features=5, out_features=3, bias=True)"
    assert y.shape == (2, 3) and m.weight.shape == (3, 5) and m.bias.shape == (3,)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    bound = 1 / np.sqrt(5)
    assert float(m.weight.abs().max()) <= bound
    m(torch.ones(4, 5)).sum().backward()
    assert m.weight.grad.shape == (3, 5)
    nb = nn.LazyLinear(2, bias=False)
    nb(torch.ones(3))
    assert nb.bias is None and nb.weight.shape == (2, 3)


def test_lazy_conv2d(device):
    c = nn.LazyConv2d(4, 3, padding=1).to(device)
    assert repr(c) == "LazyConv2d(0, 4, kernel_size=(3, 3), stride=(1, 1))"
    y = c(torch.ones(2, 3, 5, 5, device=device))
    assert type(c) is nn.Conv2d and y.shape == (2, 4, 5, 5) and c.weight.shape == (4, 3, 3, 3)
    assert c.weight.device == y.device
    assert repr(c) == "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    u = nn.LazyConv2d(2, 2, bias=False)
    u(torch.ones(3, 4, 4))  # unbatched input: channels first
    assert u.weight.shape == (2, 3, 2, 2) and u.bias is None


def test_small_names():
    x = torch.ones(2, 3)
    assert x.is_sparse is False and torch.is_complex(x) is False and x.is_complex() is False
    assert repr(torch.contiguous_format) == "torch.contiguous_format"
    assert repr(torch.channels_last) == "torch.channels_last"
    assert isinstance(torch.preserve_format, torch.memory_format)
    assert torch.channels_last_3d is not torch.channels_last
    assert x.contiguous(memory_format=torch.contiguous_format) is x
    assert x.clone(memory_format=torch.preserve_format).tolist() == x.tolist()
    with pytest.raises(TypeError):
        torch.is_complex([1])


def test_mnist_download_flag(tmp_path):
    from pygrad.vision import datasets

    with pytest.raises(RuntimeError, match=r"download=True was given, but pygrad never downloads datasets .*"
                                           r"put them, gzipped or not, in that folder"):
        datasets.MNIST(str(tmp_path), train=True, download=True)
    with pytest.raises(RuntimeError, match="not found in"):
        datasets.MNIST(str(tmp_path), train=False, download=False)


def test_nn_modules_utils():
    from pygrad.nn.modules.utils import _pair, _reverse_repeat_tuple, _single, _triple

    assert _pair(3) == (3, 3) and _pair((1, 2)) == (1, 2) and _single(2) == (2,) and _triple(1) == (1, 1, 1)
    assert _reverse_repeat_tuple((1, 2), 2) == (2, 2, 1, 1)
