"""F.pixel_shuffle / F.pixel_unshuffle and nn.PixelShuffle / nn.PixelUnshuffle (the sub-pixel convolution of
pytorch/examples' super_resolution): NumPy golden values on both backends, leading batch dims, PyTorch's node
names and error messages, gradcheck / gradgradcheck."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck


def _np_shuffle(a, r):
    *lead, c, h, w = a.shape
    n = len(lead)
    b = a.reshape(*lead, c // (r * r), r, r, h, w)
    return b.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2).reshape(*lead, c // (r * r), h * r, w * r)


@pytest.mark.parametrize("shape,r", [((1, 4, 2, 2), 2), ((2, 18, 3, 5), 3), ((3, 2, 5), 1), ((2, 3, 8, 2, 3), 2)])
def test_pixel_shuffle_golden_and_round_trip(shape, r, device):
    a = np.random.default_rng(r).standard_normal(shape).astype(np.float32)
    x = torch.tensor(a, device=device, requires_grad=True)
    y = F.pixel_shuffle(x, r)
    assert y.grad_fn.name() == "PixelShuffleBackward0" and y.is_contiguous()
    np.testing.assert_array_equal(y.detach().cpu().numpy(), _np_shuffle(a, r))
    z = F.pixel_unshuffle(y, r)
    assert z.grad_fn.name() == "PixelUnshuffleBackward0"
    np.testing.assert_array_equal(z.detach().cpu().numpy(), a)
    g = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
    y.backward(torch.tensor(g, device=device))  # the gradient is the inverse permutation of g
    np.testing.assert_array_equal(_np_shuffle(x.grad.cpu().numpy(), r), g)
    # a strided input (a channel slice) gives the same as its contiguous copy
    xs = torch.tensor(np.concatenate([a, a], axis=-3), device=device)[..., ::2, :, :]
    np.testing.assert_array_equal(F.pixel_shuffle(xs, r).cpu().numpy(),
                                  _np_shuffle(np.ascontiguousarray(np.concatenate([a, a], axis=-3)[..., ::2, :, :]), r))


def test_pixel_shuffle_modules_and_errors():
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"
    x = torch.arange(16.0).reshape(1, 4, 2, 2)
    assert nn.PixelShuffle(2)(x).tolist() == [[[[0.0, 4.0, 1.0, 5.0], [8.0, 12.0, 9.0, 13.0],
                                                  [2.0, 6.0, 3.0, 7.0], [10.0, 14.0, 11.0, 15.0]]]]  # PyTorch's
    assert torch.equal(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(x)), x)
    cases = [(lambda: F.pixel_shuffle(torch.zeros(2, 5, 3, 3), 2),
              "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
              "but input.size(-3)=5 is not divisible by 4"),
             (lambda: F.pixel_shuffle(torch.zeros(5, 3), 2),
              "pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)"),
             (lambda: F.pixel_shuffle(torch.zeros(1, 4, 3, 3), 0), "pixel_shuffle expects a positive upscale_factor, "
                                                                   "but got 0"),
             (lambda: F.pixel_unshuffle(torch.zeros(1, 1, 3, 4), 2),
              "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=3 is not "
              "divisible by 2"),
             (lambda: F.pixel_unshuffle(torch.zeros(1, 1, 4, 3), 2),
              "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=3 is not "
              "divisible by 2")]
    for fn, msg in cases:
        with pytest.raises(RuntimeError) as e:
            fn()
        assert str(e.value) == msg


def test_pixel_shuffle_gradcheck():
    x = torch.tensor(np.random.default_rng(1).standard_normal((2, 8, 2, 3)), requires_grad=True)
    for f in (lambda x: F.pixel_shuffle(x, 2), lambda x: F.pixel_unshuffle(F.pixel_shuffle(x, 2) * x.sum(), 2)):
        assert gradcheck(f, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)
        assert gradgradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_super_resolution_model_trains(device):
    """pytorch/examples' super_resolution Net: convolutions, then PixelShuffle(3) to 3x the size."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 9, 3, padding=1),
                          nn.PixelShuffle(3)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, target = torch.rand(4, 1, 6, 6, device=device), torch.rand(4, 1, 18, 18, device=device)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model(x).shape == (4, 1, 18, 18) and losses[-1] < 0.7 * losses[0]
