"""nn layers and ``nn.functional`` (convolution, pooling, normalization, embedding, dropout) against the
NumPy references in ``nn_reference.py``.  Gradients are checked in ``test_nn_gradcheck.py``."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from nn_reference import (T, adaptive_ref, avg_pool2d_ref, close, conv2d_ref, conv_transpose2d_ref, max_pool2d_ref,
                          norm_ref, pair, windows)

rng = np.random.default_rng(0)


# -- convolution ------------------------------------------------------------------------------------
CONV_CASES = [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
              dict(groups=2), dict(groups=4, padding=1), dict(dilation=2, stride=(2, 1))]


@pytest.mark.parametrize("kw", CONV_CASES, ids=str)
def test_conv2d_matches_numpy(kw):
    groups = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((8, 4 // groups, 3, 2)), rng.standard_normal(8)
    ref = conv2d_ref(x, w, b, pair(kw.get("stride", 1)), pair(kw.get("padding", 0)), pair(kw.get("dilation", 1)),
                     groups)
    close(F.conv2d(T(x), T(w), T(b), **kw), ref)
    layer = nn.Conv2d(4, 8, (3, 2), **kw).double()
    with torch.no_grad():
        layer.weight.copy_(T(w))
        layer.bias.copy_(T(b))
    close(layer(T(x)), ref)
    close(layer(T(x[0])), ref[0])  # unbatched (C, H, W) input


@pytest.mark.parametrize("groups", [1, 3])
def test_conv2d_empty_batch(device, groups):
    """A batch of 0 gives PyTorch's (0, Cout, OH, OW) result and zero weight/bias gradients."""
    x = torch.randn(0, 3, 8, 8, device=device, requires_grad=True)
    w = torch.randn(6, 3 // groups, 3, 3, device=device, requires_grad=True)
    b = torch.randn(6, device=device, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1, groups=groups)
    assert tuple(y.shape) == (0, 6, 8, 8)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 8, 8)
    assert float(w.grad.abs().sum()) == 0.0 and float(b.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("k, d", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((3, 2), (2, 3))])
def test_conv2d_same_and_valid_padding(k, d):
    x, w = rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((3, 2) + k)
    total = [di * (ki - 1) for ki, di in zip(k, d)]  # PyTorch puts the odd extra row/column at the end
    xp = np.pad(x, ((0, 0), (0, 0), (total[0] // 2, total[0] - total[0] // 2), (total[1] // 2, total[1] - total[1] // 2)))
    out = F.conv2d(T(x), T(w), padding="same", dilation=d)
    close(out, conv2d_ref(xp, w, d=d))
    assert out.shape[2:] == x.shape[2:]
    close(F.conv2d(T(x), T(w), padding="valid", dilation=d), conv2d_ref(x, w, d=d))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(T(x), T(w), padding="same", stride=2)


@pytest.mark.parametrize("mode, np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv2d_padding_modes(mode, np_mode):
    x = rng.standard_normal((1, 2, 5, 6))
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=torch.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    close(layer(T(x)), conv2d_ref(xp, layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy()))


def test_conv1d_matches_numpy():
    x, w, b = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    ref = conv2d_ref(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2), groups=2)[:, :, 0]
    close(F.conv1d(T(x), T(w), T(b), stride=2, padding=1, dilation=2, groups=2), ref)
    layer = nn.Conv1d(4, 6, 3, padding="same", bias=False, dtype=torch.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    close(layer(T(x)), conv2d_ref(xp[:, :, None], layer.weight.detach().cpu().numpy()[:, :, None])[:, :, 0])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1), padding=(0, 1), groups=3, dilation=2)], ids=str)
