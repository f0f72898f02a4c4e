"""``nn.functional`` activations, resizing, padding, one_hot, linear/bilinear against NumPy."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from nn_reference import ERF, T, adaptive_ref, close, interp_ref

rng = np.random.default_rng(0)


# -- activations ------------------------------------------------------------------------------------
def _softplus(x, beta=1.0, th=20.0):
    return np.where(x * beta > th, x, np.log1p(np.exp(np.minimum(x * beta, th))) / beta)


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.SELU(), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + ERF(x / np.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.Softplus(), _softplus),
    (nn.Softplus(beta=2, threshold=3), lambda x: _softplus(x, 2, 3)),
    (nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Hardtanh(-0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0)),
    (nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.PReLU(init=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=0), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
    (nn.Softmin(dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
]


@pytest.mark.parametrize("layer, ref", ACTIVATIONS, ids=[repr(a) for a, _ in ACTIVATIONS])
def test_activation(layer, ref):
    x = rng.standard_normal((4, 6)) * 4
    layer.to(torch.get_default_device())  # built at import, on the CPU
    close(layer(T(x)), ref(x), atol=1e-9)


def test_prelu_per_channel():
    x = rng.standard_normal((2, 3, 4))
    layer = nn.PReLU(3).double()
    with torch.no_grad():
        layer.weight.copy_(T([0.1, 0.2, 0.3]))
    close(layer(T(x)), np.where(x > 0, x, x * np.array([0.1, 0.2, 0.3])[:, None]))
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_inplace_activations_and_softmax_stability():
    x = T([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x and x.tolist() == [0.0, 2.0]
    y = T([-1.0, 2.0])
    F.leaky_relu(y, 0.5, inplace=True)
    assert y.tolist() == [-0.5, 2.0]
    z = T([-7.0, 3.0, 9.0])
    assert nn.ReLU6(inplace=True)(z) is z and z.tolist() == [0.0, 3.0, 6.0]
    big = T([[1000.0, 1000.0, -1000.0]])
    close(F.softmax(big, 1), [[0.5, 0.5, 0.0]])
    close(F.log_softmax(big, 1), [[-np.log(2), -np.log(2), -2000 - np.log(2)]])


# -- resizing, padding, one_hot ---------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(size=(10, 4)), dict(size=(3, 2)), dict(scale_factor=1.5),
                                dict(scale_factor=(2.0, 0.5))], ids=str)
@pytest.mark.parametrize("mode, ac", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_interpolate(kw, mode, ac):
    x = rng.standard_normal((2, 3, 5, 6))
    scales = kw.get("scale_factor")
    if scales is None:
        ref = interp_ref(x, kw["size"], mode, ac)
    else:  # each dim is resized with its own scale (the source index uses 1/scale, not in/out)
        scales = scales if isinstance(scales, tuple) else (scales, scales)
        ref = x
        for ax, sc in enumerate(scales):
            moved = np.moveaxis(ref, 2 + ax, 2)
            ref = np.moveaxis(interp_ref(moved, (int(moved.shape[2] * sc),), mode, ac, sc), 2, 2 + ax)
    close(F.interpolate(T(x), mode=mode, align_corners=ac, **kw), ref)


def test_interpolate_linear_1d_and_errors():
    x = rng.standard_normal((2, 3, 5))
    close(F.interpolate(T(x), size=9, mode="linear", align_corners=True), interp_ref(x, (9,), "linear", True))
    close(F.interpolate(T(x), size=(9,)), interp_ref(x, (9,), "nearest"))
    close(F.interpolate(T(x), size=2, mode="area"), adaptive_ref(x[:, :, None], (1, 2), np.mean)[:, :, 0])
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(T(x), size=3, scale_factor=2)


def test_interpolate_bicubic_and_nearest_exact_match_pytorch_numbers():
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4) ** 1.5
    # expected values printed by PyTorch 2.x for this input
    close(F.interpolate(x, size=(4, 5), mode="bicubic"), [[[
        [-0.6254614357, -0.154279349, 0.9898084281, 2.7962073898, 4.3772753685],
        [3.3726537348, 4.8350379898, 7.0808414695, 9.7563961074, 11.9389474961],
        [13.9160611955, 16.4733125446, 20.0022016799, 23.7677627526, 26.7216235062],
        [23.4065005334, 26.3732519573, 30.4419223031, 34.7328115291, 38.0719522555]]]], atol=1e-9)
    close(F.interpolate(x, size=(2, 5), mode="bicubic", align_corners=True), [[[
        [0.0, 0.5805955818, 1.7859893069, 3.5577067202, 5.1961522102],
        [22.6274166107, 25.5217781663, 29.2656837106, 33.211449936, 36.4828720093]]]], atol=1e-9)
    rows, cols = [0, 0, 1, 2, 2], [0, 2, 3]  # nearest-exact samples pixel centres: floor((i + 0.5) * in / out)
    close(F.interpolate(x, size=(5, 3), mode="nearest-exact"), x.cpu().numpy()[:, :, rows][:, :, :, cols])
    rows, cols = [0, 0, 1, 1, 2], [0, 1, 2]  # nearest: floor(i * in / out)
    close(F.interpolate(x, size=(5, 3), mode="nearest"), x.cpu().numpy()[:, :, rows][:, :, :, cols])


@pytest.mark.parametrize("mode, np_mode", [("constant", "constant"), ("reflect", "reflect"),
                                           ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes(mode, np_mode):
    x = rng.standard_normal((2, 3, 4, 5))
    close(F.pad(T(x), (1, 2, 3, 0), mode=mode), np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=np_mode))
    close(F.pad(T(x[0]), (2, 1), mode=mode), np.pad(x[0], ((0, 0), (0, 0), (2, 1)), mode=np_mode))


@pytest.mark.parametrize("cls, mode", [(nn.ZeroPad2d, "constant"), (nn.ReflectionPad2d, "reflect"),
                                       (nn.ReplicationPad2d, "edge"), (nn.CircularPad2d, "wrap")])
def test_padding_layers(cls, mode):
    x = rng.standard_normal((2, 3, 4, 5))
    close(cls((1, 2, 3, 0))(T(x)), np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=mode))
    close(cls(1)(T(x)), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode=mode))
    layer1d = getattr(nn, cls.__name__.replace("2d", "1d"))(2)
    close(layer1d(T(x[0])), np.pad(x[0], ((0, 0), (0, 0), (2, 2)), mode=mode))
    close(nn.ConstantPad2d((1, 0, 0, 2), -1.5)(T(x)),
          np.pad(x, ((0, 0), (0, 0), (0, 2), (1, 0)), constant_values=-1.5))


def test_upsample_fold_unfold_cosine_layers():
    x = rng.standard_normal((2, 3, 4, 5))
    close(nn.Upsample(scale_factor=2)(T(x)), x.repeat(2, 2).repeat(2, 3))
    close(nn.Upsample(size=(7, 3), mode="bilinear")(T(x)), interp_ref(x, (7, 3), "bilinear"))
    close(nn.UpsamplingBilinear2d(size=(7, 3))(T(x)), interp_ref(x, (7, 3), "bilinear", align_corners=True))
    close(nn.UpsamplingNearest2d(size=(8, 10))(T(x)), x.repeat(2, 2).repeat(2, 3))
    cols = nn.Unfold(2, stride=2)(T(x[..., :4]))
    assert cols.shape == (2, 12, 4)
    close(nn.Fold((4, 4), 2, stride=2)(cols), x[..., :4])  # non-overlapping blocks: an exact round trip
    close(nn.Unfold(2, stride=2)(T(x[0, :, :, :4])), cols.cpu().numpy()[0])  # unbatched (C, H, W)
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    close(nn.CosineSimilarity()(T(a), T(b)), cos)
    close(F.cosine_similarity(T(a), T(b[:1]), dim=-1), (a * b[:1]).sum(1) / np.linalg.norm(a, axis=1)
          / np.linalg.norm(b[0]))


def test_pad_constant_value_negative_and_errors():
    x = rng.standard_normal((2, 4, 5))
    close(F.pad(T(x), (1, 1), value=2.5), np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=2.5))
    close(F.pad(T(x), (-1, 2, 0, -2)), np.pad(x, ((0, 0), (0, 0), (0, 2)))[:, :2, 1:])
    close(F.pad(T(x), (1, 1, 1, 1, 1, 1)), np.pad(x, 1))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(T(x), (5, 0), mode="reflect")


def test_one_hot():
    idx = np.array([[1, 0], [4, 2]])
    out = F.one_hot(T(idx), 5)
    assert out.dtype is torch.int64 and np.array_equal(out.cpu().numpy(), np.eye(5, dtype=np.int64)[idx])
    assert F.one_hot(T([0, 2])).shape == (2, 3)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(T([3]), 3)


def test_linear_bilinear_and_identity_layers():
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    close(F.linear(T(x), T(w), T(b)), x @ w.T + b)
    close(F.linear(T(x[0, 0]), T(w)), x[0, 0] @ w.T)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 3x2\)"):
        nn.Linear(3, 2)(T(x).float())
    x1, x2, wb = rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 4))
    close(F.bilinear(T(x1), T(x2), T(wb), T(b)), np.einsum("ni,kij,nj->nk", x1, wb, x2) + b)
    layer = nn.Bilinear(2, 4, 5).double()
    close(layer(T(x1), T(x2)), np.einsum("ni,kij,nj->nk", x1, layer.weight.detach().cpu().numpy(), x2)
          + layer.bias.detach().cpu().numpy())
