"""Every loss, functional and module form, with every reduction, against NumPy (and a few numbers
printed by PyTorch where the NumPy reference would be long).  Gradients: ``test_nn_gradcheck.py``."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from nn_reference import T, close

rng = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


# -- regression -------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1(reduction):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    close(F.mse_loss(T(x), T(y), reduction=reduction), reduce((x - y) ** 2, reduction))
    close(nn.MSELoss(reduction=reduction)(T(x), T(y)), reduce((x - y) ** 2, reduction))
    close(F.l1_loss(T(x), T(y), reduction=reduction), reduce(np.abs(x - y), reduction))
    close(nn.L1Loss(reduction=reduction)(T(x), T(y)), reduce(np.abs(x - y), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 0.0])
def test_smooth_l1_and_huber(reduction, beta):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    d = np.abs(x - y)
    smooth = d if beta == 0 else np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)
    close(F.smooth_l1_loss(T(x), T(y), reduction=reduction, beta=beta), reduce(smooth, reduction))
    close(nn.SmoothL1Loss(reduction=reduction, beta=beta)(T(x), T(y)), reduce(smooth, reduction))
    if beta:
        huber = np.where(d < beta, 0.5 * d ** 2, beta * (d - 0.5 * beta))
        close(F.huber_loss(T(x), T(y), reduction=reduction, delta=beta), reduce(huber, reduction))
        close(nn.HuberLoss(reduction=reduction, delta=beta)(T(x), T(y)), reduce(huber, reduction))


def test_regression_loss_shape_mismatch_warns_and_bad_reduction():
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.mse_loss(torch.zeros(3), torch.zeros(3), reduction="avg")


# -- classification ---------------------------------------------------------------------------------
def nll_ref(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """logp (M, C), target (M,): PyTorch's weighted NLL; 'mean' divides by the kept samples' weight."""
    w = np.ones(logp.shape[1]) if weight is None else weight
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    wt = w[safe] * keep
    loss = -logp[np.arange(len(target)), safe] * wt
    return loss.sum() / wt.sum() if reduction == "mean" else reduce(loss, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_with_class_indices(reduction):
    x, t = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 3])
    w = np.array([0.5, 1.0, 2.0, 0.25])
    logp = log_softmax(x)
    close(F.cross_entropy(T(x), T(t), reduction=reduction), nll_ref(logp, t, reduction=reduction))
    close(F.nll_loss(T(logp), T(t), reduction=reduction), nll_ref(logp, t, reduction=reduction))
    close(nn.CrossEntropyLoss(weight=T(w), reduction=reduction)(T(x), T(t)), nll_ref(logp, t, w, reduction=reduction))
    close(nn.NLLLoss(weight=T(w), reduction=reduction)(T(logp), T(t)), nll_ref(logp, t, w, reduction=reduction))
    ti = np.array([0, -100, 1, 1, 2, -100])  # the default ignore_index
    close(F.cross_entropy(T(x), T(ti), reduction=reduction), nll_ref(logp, ti, reduction=reduction))
    close(nn.CrossEntropyLoss(weight=T(w), ignore_index=1, reduction=reduction)(T(x), T(t)),
          nll_ref(logp, t, w, ignore_index=1, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_targets(reduction):
    x, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))  # (N, C, d1, d2)
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    expected = nll_ref(log_softmax(rows), t.reshape(-1), reduction=reduction)
    close(F.cross_entropy(T(x), T(t), reduction=reduction),
          expected.reshape(t.shape) if reduction == "none" else expected)
    close(F.nll_loss(T(x).log_softmax(1), T(t), reduction=reduction),
          expected.reshape(t.shape) if reduction == "none" else expected)


def test_cross_entropy_label_smoothing_matches_pytorch_numbers():
    x = T([[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5], [-0.7, 2.2, 0.4, 0.0]])
    t, ti, w = T([2, 3, 1]), T([2, -100, 1]), T([0.5, 1.0, 2.0, 0.25])
    expected = {  # F.cross_entropy(x, t, w, label_smoothing=.1) / (x, ti, w, .2) / (x, t, .3, ignore_index=3)
        "mean": (0.5429199079785538, 0.5366458624373278, 0.8418639320403651),
        "sum": (1.7644897009303002, 1.6099375873119834, 1.6837278640807303),
        "none": ([1.0139473372990264, 0.3263053680262794, 0.4242369956049944],
                 [1.047488245767398, 0.0, 0.5624493415445856], [0.8802032144153276, 0.0, 0.803524649665403])}
    for reduction, (a, b, c) in expected.items():
        close(F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.1), a, atol=1e-12)
        close(nn.CrossEntropyLoss(w, ignore_index=-100, reduction=reduction, label_smoothing=0.2)(x, ti), b,
              atol=1e-12)
        close(F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.3, ignore_index=3), c, atol=1e-12)
    x3, t3 = x.reshape(1, 3, 4), T([[0, 2, 1, 1]])  # (N, C, d1) input
    close(F.cross_entropy(x3, t3), 1.0773809708770405, atol=1e-12)
    close(F.cross_entropy(x3, t3, reduction="none"),
          [[0.4898139085775625, 0.17366918356477695, 3.2244895141896626, 0.4215512771761604]], atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probability_targets(reduction):
    x, p = rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), 5)
    w = np.array([0.5, 1.0, 2.0, 0.25])
    close(F.cross_entropy(T(x), T(p), reduction=reduction), reduce(-(p * log_softmax(x)).sum(1), reduction))
    smoothed = p * 0.8 + 0.2 / 4
    expected = reduce(-(smoothed * w * log_softmax(x)).sum(1), reduction)  # 'mean' divides by N, not by weight
    close(nn.CrossEntropyLoss(T(w), reduction=reduction, label_smoothing=0.2)(T(x), T(p)), expected)
    x = T([[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5], [-0.7, 2.2, 0.4, 0.0]])
    probs = T([[0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    close(F.cross_entropy(x, probs), 2.250663267662235, atol=1e-12)  # PyTorch's numbers
    close(F.cross_entropy(x, probs, T(w), label_smoothing=0.2), 2.6912842068380898, atol=1e-12)


def test_classification_loss_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.cross_entropy(x, T([0, 4, 1])).item()  # on a device: raised at the next sync (no wait in the op)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, T([0, 1]))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, T([0, 1, 2]), label_smoothing=1.5)
    assert F.cross_entropy(T([1.0, 2.0, 0.5]), T(1)).shape == ()  # unbatched (C,) input


# -- binary and divergence losses --------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(reduction):
    p, t, w = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 2, 4)
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    close(F.binary_cross_entropy(T(p), T(t), reduction=reduction), reduce(expected, reduction))
    close(nn.BCELoss(weight=T(w), reduction=reduction)(T(p), T(t)), reduce(expected * w, reduction))
    edge = F.binary_cross_entropy(T([0.0, 1.0, 1.0]), T([1.0, 0.0, 1.0]), reduction="none")
    close(edge, [100.0, 100.0, 0.0])  # log clamped at -100, as PyTorch does
    with pytest.raises(ValueError, match="Please ensure they have the same size"):
        F.binary_cross_entropy(torch.zeros(3), torch.zeros(3, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    z, t = rng.standard_normal((3, 4)) * 4, rng.uniform(0, 1, (3, 4))
    pw, w = np.array([1.0, 2.0, 0.5, 3.0]), rng.uniform(0.5, 2, (3, 1))
    log_sig, log_one_minus = -np.logaddexp(0, -z), -np.logaddexp(0, z)
    plain = -(t * log_sig + (1 - t) * log_one_minus)
    close(F.binary_cross_entropy_with_logits(T(z), T(t), reduction=reduction), reduce(plain, reduction))
    weighted = -w * (pw * t * log_sig + (1 - t) * log_one_minus)
    close(nn.BCEWithLogitsLoss(weight=T(w), pos_weight=T(pw), reduction=reduction)(T(z), T(t)),
          reduce(weighted, reduction))
    big = F.binary_cross_entropy_with_logits(T([1000.0, -1000.0]), T([0.0, 1.0]), reduction="none")
    close(big, [1000.0, 1000.0])  # stable for huge logits


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(reduction):
    logq, p = log_softmax(rng.standard_normal((3, 4))), rng.dirichlet(np.ones(4), 3)
    p[0, 1] = 0.0  # 0 * log 0 counts as 0
    pointwise = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq), 0.0)
    expected = pointwise.sum() / 3 if reduction == "batchmean" else reduce(pointwise, reduction)
    close(F.kl_div(T(logq), T(p), reduction=reduction), expected)
    logp = log_softmax(rng.standard_normal((3, 4)))
    pointwise = np.exp(logp) * (logp - logq)
    expected = pointwise.sum() / 3 if reduction == "batchmean" else reduce(pointwise, reduction)
    close(nn.KLDivLoss(reduction=reduction, log_target=True)(T(logq), T(logp)), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_and_cosine_embedding(reduction):
    x, y = rng.standard_normal((3, 4)), np.sign(rng.standard_normal((3, 4)))
    close(nn.SoftMarginLoss(reduction=reduction)(T(x), T(y)), reduce(np.log1p(np.exp(-y * x)), reduction))
    a, b, t = rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), np.array([1.0, -1.0, -1.0, 1.0])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    expected = np.where(t == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    close(nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)(T(a), T(b), T(t)), reduce(expected, reduction))