def test_conv_transpose2d_matches_numpy_scatter(kw):
    groups = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 6, 4, 5)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(2 * groups)
    ref = conv_transpose2d_ref(x, w, b, pair(kw.get("stride", 1)), pair(kw.get("padding", 0)),
                               pair(kw.get("output_padding", 0)), pair(kw.get("dilation", 1)), groups)
    close(F.conv_transpose2d(T(x), T(w), T(b), **kw), ref)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d():
    x, w, g = rng.standard_normal((1, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((1, 4, 3, 3))
    xt = T(x, requires_grad=True)
    F.conv2d(xt, T(w), stride=2).backward(T(g))
    close(F.conv_transpose2d(T(g), T(w), stride=2), xt.grad.cpu().numpy())


def test_conv_transpose2d_output_size():
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = torch.randn(1, 2, 4, 5)
    assert layer(x).shape == (1, 3, 7, 9)
    assert layer(x, output_size=(8, 10)).shape == (1, 3, 8, 10)
    assert layer(x, output_size=[1, 3, 8, 9]).shape == (1, 3, 8, 9)
    with pytest.raises(ValueError, match=r"valid sizes range from \[7, 9\] to \[8, 10\]"):
        layer(x, output_size=(9, 9))


def test_conv_errors():
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_unfold_fold():
    x = rng.standard_normal((2, 3, 6, 5))
    cols = F.unfold(T(x), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = windows(xp, (2, 3), (2, 1), (2, 1))  # (N, C, oh, ow, kh, kw) -> (N, C*kh*kw, oh*ow)
    close(cols, win.transpose(0, 1, 4, 5, 2, 3).reshape(2, 3 * 6, -1))
    back = F.fold(cols, (6, 5), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1))
    count = F.fold(F.unfold(torch.ones(2, 3, 6, 5, dtype=torch.float64), (2, 3), dilation=(2, 1), padding=1,
                            stride=(2, 1)), (6, 5), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1))
    close(back, x * count.cpu().numpy())  # fold sums every copy of a pixel back
    blocks = F.unfold(T(x), 2, stride=2)[..., :6]  # non-overlapping blocks fold back exactly
    close(F.fold(blocks, (6, 4), 2, stride=2), x[:, :, :, :4])


# -- pooling ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("k, s, p, d, ceil", [(2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 0, 1, True),
                                              (3, 2, 1, 1, True), ((2, 3), (1, 2), (1, 0), (2, 1), False),
                                              (2, 2, 0, 1, True)], ids=str)
