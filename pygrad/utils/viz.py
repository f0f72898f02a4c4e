"""Draw the autograd graph behind a tensor as Graphviz DOT text.

::

    from pygrad.utils.viz import draw_graph
    x = torch.tensor([3.], requires_grad=True)
    y = torch.tensor([2.], requires_grad=True)
    f = (2 * x ** 2 - 6 * y ** 2) ** 2
    print(draw_graph(f))                  # the DOT text
    draw_graph(f, "f.dot")                # writes f.dot, and f.dot.svg if Graphviz is installed

What is drawn is what ``f.backward()`` walks (see ``pygrad/autograd/engine.py``):

* the root tensor (a box with its shape, filled green) points at its ``grad_fn``;
* every graph node (an ellipse labelled with ``node.name()``, e.g. ``PowBackward0``) points at the
  nodes in its ``next_functions``, i.e. edges go in the direction the gradients flow;
* a leaf tensor that requires grad is reached through its ``AccumulateGrad`` node, which points at
  the leaf itself (a box with its shape, filled blue).

Each distinct node is drawn once, however many edges lead to it (in ``x * x`` both inputs of
``MulBackward0`` lead to the same ``AccumulateGrad``, so it is drawn once with two edges into it).
The walk is iterative, so very deep graphs (long chains of ops) are fine.
"""
import os
import re
import shutil
import subprocess
import warnings
from collections import deque

from ..autograd.engine import AccumulateGrad

__all__ = ["draw_graph"]

_ROOT_STYLE = 'shape=box, style=filled, fillcolor="#c5e8b7"'
_LEAF_STYLE = 'shape=box, style=filled, fillcolor="#cfe2f3"'
_NODE_STYLE = "shape=ellipse"
_ACC_STYLE = 'shape=ellipse, style=filled, fillcolor="#eeeeee"'

#: seconds the ``dot`` command may take before rendering is given up
RENDER_TIMEOUT = 60


def _quote(text):
    """A DOT double-quoted string for ``text``."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape_text(t):
    """``(3, 4)`` for a tensor of shape [3, 4]; ``()`` for a 0-d tensor."""
    try:
        return str(tuple(int(s) for s in t.shape))
    except Exception:  # not a tensor after all: still draw something
        return "?"


def _node_name(node):
    try:
        return str(node.name())
    except Exception:
        return type(node).__name__


def _n_outputs(node):
    n = getattr(node, "_n_outputs", 1)
    return n if isinstance(n, int) else 1


def to_dot(tensor):
    """The DOT text of the autograd graph that ends in ``tensor`` (see the module docstring)."""
    ids = {}          # id(node or tensor) -> DOT id
    keep = []         # keeps every visited object alive, so no id() is reused during the walk
    decls = []        # node declaration lines
    edges = []        # edge lines

    def declare(obj, label, style):
        key = id(obj)
        if key in ids:
            return ids[key], False
        ids[key] = f"n{len(ids)}"
        keep.append(obj)
        decls.append(f"    {ids[key]} [label={_quote(label)}, {style}];")
        return ids[key], True

    root_id, _ = declare(tensor, _shape_text(tensor), _ROOT_STYLE)
    root_fn = getattr(tensor, "grad_fn", None)
    queue = deque()
    if root_fn is not None:
        fn_id, _ = declare(root_fn, _node_name(root_fn), _NODE_STYLE)
        edges.append(_edge(root_id, fn_id, getattr(tensor, "_output_nr", 0), _n_outputs(root_fn)))
        queue.append(root_fn)

    while queue:  # breadth first, so the numbering follows the graph from the root down
        node = queue.popleft()
        node_id = ids[id(node)]
        if isinstance(node, AccumulateGrad):  # the leaf tensor it adds gradients into
            leaf = node.variable
            leaf_id, _ = declare(leaf, _shape_text(leaf), _LEAF_STYLE)
            edges.append(f"    {node_id} -> {leaf_id};")
        for nxt, nr in getattr(node, "next_functions", ()) or ():
            if nxt is None:  # an input that needs no gradient: backward sends nothing there
                continue
            style = _ACC_STYLE if isinstance(nxt, AccumulateGrad) else _NODE_STYLE
            nxt_id, new = declare(nxt, _node_name(nxt), style)
            edges.append(_edge(node_id, nxt_id, nr, _n_outputs(nxt)))
            if new:
                queue.append(nxt)

    lines = [
        "digraph autograd {",
        '    graph [rankdir=TB, label="autograd graph (edges: direction of backward())", labelloc=t, fontname="Helvetica"];',
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    return "\n".join(lines + decls + edges + ["}"]) + "\n"


def _edge(src, dst, output_nr, n_outputs):
    """An edge line; into a node with several outputs it is labelled with the output it feeds."""
    if n_outputs > 1:
        return f"    {src} -> {dst} [label={_quote(f'output {output_nr}')}];"
    return f"    {src} -> {dst};"


def draw_graph(tensor, path=None, format="svg"):
    """Return the autograd graph of ``tensor`` as Graphviz DOT text; optionally save and render it.

    With ``path``, the DOT text is written to ``path``; then, if Graphviz's ``dot`` program is on
    the PATH, it is rendered to ``path + "." + format`` (e.g. ``graph.dot.svg``). Without ``dot``,
    or if rendering fails or times out, only the ``.dot`` file is written and a ``UserWarning``
    says so: rendering never raises. (Paste the DOT text into any Graphviz viewer to see it.)
    """
    dot_text = to_dot(tensor)
    if path is None:
        return dot_text
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dot_text)
    fmt = str(format).lower()
    if not re.fullmatch(r"[a-z0-9_:]+", fmt):
        warnings.warn(f"draw_graph: unknown format {format!r}; wrote only {path}", stacklevel=2)
        return dot_text
    exe = shutil.which("dot")
    if exe is None:
        warnings.warn(f"draw_graph: Graphviz 'dot' is not installed, so only the DOT file {path} was "
                      f"written (install Graphviz to get {path}.{fmt})", stacklevel=2)
        return dot_text
    out = f"{path}.{fmt}"
    try:
        proc = subprocess.run([exe, f"-T{fmt}", path, "-o", out], capture_output=True, text=True,
                              timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired:
        warnings.warn(f"draw_graph: 'dot' took more than {RENDER_TIMEOUT}s; wrote only {path}", stacklevel=2)
    except OSError as e:
        warnings.warn(f"draw_graph: could not run 'dot' ({e}); wrote only {path}", stacklevel=2)
    else:
        if proc.returncode != 0:
            msg = (proc.stderr or "").strip()
            warnings.warn(f"draw_graph: 'dot' failed (exit {proc.returncode}: {msg}); wrote only {path}",
                          stacklevel=2)
    return dot_text
