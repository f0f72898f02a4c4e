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
    """Lower triangle (``TrilBackward0``): the entries with ``col - row <= diagonal`` kept, the others 0."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return x.masked_fill(~_band_mask(x, diagonal, upper=False), 0)

    @staticmethod
    def backward(ctx, g):
        return tril(g, ctx.diagonal), None


class Triu(Function):
    """Upper triangle (``TriuBackward0``): the entries with ``col - row >= diagonal`` kept, the others 0."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return x.masked_fill(~_band_mask(x, diagonal, upper=True), 0)

    @staticmethod
    def backward(ctx, g):
        return triu(g, ctx.diagonal), None


def tril(input, diagonal=0):
    """Lower triangle: keeps entries with ``col - row <= diagonal``, zeros the others."""
    return Tril.apply(input, diagonal)


def triu(input, diagonal=0):
    """Upper triangle: keeps entries with ``col - row >= diagonal``, zeros the others."""
    return Triu.apply(input, diagonal)


def tril_(input, diagonal=0):
    return input.copy_(tril(input, diagonal))


def triu_(input, diagonal=0):
    return input.copy_(triu(input, diagonal))
