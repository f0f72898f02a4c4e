"""Shape and view ops against NumPy, on contiguous and non-contiguous inputs; storage sharing."""
import numpy as np
import pytest

import pygrad as torch
from helpers import assert_equal, layouts, shares_storage, to_np

A3 = np.arange(24).reshape(2, 3, 4)

# (name, pygrad op, NumPy op), applied to every layout of A3 (all ops here accept any layout)
OPS = [
    ("reshape", lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
    ("reshape-infer", lambda t: t.reshape(-1, 3), lambda a: a.reshape(-1, 3)),
    ("flatten", lambda t: t.flatten(), lambda a: a.reshape(-1)),
    ("flatten-1", lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
    ("flatten-0-1", lambda t: t.flatten(0, 1), lambda a: a.reshape(6, 4)),
    ("unflatten", lambda t: t.unflatten(2, (2, 2)), lambda a: a.reshape(2, 3, 2, 2)),
    ("unsqueeze0", lambda t: t.unsqueeze(0), lambda a: a[None]),
    ("unsqueeze-1", lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    ("unsqueeze2", lambda t: t.unsqueeze(2), lambda a: a[:, :, None]),
    ("squeeze", lambda t: t.unsqueeze(1).squeeze(), lambda a: a),
    ("transpose", lambda t: t.transpose(0, 2), lambda a: a.transpose(2, 1, 0)),
    ("swapaxes", lambda t: t.swapaxes(1, 2), lambda a: a.swapaxes(1, 2)),
    ("T", lambda t: t.permute(2, 1, 0), lambda a: a.T),
    ("mT", lambda t: t.mT, lambda a: a.swapaxes(-1, -2)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("permute-neg", lambda t: t.permute(-1, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("expand", lambda t: t.unsqueeze(0).expand(3, 2, 3, 4), lambda a: np.broadcast_to(a, (3, 2, 3, 4))),
    ("contiguous", lambda t: t.contiguous(), lambda a: a),
    ("narrow", lambda t: t.narrow(2, 1, 2), lambda a: a[:, :, 1:3]),
    ("narrow-neg", lambda t: t.narrow(1, -2, 2), lambda a: a[:, 1:]),
    ("select", lambda t: t.select(1, -1), lambda a: a[:, -1]),
    ("flip0", lambda t: t.flip(0), lambda a: a[::-1]),
    ("flip-all", lambda t: t.flip(0, 1, 2), lambda a: a[::-1, ::-1, ::-1]),
    ("flip-list", lambda t: t.flip([-1]), lambda a: a[..., ::-1]),
    ("repeat", lambda t: t.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    ("repeat-lead", lambda t: t.repeat(2, 1, 1, 1), lambda a: np.tile(a, (2, 1, 1, 1))),
    ("tile", lambda t: t.tile(2), lambda a: np.tile(a, 2)),
    ("tile-lead", lambda t: t.tile((2, 1, 1, 1)), lambda a: np.tile(a, (2, 1, 1, 1))),
    ("movedim", lambda t: t.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1)),
    ("movedim-tuple", lambda t: t.movedim((0, 1), (2, 0)), lambda a: np.moveaxis(a, (0, 1), (2, 0))),
    ("roll", lambda t: t.roll(1), lambda a: np.roll(a, 1)),
    ("roll-dim", lambda t: t.roll(-1, 2), lambda a: np.roll(a, -1, 2)),
    ("roll-dims", lambda t: t.roll((1, 2), (0, 2)), lambda a: np.roll(a, (1, 2), (0, 2))),
    ("cat", lambda t: torch.cat([t, t], 1), lambda a: np.concatenate([a, a], 1)),
    ("cat-neg", lambda t: torch.cat((t, t[:, :, :1]), dim=-1), lambda a: np.concatenate([a, a[:, :, :1]], -1)),
    ("stack", lambda t: torch.stack([t, t]), lambda a: np.stack([a, a])),
    ("stack-last", lambda t: torch.stack([t, t], -1), lambda a: np.stack([a, a], -1)),
    ("clone", lambda t: t.clone(), lambda a: a),
]


@pytest.mark.parametrize("name, op, np_op", OPS, ids=[o[0] for o in OPS])
def test_op_matches_numpy_on_every_layout(name, op, np_op, device):
    for layout, t, a in layouts(A3, device):
        assert_equal(op(t), np_op(a))


@pytest.mark.parametrize("name, op, np_op", [
    ("unbind", lambda t: t.unbind(1), lambda a: [a[:, i] for i in range(3)]),
    ("chunk", lambda t: t.chunk(3, 2), lambda a: np.array_split(a, [2], 2)),
    ("chunk-many", lambda t: t.chunk(4, -1), lambda a: np.split(a, 4, -1)),
    ("split", lambda t: t.split(3, 2), lambda a: np.split(a, [3], 2)),
    ("split-sizes", lambda t: t.split([1, 2], 1), lambda a: np.split(a, [1], 1)),
])
def test_multi_output_ops(name, op, np_op, device):
    for layout, t, a in layouts(A3, device):
        parts = op(t)
        assert isinstance(parts, tuple)
        expected = np_op(a)
        assert len(parts) == len(expected)
        for p, e in zip(parts, expected):
            assert_equal(p, e)


def test_chunk_and_split_sizes():
    x = torch.arange(10)
    assert [c.numel() for c in x.chunk(3)] == [4, 4, 2]
    assert [c.numel() for c in x.chunk(4)] == [3, 3, 3, 1]
    assert [c.numel() for c in x.chunk(20)] == [1] * 10
    assert [c.numel() for c in x.split(4)] == [4, 4, 2]
    with pytest.raises(RuntimeError):
        x.split([2, 7])
    with pytest.raises(RuntimeError):
        x.chunk(0)


# -- views share storage -----------------------------------------------------------------------------
VIEWS = [  # (name, pygrad view op, the NumPy view of the same elements)
    ("view", lambda t: t.view(4, 3), lambda a: a.reshape(4, 3)),
    ("reshape", lambda t: t.reshape(12), lambda a: a.reshape(12)),
    ("t", lambda t: t.t(), lambda a: a.T), ("T", lambda t: t.T, lambda a: a.T),
    ("transpose", lambda t: t.transpose(0, 1), lambda a: a.T),
    ("permute", lambda t: t.permute(1, 0), lambda a: a.T),
    ("unsqueeze", lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    ("squeeze", lambda t: t.unsqueeze(0).squeeze(0), lambda a: a),
    ("narrow", lambda t: t.narrow(1, 1, 2), lambda a: a[:, 1:3]),
    ("select", lambda t: t.select(0, 1), lambda a: a[1]),
    ("slice", lambda t: t[:, ::2], lambda a: a[:, ::2]),
    ("expand", lambda t: t[:1].expand(5, 4), lambda a: a[:1]),
    ("flatten", lambda t: t.flatten(), lambda a: a.reshape(-1)),
    ("unbind", lambda t: t.unbind(0)[1], lambda a: a[1]),
    ("chunk", lambda t: t.chunk(2, 1)[1], lambda a: a[:, 2:]),
    ("split", lambda t: t.split(1)[2], lambda a: a[2:]),
    ("movedim", lambda t: t.movedim(0, 1), lambda a: a.T),
    ("contiguous", lambda t: t.contiguous(), lambda a: a),
    ("unflatten", lambda t: t.unflatten(1, (2, 2)), lambda a: a),
    ("view_as", lambda t: t.view_as(torch.zeros(6, 2)), lambda a: a),
    ("diagonal-stride", lambda t: t.flatten()[::5], lambda a: a.reshape(-1)[::5]),
]


@pytest.mark.parametrize("name, op, np_op", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_write_through(name, op, np_op, device):
    x = torch.arange(12, device=device).reshape(3, 4)
    v = op(x)
    assert shares_storage(v, x)
    v.fill_(-1)
    expected = np.arange(12).reshape(3, 4)
    np_op(expected)[...] = -1
    np.testing.assert_array_equal(to_np(x), expected)


def test_setitem_through_transposed_view():
    x = torch.arange(12).reshape(3, 4)
    y = x.t()
    y[0, 1] = 100
    assert x[1, 0].item() == 100
    v = x.view(4, 3)
    v[0] = -1
    assert to_np(x)[0].tolist() == [-1, -1, -1, 3]


@pytest.mark.parametrize("name, op", [
    ("flip", lambda t: t.flip(0)), ("repeat", lambda t: t.repeat(1, 1)), ("clone", lambda t: t.clone()),
    ("cat", lambda t: torch.cat([t])), ("roll", lambda t: t.roll(1)), ("t-reshape", lambda t: t.t().reshape(12)),
])
def test_copying_ops_do_not_share(name, op):
    x = torch.arange(12).reshape(3, 4)
    y = op(x)
    assert not shares_storage(x, y)
    y.fill_(0)
    assert_equal(x, np.arange(12).reshape(3, 4))


# -- view vs reshape on non-contiguous layouts ----------------------------------------------------------
def test_view_after_transpose_raises_but_reshape_works():
    x = torch.arange(12).reshape(3, 4)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(12)
    assert_equal(x.t().reshape(12), np.arange(12).reshape(3, 4).T.reshape(12))
    assert_equal(x.t().contiguous().view(12), np.arange(12).reshape(3, 4).T.reshape(12))
    with pytest.raises(RuntimeError):
        x[:, 1:3].view(6)  # rows of 2 with gaps between them


@pytest.mark.parametrize("make, shape, strides", [
    (lambda: torch.arange(24).reshape(2, 3, 4).transpose(0, 1), (3, 8), None),  # transposed outer dims
    (lambda: torch.arange(24).reshape(2, 3, 4).transpose(0, 1), (3, 2, 2, 2), (4, 12, 2, 1)),
    (lambda: torch.arange(24).reshape(2, 3, 4)[:, :, :2], (6, 2), (4, 1)),  # sliced last dim: rows stay
    (lambda: torch.arange(24).reshape(2, 3, 4)[:, :2], (2, 8), (12, 1)),  # sliced middle dim
    (lambda: torch.arange(24).reshape(2, 3, 4)[:, :2], (4, 4), None),
    (lambda: torch.zeros(3, 1).expand(3, 4), (3, 2, 2), (1, 0, 0)),  # expanded dims split
    (lambda: torch.zeros(3, 1).expand(3, 4), (12,), None),
    (lambda: torch.zeros(1, 4).expand(3, 4), (12,), None),
    (lambda: torch.arange(12).reshape(3, 4)[:, 1], (3,), (4,)),
    (lambda: torch.arange(12).reshape(3, 4).t(), (4, 3, 1), (1, 4, 4)),
    (lambda: torch.arange(12).reshape(3, 4)[:, ::2], (6,), (2,)),  # evenly spaced: one stride fits
    (lambda: torch.arange(12).reshape(3, 4)[:, 1:3], (6,), None),
])
def test_view_on_non_contiguous(make, shape, strides):
    """``view`` succeeds exactly where PyTorch's stride rules allow it (None: must raise)."""
    x = make()
    if strides is None:
        with pytest.raises(RuntimeError):
            x.view(*shape)
        return
    v = x.view(*shape)
    assert v.shape == shape and v.stride() == strides and shares_storage(v, x)
    np.testing.assert_array_equal(to_np(v), to_np(x).reshape(shape))


def test_view_errors():
    x = torch.arange(12).reshape(3, 4)
    with pytest.raises(RuntimeError, match="invalid for input of size 12"):
        x.view(5, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(RuntimeError):
        x.view(4, 4)
    with pytest.raises(RuntimeError):
        x.reshape(5)


def test_view_zero_size_and_zero_dim():
    assert torch.zeros(0, 4).view(-1).shape == (0,)
    assert torch.zeros(0, 4).view(0, 2, 2).shape == (0, 2, 2)
    assert torch.zeros(2, 0, 4).reshape(0, 5).shape == (0, 5)
    assert torch.zeros(0, 4).view(2, -1).shape == (2, 0)
    assert torch.tensor(3).view(1, 1).shape == (1, 1)
    assert torch.tensor(3).view(-1).shape == (1,)
    assert torch.tensor([3]).view(()).shape == ()
    assert torch.tensor(5).flatten().shape == (1,)


# -- layout attributes ----------------------------------------------------------------------------------
def test_strides_offsets_contiguity():
    x = torch.arange(12).reshape(3, 4)
    assert x.stride() == (4, 1) and x.stride(0) == 4 and x.stride(-1) == 1
    assert x.is_contiguous() and x.storage_offset() == 0
    assert x.t().stride() == (1, 4) and not x.t().is_contiguous()
    assert x.t().contiguous().stride() == (3, 1)
    assert x[:, 1].stride() == (4,) and x[:, 1].storage_offset() == 1
    assert x[1:, ::2].stride() == (4, 2) and x[1:, ::2].storage_offset() == 4
    assert x.unsqueeze(1).stride() == (4, 4, 1) and x.unsqueeze(2).stride() == (4, 1, 1)
    assert x[None].stride() == (12, 4, 1) and x[:, None].stride() == (4, 4, 1) and x[..., None].stride() == (4, 1, 1)
    assert x[None, 1].stride() == (12, 1) and x[::2, None].stride() == (8, 4, 1)
    assert torch.zeros(2, 4, 6, 8).transpose(0, 2).stride() == (8, 48, 192, 1)
    assert torch.zeros(2, 3, 5).permute(2, 0, 1).stride() == (1, 15, 5)
    e = torch.tensor([1, 2, 3]).expand(2, 3)
    assert e.stride() == (0, 1) and not e.is_contiguous()
    assert torch.zeros(4, 1).t().is_contiguous()  # size-1 dims may have any stride
    assert torch.zeros(0, 3).t().is_contiguous()
    assert x.narrow(0, 2, 1).storage_offset() == 8


def test_shapes_from_course_notes():
    x = torch.zeros(10, 20)
    assert x.unsqueeze(0).shape == (1, 10, 20) and x.unsqueeze(1).shape == (10, 1, 20)
    y = torch.zeros(1, 1, 1, 10, 20)
    assert y.squeeze(2).shape == (1, 1, 10, 20)
    assert y.squeeze(3).shape == (1, 1, 1, 10, 20)  # not size 1: unchanged
    assert y.squeeze().shape == (10, 20)
    assert y.squeeze((0, 1)).shape == (1, 10, 20)
    assert torch.zeros(2, 4).t().shape == (4, 2)
    assert torch.zeros(2, 4, 6, 8).transpose(0, 2).shape == (6, 4, 2, 8)
    assert torch.permute(torch.zeros(2, 3, 5), (2, 0, 1)).size() == (5, 2, 3)
    assert torch.zeros(3).t().shape == (3,)
    assert torch.zeros(2, 3).T.shape == (3, 2) and torch.zeros(2, 3, 4).mT.shape == (2, 4, 3)


def test_size_object():
    s = torch.zeros(2, 3).shape
    assert repr(s) == "torch.Size([2, 3])" and str(s) == "torch.Size([2, 3])"
    assert repr(torch.tensor(1).shape) == "torch.Size([])"
    assert s == (2, 3) and isinstance(s, tuple) and s[1] == 3
    assert repr(s[1:]) == "torch.Size([3])"
    assert s.numel() == 6 and torch.zeros(2, 3).size() == s
    assert torch.zeros(2, 3).size(-1) == 3 and torch.zeros(2, 3).size(dim=1) == 3
    assert f"{s}" == "torch.Size([2, 3])"
    with pytest.raises(IndexError):
        torch.zeros(2, 3).size(2)


def test_shape_op_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError):
        x.t().t().permute(0)
    with pytest.raises(RuntimeError):
        x.permute(0, 0)
    with pytest.raises(IndexError):
        x.transpose(0, 2)
    with pytest.raises(IndexError):
        x.unsqueeze(3)
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3, 4).t()
    with pytest.raises(RuntimeError):
        x.expand(3, 3)
    with pytest.raises(RuntimeError):
        x.expand(2)
    with pytest.raises(RuntimeError):
        x.narrow(1, 2, 2)
    with pytest.raises(IndexError):
        x.select(0, 2)
    with pytest.raises(RuntimeError):
        x.repeat(2)
    with pytest.raises(RuntimeError):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError):
        x.roll(1, dims=(0, 1))


def test_expand_details():
    x = torch.tensor([1, 2, 3])
    assert x.expand(2, -1).shape == (2, 3)
    assert_equal(torch.tensor([[1], [2]]).expand(2, 3), np.array([[1, 1, 1], [2, 2, 2]]))
    assert_equal(x.expand_as(torch.zeros(2, 3)), np.array([[1, 2, 3]] * 2))
    assert x.expand(2, 2, 3).contiguous().stride() == (6, 3, 1)


def test_cat_and_stack_details():
    x = torch.arange(6).reshape(2, 3)
    assert torch.cat([x, x.float()]).dtype is torch.float32  # promotes
    assert_equal(torch.cat([x, torch.zeros(0, dtype=torch.int64)]), np.arange(6).reshape(2, 3))  # legacy 1-D empty
    assert torch.cat([x, x], dim=-1).shape == (2, 6)
    assert_equal(torch.stack([x, x], 1), np.stack([np.arange(6).reshape(2, 3)] * 2, 1))
    assert torch.cat([torch.zeros(3, 2, 5), torch.zeros(3, 5, 5), torch.zeros(3, 6, 5)], dim=1).shape == (3, 13, 5)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        torch.cat([x, torch.zeros(2, 2)], 0)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        torch.stack([x, x.t()])
    with pytest.raises(RuntimeError):
        torch.cat([torch.tensor(1), torch.tensor(2)])
