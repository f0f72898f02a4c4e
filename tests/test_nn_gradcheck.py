"""Gradients of the nn layers and losses by finite differences (``pygrad.autograd.gradcheck``).

float64, tiny shapes: gradcheck runs the function twice per input element.  Inputs that feed a max,
a kink or a threshold are drawn so that no element sits within eps of one.
"""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck

rng = np.random.default_rng(0)


def leaf(*shape, scale=1.0):
    return torch.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def check(fn, *inputs):
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


# -- convolution ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, groups", [(dict(), 1), (dict(stride=2, padding=1), 1),
                                        (dict(dilation=(2, 1), padding=(0, 1)), 1), (dict(stride=(1, 2)), 2),
                                        (dict(padding="same"), 1)], ids=str)
def test_conv2d(kw, groups):
    x, w, b = leaf(1, 4, 5, 5), leaf(4, 4 // groups, 3, 2), leaf(4)
    check(lambda x, w, b: F.conv2d(x, w, b, groups=groups, **kw), x, w, b)


def test_conv1d():
    x, w, b = leaf(2, 2, 7), leaf(4, 1, 3), leaf(4)
    check(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), x, w, b)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, dilation=(1, 2))], ids=str)
def test_conv_transpose2d(kw):
    x, w, b = leaf(1, 2, 3, 3), leaf(2, 2 // kw.get("groups", 1), 3, 2), leaf(2)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)


def test_unfold_and_fold():
    check(lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)), leaf(1, 2, 4, 4))
    check(lambda c: F.fold(c, (4, 5), 2, stride=(2, 1)), leaf(1, 8, 8))


# -- pooling ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2), dict(kernel_size=3, stride=2,
                                                                                  ceil_mode=True)], ids=str)
def test_max_pool2d(kw):
    x = torch.tensor(rng.permutation(50).reshape(1, 2, 5, 5) * 0.1, requires_grad=True)  # distinct values
    check(lambda x: F.max_pool2d(x, **kw), x)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                                     ceil_mode=True)], ids=str)
def test_avg_pool2d(kw):
    check(lambda x: F.avg_pool2d(x, **kw), leaf(1, 2, 5, 5))


def test_pool1d():
    x = torch.tensor(rng.permutation(14).reshape(1, 2, 7) * 0.1, requires_grad=True)
    check(lambda x: F.max_pool1d(x, 3, 2, 1), x)
    check(lambda x: F.avg_pool1d(x, 3, 2, 1), leaf(1, 2, 7))


@pytest.mark.parametrize("out", [(2, 3), (4, 4), 1])
def test_adaptive_pools(out):
    check(lambda x: F.adaptive_avg_pool2d(x, out), leaf(1, 2, 5, 6))
    x = torch.tensor(rng.permutation(60).reshape(1, 2, 5, 6) * 0.1, requires_grad=True)
    check(lambda x: F.adaptive_max_pool2d(x, out), x)


# -- normalization ----------------------------------------------------------------------------------
def test_batch_norm_training():
    x, w, b = leaf(4, 3, 2, 2), leaf(3), leaf(3)
    check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    check(lambda x: F.batch_norm(x, rm, rv, training=False), leaf(4, 3))


def test_layer_norm_and_group_norm():
    x, w, b = leaf(2, 3, 4), leaf(3, 4), leaf(3, 4)
    check(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), x, w, b)
    x, w, b = leaf(2, 4, 3), leaf(4), leaf(4)
    check(lambda x, w, b: F.group_norm(x, 2, w, b), x, w, b)
    check(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)


# -- linear, embedding, resizing, padding, activations -----------------------------------------------------
def test_linear_bilinear_embedding():
    check(lambda x, w, b: F.linear(x, w, b), leaf(2, 3), leaf(4, 3), leaf(4))
    check(lambda x1, x2, w, b: F.bilinear(x1, x2, w, b), leaf(2, 3), leaf(2, 2), leaf(4, 3, 2), leaf(4))
    idx = torch.tensor([[0, 2, 2], [4, 1, 0]])
    check(lambda w: F.embedding(idx, w), leaf(5, 3))  # (padding_idx blocks a true gradient on purpose)


@pytest.mark.parametrize("ac", [False, True])
def test_interpolate(ac):
    check(lambda x: F.interpolate(x, size=(5, 4), mode="bilinear", align_corners=ac), leaf(1, 2, 3, 3))
    check(lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=ac), leaf(1, 1, 3, 3))
    check(lambda x: F.interpolate(x, size=7, mode="linear", align_corners=ac), leaf(1, 2, 4))
    check(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), leaf(1, 1, 2, 3))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    check(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), leaf(1, 2, 3, 4))


@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "silu", "mish", "softplus", "logsigmoid", "softsign",
                                  "sigmoid", "tanh", "leaky_relu", "relu", "hardswish", "hardsigmoid"])
def test_activation(name):
    x = torch.tensor(np.linspace(-4, 4, 8) + 0.05, requires_grad=True)  # no element at a kink (0, ±3)
    check(getattr(F, name), x)


def test_softmax_and_prelu():
    check(lambda x: F.softmax(x, 1), leaf(2, 3))
    check(lambda x: F.log_softmax(x, 0), leaf(2, 3))
    slopes = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64, requires_grad=True)
    check(F.prelu, leaf(2, 3, 2), slopes)


# -- losses -----------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    x, y = leaf(3, 4), leaf(3, 4)
    check(lambda x, y: F.mse_loss(x, y, reduction=reduction), x, y)
    check(lambda x, y: F.l1_loss(x, y, reduction=reduction), x, y)
    check(lambda x, y: F.smooth_l1_loss(x, y, reduction=reduction, beta=0.7), x, y)
    check(lambda x, y: F.huber_loss(x, y, reduction=reduction, delta=0.5), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_classification_losses(reduction):
    x, target = leaf(5, 4), torch.tensor([0, 3, 1, -100, 3])
    weight = torch.tensor([0.5, 1.0, 2.0, 0.3], dtype=torch.float64)
    check(lambda x: F.cross_entropy(x, target, weight, reduction=reduction, label_smoothing=0.1), x)
    check(lambda x: F.nll_loss(x.log_softmax(1), target, weight, reduction=reduction), x)
    check(lambda x: F.cross_entropy(x, torch.tensor([[0, 2], [1, 1]]), reduction=reduction), leaf(2, 3, 2))
    probs = torch.tensor(rng.dirichlet(np.ones(4), 5))
    check(lambda x: F.cross_entropy(x, probs, reduction=reduction, label_smoothing=0.2), x)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_probability_losses(reduction):
    p = torch.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    t = torch.tensor(rng.uniform(0, 1, (3, 4)))
    logits, pos_weight = leaf(3, 4, scale=3), torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    if reduction != "batchmean":
        check(lambda p: F.binary_cross_entropy(p, t, reduction=reduction), p)
        check(lambda z: F.binary_cross_entropy_with_logits(z, t, reduction=reduction, pos_weight=pos_weight), logits)
    q = torch.tensor(rng.dirichlet(np.ones(4), 3))
    check(lambda x, q: F.kl_div(x.log_softmax(1), q, reduction=reduction), leaf(3, 4), q.requires_grad_())
    check(lambda x, y: F.kl_div(x, y, reduction=reduction, log_target=True), leaf(3, 4), leaf(3, 4))
