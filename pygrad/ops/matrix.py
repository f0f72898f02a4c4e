"""Triangular parts of matrices: ``tril`` and ``triu`` (used for causal attention masks).

Both keep a band of the last two dims and fill the rest with zeros.  They are a ``masked_fill``
with a boolean mask built from two ``arange`` rows, so they need no backward of their own (the
gradient simply flows through the kept entries) and run on any device that has those ops.
"""


def _band_mask(input, diagonal, upper):
    """Bool (rows, cols) mask: True where ``col - row >= diagonal`` (upper) or ``<= diagonal`` (lower)."""
    from ..creation import arange

    if input.dim() < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    rows, cols = input._shape[-2], input._shape[-1]
    offset = arange(cols, device=input.device).unsqueeze(0) - arange(rows, device=input.device).unsqueeze(1)
    return offset >= diagonal if upper else offset <= diagonal


def tril(input, diagonal=0):
    """Lower triangle: keeps entries with ``col - row <= diagonal``, zeros the others."""
    return input.masked_fill(~_band_mask(input, diagonal, upper=False), 0)


def triu(input, diagonal=0):
    """Upper triangle: keeps entries with ``col - row >= diagonal``, zeros the others."""
    return input.masked_fill(~_band_mask(input, diagonal, upper=True), 0)


def tril_(input, diagonal=0):
    return input.copy_(tril(input, diagonal))


def triu_(input, diagonal=0):
    return input.copy_(triu(input, diagonal))