def test_max_pool2d(k, s, p, d, ceil):
    x = rng.standard_normal((2, 3, 7, 6))
    values, idx = max_pool2d_ref(x, pair(k), pair(s), pair(p), pair(d), ceil)
    out, got_idx = F.max_pool2d(T(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    close(out, values)
    assert got_idx.dtype is torch.int64 and np.array_equal(got_idx.cpu().numpy(), idx)
    layer = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    close(layer(T(x)), values)
    close(layer(T(x[0])), values[0])


def test_max_pool2d_errors_and_1d():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(torch.zeros(1, 1, 4, 4), 2, padding=2)
    x = rng.standard_normal((2, 3, 9))
    values, idx = max_pool2d_ref(x[:, :, None], (1, 3), (1, 2), (0, 1))
    out, got_idx = F.max_pool1d(T(x), 3, 2, 1, return_indices=True)
    close(out, values[:, :, 0])
    assert np.array_equal(got_idx.cpu().numpy(), idx[:, :, 0])
    close(nn.MaxPool1d(3, 2, 1)(T(x)), values[:, :, 0])


@pytest.mark.parametrize("k, s, p, ceil, cip", [(2, 2, 0, False, True), (3, 2, 1, False, True),
                                                (3, 2, 1, False, False), (3, 2, 0, True, True),
                                                (3, 2, 1, True, True), (3, 2, 1, True, False),
                                                ((3, 2), (2, 1), (1, 0), False, False)], ids=str)
def test_avg_pool2d(k, s, p, ceil, cip):
    x = rng.standard_normal((2, 3, 7, 6))
    ref = avg_pool2d_ref(x, pair(k), pair(s), pair(p), ceil, cip)
    close(F.avg_pool2d(T(x), k, s, p, ceil_mode=ceil, count_include_pad=cip), ref)
    close(nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=cip)(T(x)), ref)


def test_avg_pool_divisor_override_and_1d():
    x = rng.standard_normal((1, 2, 4, 4))
    close(F.avg_pool2d(T(x), 2, divisor_override=3), avg_pool2d_ref(x, (2, 2), (2, 2)) * 4 / 3)
    x1 = rng.standard_normal((2, 3, 9))
    ref = avg_pool2d_ref(x1[:, :, None], (1, 3), (1, 2), (0, 1), count_include_pad=False)[:, :, 0]
    close(F.avg_pool1d(T(x1), 3, 2, 1, count_include_pad=False), ref)
    close(nn.AvgPool1d(3, 2, 1, count_include_pad=False)(T(x1)), ref)


@pytest.mark.parametrize("out", [(3, 4), (5, 5), (1, 1), (7, 6), (9, 10), (2, None)], ids=str)
def test_adaptive_pools(out):
    x = rng.standard_normal((2, 3, 7, 6))
    size = (out[0], 6 if out[1] is None else out[1])
    close(F.adaptive_avg_pool2d(T(x), out), adaptive_ref(x, size, np.mean))
    close(nn.AdaptiveAvgPool2d(out)(T(x[0])), adaptive_ref(x[0], size, np.mean))
    values, idx = F.adaptive_max_pool2d(T(x), out, return_indices=True)
    close(values, adaptive_ref(x, size, np.max))
    flat = x.reshape(2, 3, -1)
    assert np.array_equal(np.take_along_axis(flat, idx.cpu().numpy().reshape(2, 3, -1), -1).reshape(values.shape),
                          values.cpu().numpy())
    close(nn.AdaptiveMaxPool2d(out)(T(x)), adaptive_ref(x, size, np.max))
    x1 = rng.standard_normal((2, 3, 7))
    close(F.adaptive_avg_pool1d(T(x1), 3), adaptive_ref(x1[:, :, None], (1, 3), np.mean)[:, :, 0])


# -- normalization ----------------------------------------------------------------------------------
def test_batch_norm_train_eval_and_running_stats():
    x = rng.standard_normal((6, 3, 4, 5)) * 2 + 1
    bn = nn.BatchNorm2d(3, momentum=0.3).double()
    with torch.no_grad():
        bn.weight.copy_(T([1.0, 2.0, -1.0]))
        bn.bias.copy_(T([0.0, 0.5, 1.0]))
    gamma, beta = np.array([1.0, 2.0, -1.0])[None, :, None, None], np.array([0.0, 0.5, 1.0])[None, :, None, None]
    close(bn(T(x)), norm_ref(x, (0, 2, 3)) * gamma + beta)
    n = x.size // 3
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3)) * n / (n - 1)  # the running var is unbiased
    close(bn.running_mean, 0.3 * mean)
    close(bn.running_var, 0.7 + 0.3 * var)
    assert bn.num_batches_tracked.item() == 1
    bn(T(x))
    close(bn.running_mean, 0.7 * 0.3 * mean + 0.3 * mean)
    bn.eval()
    rm, rv = bn.running_mean.cpu().numpy().copy(), bn.running_var.cpu().numpy().copy()
    expected = (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5) * gamma + beta
    close(bn(T(x)), expected)
    close(bn.running_mean, rm)  # eval does not update
    assert bn.num_batches_tracked.item() == 2


def test_batch_norm_cumulative_average_no_tracking_and_errors():
    bn = nn.BatchNorm1d(2, momentum=None, affine=False).double()
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 2, 3))
    bn(T(a))
    bn(T(b))
    close(bn.running_mean, (a.mean(0) + b.mean((0, 2))) / 2)  # momentum=None: plain average of batches
    close(bn.running_var, (a.var(0, ddof=1) + b.transpose(1, 0, 2).reshape(2, -1).var(1, ddof=1)) / 2)
    free = nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    assert free.running_mean is None and list(free.state_dict()) == ["weight", "bias"]
    close(free(T(a)), norm_ref(a, (0,)))  # always uses batch statistics
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(2)(torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(2)(torch.zeros(3, 2))


def test_layer_norm_and_group_norm():
    x = rng.standard_normal((2, 4, 3, 5))
    w, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    close(F.layer_norm(T(x), (3, 5), T(w), T(b)), norm_ref(x, (2, 3)) * w + b)
    ln = nn.LayerNorm(5, eps=1e-3, elementwise_affine=False)
    close(ln(T(x)), norm_ref(x, (3,), eps=1e-3))
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[4\\]"):
        nn.LayerNorm(4)(T(x))
    g, c = rng.standard_normal(4), rng.standard_normal(4)
    grouped = norm_ref(x.reshape(2, 2, -1), (2,)).reshape(x.shape)
    close(F.group_norm(T(x), 2, T(g), T(c)), grouped * g[None, :, None, None] + c[None, :, None, None])
    gn = nn.GroupNorm(4, 4).double()
    close(gn(T(x)), norm_ref(x, (2, 3)))  # one channel per group: instance norm
    close(F.instance_norm(T(x)), norm_ref(x, (2, 3)))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)


