"""Turn tensor data into the exact text that PyTorch prints.

``repr(torch.tensor(...))`` follows a precise recipe (PyTorch's
``torch/_tensor_str.py``).  This module re-implements that recipe on top of a
plain numpy array, so that pygrad tensors print character-for-character like
PyTorch tensors.  It deliberately imports nothing from pygrad: give it a numpy
array plus a few names and it gives back a string.

The recipe, in short:

1. Decide whether to *summarise*: if the tensor has more than ``threshold``
   elements, only the first and last ``edgeitems`` entries of every dimension
   are shown, with ``...`` in between.
2. Build one *formatter* from the elements that will actually be shown.  It
   picks one style for the whole tensor (integer, ``1.`` style whole floats,
   fixed point with ``precision`` digits, or scientific notation) and one
   common width, so that all columns line up.
3. Print nested brackets.  A 1-d row is split over several lines when it does
   not fit into ``linewidth``; sub-blocks of an n-d tensor are separated by
   ``n - 1`` newlines (so 3-d blocks get a blank line between them).
4. Wrap everything in ``tensor(...)`` and append suffixes such as
   ``dtype=torch.int32`` or ``requires_grad=True``.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PRINT_OPTIONS", "set_printoptions", "get_printoptions", "tensor_repr"]


@dataclass
class PrintOptions:
    """The current print options (same names and defaults as PyTorch).

    Read or change them as attributes (``PRINT_OPTIONS.precision``) or like a
    dict (``PRINT_OPTIONS["precision"]``).
    """

    precision: int = 4  # digits after the decimal point
    threshold: float = 1000  # more elements than this -> summarise
    edgeitems: int = 3  # items kept at each end of a summarised dimension
    linewidth: int = 80  # characters per line before a row is wrapped
    sci_mode: object = None  # True / False forces it; None lets us decide

    def __getitem__(self, name):
        return getattr(self, name)

    def __setitem__(self, name, value):
        if name not in asdict(self):
            raise KeyError(name)
        setattr(self, name, value)


PRINT_OPTIONS = PrintOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(precision=None, threshold=None, edgeitems=None,
                     linewidth=None, profile=None, sci_mode=None):
    """Change how tensors are printed (same semantics as ``torch.set_printoptions``).

    ``profile`` ('default', 'short' or 'full') first resets the four numeric
    options; any other argument that is not None then overrides it.  Like
    PyTorch, ``sci_mode`` is *always* assigned, so calling this function
    without ``sci_mode`` returns to automatic scientific notation.
    """
    if profile is not None:
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTIONS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTIONS, name, value)
    PRINT_OPTIONS.sci_mode = sci_mode


def get_printoptions():
    """Return the current options as a dict usable as ``set_printoptions(**d)``."""
    return asdict(PRINT_OPTIONS)


def _shown_elements(values, edgeitems):
    """Return only the elements a summarised print shows.

    Along every dimension longer than ``2 * edgeitems`` we keep the first and
    the last ``edgeitems`` entries.  The formatter is built from these, so a
    huge value hidden behind ``...`` cannot change the style or the width.
    """
    for axis, size in enumerate(values.shape):
        if size > 2 * edgeitems:
            keep = list(range(edgeitems)) + list(range(size - edgeitems, size))
            values = np.take(values, keep, axis=axis)
    return values


class _Formatter:
    """Chooses one number style and one width for every element of a tensor.

    * Integers and bools are printed with ``str`` (``7``, ``-12``, ``True``).
    * Floats look only at the *finite, nonzero* values:
      - If all of them are whole numbers we are in "int mode": ``3.`` style.
      - Scientific notation (``1.0000e+05``) is used when the biggest
        magnitude is more than 1000 times the smallest, or above ``1e8``, or
        the smallest is below ``1e-4`` (unless ``sci_mode`` forces a choice).
      - Otherwise fixed point with ``precision`` digits (``0.5000``).
    * The width is the longest of those texts (at least 1).  Zeros, nan and
      inf do not count towards it; they are just padded to the same width.
    """

    def __init__(self, shown, is_float):
        self.is_float = is_float
        self.int_mode = True
        self.sci_mode = False
        self.precision = PRINT_OPTIONS.precision
        self.width = 1
        flat = shown.reshape(-1)
        if not is_float:
            for value in flat.tolist():
                self.width = max(self.width, len(str(value)))
            return
        nonzero = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero.size == 0:
            return  # nothing but zeros / nan / inf: keep the defaults
        magnitudes = np.abs(nonzero).astype(np.float64)
        smallest, biggest = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(np.ceil(nonzero) == nonzero))
        if PRINT_OPTIONS.sci_mode is None:
            self.sci_mode = (biggest / smallest > 1000.0 or biggest > 1.0e8
                             or smallest < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTIONS.sci_mode
        for value in nonzero.tolist():
            if self.sci_mode:
                text = f"{value:.{self.precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}."  # the '.' marks a float tensor
            else:
                text = f"{value:.{self.precision}f}"
            self.width = max(self.width, len(text))

    def __call__(self, value):
        """Format one Python number, right-aligned to the common width."""
        if not self.is_float:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{self.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."  # '1.', '-0.' but 'nan', 'inf'
        else:
            text = f"{value:.{self.precision}f}"
        return text.rjust(self.width)


def _row_text(row, indent, summarize, fmt):
    """Print a 1-d array as ``[a, b, c]``, wrapping long rows.

    Every element takes ``width + 2`` characters (the ", " after it), so a
    line holds ``(linewidth - indent) // (width + 2)`` elements (at least 1).
    Continuation lines are indented to start just after the ``[``.
    """
    edge = PRINT_OPTIONS.edgeitems
    per_line = max(1, math.floor((PRINT_OPTIONS.linewidth - indent) / (fmt.width + 2)))
    if summarize and not edge:
        items = ["..."]
    elif summarize and row.shape[0] > 2 * edge:
        items = ([fmt(v) for v in row[:edge].tolist()] + [" ..."]
                 + [fmt(v) for v in row[-edge:].tolist()])
    else:
        items = [fmt(v) for v in row.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _block_text(values, indent, summarize, fmt):
    """Print an array of any rank as nested brackets.

    ``indent`` is the column where this block's ``[`` sits; inner blocks are
    one column further right.  Blocks of an n-d array are separated by a comma,
    ``n - 1`` newlines and the indentation, so 3-d and higher tensors get blank
    lines between their 2-d slices.
    """
    if values.ndim == 0:
        return fmt(values.item())
    if values.ndim == 1:
        return _row_text(values, indent, summarize, fmt)
    size, edge = values.shape[0], PRINT_OPTIONS.edgeitems
    if summarize and size > 2 * edge:
        parts = ([_block_text(values[i], indent + 1, summarize, fmt) for i in range(edge)]
                 + ["..."]
                 + [_block_text(values[i], indent + 1, summarize, fmt)
                    for i in range(size - edge, size)])
    else:
        parts = [_block_text(values[i], indent + 1, summarize, fmt) for i in range(size)]
    separator = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _add_suffixes(text, suffixes, indent):
    """Append ``, suffix`` items and the closing ``)``.

    A suffix goes onto a new line (indented like the data) when it would make
    the current line longer than ``linewidth``.  The length estimate below
    copies PyTorch's, which counts one or two characters too many.
    """
    pieces = [text]
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > PRINT_OPTIONS.linewidth:
            pieces.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            pieces.append(", " + suffix)
            line_len += len(suffix) + 2
    return "".join(pieces) + ")"


def tensor_repr(values, dtype_name, dtype_repr, *, default_dtype_name="float32",
                device=None, suffixes=()):
    """Return the text PyTorch's ``repr(tensor)`` gives.

    values: numpy array with the tensor's data (any shape, including 0-d and
        zero-size; bool, int or float dtype).
    dtype_name / dtype_repr: e.g. ``'int32'`` and ``'torch.int32'``.
    default_dtype_name: the current default float dtype; ``dtype=`` is hidden
        for it, for int64 and for bool (empty tensors only hide the default).
    device: None for CPU, else e.g. ``'opencl:0'`` -> ``device='opencl:0'``.
    suffixes: extra ready-made suffixes appended last, e.g.
        ``('requires_grad=True',)`` or ``('grad_fn=<AddBackward0>',)``.
    """
    values = np.asarray(values)
    if dtype_name == "bfloat16":  # formatted from its float32 value, as PyTorch does
        values = values.astype(np.float32)
    prefix = "tensor("
    indent = len(prefix)
    extra = [] if device is None else [f"device='{device}'"]
    if values.size == 0:
        # Nothing to show; the shape (unless 1-d) and a non-default dtype
        # (even int64 / bool, which cannot be guessed from the data) are.
        if values.ndim != 1:
            extra.append(f"size={tuple(values.shape)}")
        if dtype_name != default_dtype_name:
            extra.append(f"dtype={dtype_repr}")
        body = "[]"
    else:
        if not PRINT_OPTIONS.edgeitems:
            extra.append(f"size={tuple(values.shape)}")
        if dtype_name not in (default_dtype_name, "int64", "bool"):
            extra.append(f"dtype={dtype_repr}")
        summarize = values.size > PRINT_OPTIONS.threshold
        shown = _shown_elements(values, PRINT_OPTIONS.edgeitems) if summarize else values
        fmt = _Formatter(shown, np.issubdtype(values.dtype, np.floating))
        body = _block_text(values, indent, summarize, fmt)
    return _add_suffixes(prefix + body, extra + list(suffixes), indent)
