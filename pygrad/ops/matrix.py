"""Triangular parts of matrices: ``tril`` and ``triu`` (used for causal attention masks).

Both keep a band of the last two dims and fill the rest with zeros: a ``masked_fill`` with a boolean mask
built from two ``arange`` rows, so they run on any device that has those ops.  Each is one op with
PyTorch's node (``TrilBackward0`` / ``TriuBackward0``), whose gradient is the same triangle of ``g``.
"""
from ..autograd.function import Function


def _band_mask(input, diagonal, upper):
    """Bool (rows, cols) mask: True where ``col - row >= diagonal`` (upper) or ``<= diagonal`` (lower)."""
    from ..creation import arange

    if input.dim() < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    rows, cols = input._shape[-2], input._shape[-1]
    offset = arange(cols, device=input.device).unsqueeze(0) - arange(rows, device=input.device).unsqueeze(1)
    return offset >= diagonal if upper else offset <= diagonal


class Tril(Function):
    """Lower triangle (``TrilBackward0``; with ``upper`` the upper one, ``Triu``): the entries with
    ``col - row <= diagonal`` (``>=``) kept, the others 0; the gradient is the same triangle of ``g``."""

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return x.masked_fill(~_band_mask(x, diagonal, upper), 0)

    @staticmethod
    def backward(ctx, g):
        return (triu if ctx.upper else tril)(g, ctx.diagonal), None, None


class Triu(Tril):
    node_name = "TriuBackward0"


def tril(input, diagonal=0):
    """Lower triangle: keeps entries with ``col - row <= diagonal``, zeros the others."""
    return Tril.apply(input, diagonal, False)


def triu(input, diagonal=0):
    """Upper triangle: keeps entries with ``col - row >= diagonal``, zeros the others."""
    return Triu.apply(input, diagonal, True)


def tril_(input, diagonal=0):
    return input.copy_(tril(input, diagonal))


def triu_(input, diagonal=0):
    return input.copy_(triu(input, diagonal))