def test_instance_norm():
    x = rng.standard_normal((3, 2, 4, 5)) * 2 + 1
    close(nn.InstanceNorm2d(2)(T(x)), norm_ref(x, (2, 3)))
    close(nn.InstanceNorm2d(2)(T(x[0])), norm_ref(x[0], (1, 2)))  # unbatched (C, H, W)
    layer = nn.InstanceNorm1d(2, affine=True, track_running_stats=True, momentum=0.5).double()
    with torch.no_grad():
        layer.weight.copy_(T([2.0, -1.0]))
    seq = x.reshape(3, 2, -1)
    close(layer(T(seq)), norm_ref(seq, (2,)) * np.array([2.0, -1.0])[:, None])
    n = seq.shape[2]  # running stats: the batch average of each instance's mean and unbiased variance
    close(layer.running_mean, 0.5 * seq.mean(2).mean(0))
    close(layer.running_var, 0.5 + 0.5 * (seq.var(2) * n / (n - 1)).mean(0))
    layer.eval()
    rm, rv = layer.running_mean.cpu().numpy()[:, None], layer.running_var.cpu().numpy()[:, None]
    close(layer(T(seq)), (seq - rm) / np.sqrt(rv + 1e-5) * np.array([2.0, -1.0])[:, None])
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(2)(T(x))


# -- embedding and dropout ----------------------------------------------------------------------------
def test_embedding_with_padding_idx():
    emb = nn.Embedding(6, 3, padding_idx=2).double()
    assert emb.weight[2].tolist() == [0.0, 0.0, 0.0]
    idx = T([[0, 2, 2], [5, 1, 0]])
    out = emb(idx)
    close(out, emb.weight.detach().cpu().numpy()[idx.cpu().numpy()])
    out.sum().backward()
    counts = np.bincount(idx.cpu().numpy().ravel(), minlength=6).astype(float)
    counts[2] = 0  # the padding row gets no gradient
    close(emb.weight.grad, np.repeat(counts[:, None], 3, 1))
    assert nn.Embedding(6, 3, padding_idx=-1).padding_idx == 5
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        emb(torch.zeros(2))
    pre = nn.Embedding.from_pretrained(T(np.eye(3)))
    assert not pre.weight.requires_grad and pre(T([1])).tolist() == [[0.0, 1.0, 0.0]]
    w = rng.standard_normal((5, 2)) * 3
    capped = F.embedding(T([1, 3]), T(w), max_norm=1.0)  # rows used are renormalized in place
    assert np.allclose(np.linalg.norm(capped.cpu().numpy(), axis=1), 1.0)


def test_dropout():
    torch.manual_seed(0)
    x = torch.ones(200, 100, dtype=torch.float64)
    out = F.dropout(x, 0.25)
    vals = np.unique(out.cpu().numpy())
    assert set(vals) <= {0.0, 1 / 0.75} and abs((out.cpu().numpy() == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.25, training=False) is x and F.dropout(x, 0.0) is x
    assert F.dropout(x, 1.0).abs().sum().item() == 0
    layer = nn.Dropout(0.5)
    assert layer(x).cpu().numpy().min() == 0.0 and layer.eval()(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    maps = F.dropout2d(torch.ones(50, 40, 3, 3, dtype=torch.float64), 0.5).cpu().numpy()
    assert (maps == maps[:, :, :1, :1]).all()  # whole channels are dropped or kept
    assert set(np.unique(maps)) == {0.0, 2.0}
    assert nn.Dropout2d(0.5).eval()(x) is x
