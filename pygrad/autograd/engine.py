"""The backward engine: from a result back to the leaves, one node at a time, in topological order.

The graph is made of ``Node`` objects (each ``tensor.grad_fn``).  An edge ``(node, nr)`` in
``next_functions`` says "the input came from output ``nr`` of ``node``".  A leaf that requires grad
is reached through an ``AccumulateGrad`` node, which adds what arrives into ``leaf.grad``.

``run_backward`` does three passes, all iterative (no recursion, so deep graphs are fine):

1. *count*: walk the graph from the roots and count, for every node, how many edges point at it;
2. *run*: start with the roots; a node runs once every edge into it has delivered its gradient
   (its count dropped to zero).  Its backward turns output gradients into input gradients, which
   are summed into the buffers of the nodes they flow to (first reduced to the input's shape:
   ``sum_to_shape`` undoes broadcasting centrally, so no op has to);
3. *release*: unless ``retain_graph``, each node drops its saved tensors right after it ran.
"""
import sys
import threading
import weakref

from . import function as _function
from . import grad_mode
from .function import Node

_anomaly = {"enabled": False}
_local = threading.local()  # .callbacks: one list per backward pass running in this thread (nested ones stack)


def _callback_stack():
    stack = getattr(_local, "callbacks", None)
    if stack is None:
        stack = _local.callbacks = []
    return stack


def queue_callback(callback):
    """Run ``callback()`` once the backward pass now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``; DDP waits for its all-reduces this way)."""
    stack = _callback_stack()
    if not stack:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    stack[-1].append(callback)


class AccumulateGrad(Node):
    """The node a leaf tensor is reached through: it adds incoming gradients into ``leaf.grad``."""

    _name = "AccumulateGrad"

    def __init__(self, variable):
        self.variable = variable


def _edge(t):
    """The graph edge for input tensor ``t`` (which requires grad)."""
    if t._base is not None and t._base.requires_grad and t.__dict__.get("_view_version") != t._storage.version:
        # a view whose storage was written in place (through the base or another view) after its history
        # was recorded: its history is now "a view of the base's current history"
        from ..ops.inplace import refresh_view

        refresh_view(t)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    ref = t.__dict__.get("_accumulator")
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t.__dict__["_accumulator"] = weakref.ref(node)
    return (node, 0)


_NO_EDGE = (None, 0)


def attach(node, args, out):
    """Link a freshly run op into the graph: its inputs' edges, and itself as its outputs' grad_fn."""
    node.next_functions = tuple([_edge(a) if need else _NO_EDGE for a, need in zip(args, node.needs_input_grad)])
    node._input_meta = tuple([(a._shape, a.dtype) if hasattr(a, "_storage") else None for a in args])
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    if not single:
        node._n_outputs = len(outs)
    node._output_meta = tuple([(o._shape, o.dtype, o._storage.device) if o is not None else None for o in outs])
    positions = {}
    for i, o in enumerate(outs):
        if o is None or not o.dtype.is_floating_point or (node._non_differentiable and id(o) in
                                                           node._non_differentiable):
            continue
        if o.grad_fn is not None or o.requires_grad:
            # forward returned an input (or a view of one) unchanged: record a fresh alias instead
            o = o.detach()
            outs = outs[:i] + (o,) + outs[i + 1:]
        o.grad_fn, o._output_nr, o.requires_grad = node, i, True
        if o._base is not None:  # a view: remember which version of the storage its history describes
            o.__dict__["_view_version"] = o._storage.version
        positions[id(o)] = i
    if node._saved:
        # A saved output would point back at this node (output -> node -> output): keep a detached
        # alias and its output number instead, so no reference cycle is left behind.
        node._saved = [(t.detach(), v, positions[id(t)]) if t is not None and id(t) in positions else (t, v, None)
                       for t, v, _ in node._saved]
    return outs[0] if single else outs


def _collect(roots):
    """Pass 1: every node reachable from the roots, with the number of edges pointing at it."""
    deps = {}
    stack = []
    for n in roots:
        if n is not None and n not in deps:
            deps[n] = 0
            stack.append(n)
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is None:
                continue
            if nxt in deps:  # (nodes hash and compare by identity)
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)
    return deps


def _call_hooks(hooks, grad):
    for hook in list(hooks):
        r = hook(grad)
        if r is not None:
            grad = r
    return grad


_sum_to_shape = None  # ops.movement.sum_to_shape, bound on first use (ops import this package)


def _check_grad(node, i, g, meta):
    """Reduce a gradient to its input's shape and dtype; complain if it cannot fit."""
    global _sum_to_shape
    if _sum_to_shape is None:
        from ..ops.movement import sum_to_shape as _sum_to_shape
    sum_to_shape = _sum_to_shape
    shape, dtype = meta
    if g._shape != shape:
        try:
            g = sum_to_shape(g, shape)
        except RuntimeError:
            g = None
        if g is None or g._shape != shape:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                               f"{list(g._shape) if g is not None else '?'} but expected shape compatible with "
                               f"{list(shape)}")
    if g.dtype is not dtype and dtype.is_floating_point:
        g = g.to(dtype)
    return g


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None, capture=False):
    """Backpropagate ``grads`` from the ``roots`` tensors.

    ``inputs``: tensors to stop at.  With ``capture`` their gradients are returned (``autograd.grad``)
    and nothing is accumulated into ``.grad``; otherwise only those leaves accumulate.
    """
    buffers = {}  # node -> [grad per output]
    root_nodes = []
    for t, g in zip(roots, grads):
        edge = _edge(t)
        root_nodes.append(edge[0])
        _add(buffers, edge[0], edge[1], g)
    deps = _collect(root_nodes)
    targets = {}
    if inputs is not None:
        for k, t in enumerate(inputs):
            targets.setdefault(_edge(t), []).append(k)
    captured = [None] * (len(inputs) if inputs is not None else 0)
    ready = [n for n in dict.fromkeys(root_nodes) if deps[n] == 0]
    prev_mode = grad_mode._state.enabled
    grad_mode._state.enabled = create_graph
    callback_stack = _callback_stack()
    callback_stack.append([])
    try:
        while ready:
            node = ready.pop()
            out_grads = buffers.pop(node, None) or [None]
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    if nr < len(out_grads) and out_grads[nr] is not None:
                        out_grads[nr] = _call_hooks(hooks, out_grads[nr])
            if targets:
                for nr, g in enumerate(out_grads):
                    for k in targets.get((node, nr), ()):
                        captured[k] = g if captured[k] is None or g is None else captured[k] + g
            if isinstance(node, AccumulateGrad):
                if not capture and out_grads[0] is not None and (inputs is None or (node, 0) in targets):
                    _accumulate(node.variable, out_grads[0], create_graph)
                continue
            in_grads = _apply(node, out_grads)
            if not retain_graph:
                node._release()
            metas = node._input_meta
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = in_grads[i]
                if g is not None:
                    shape, dtype = metas[i]
                    if g._shape != shape or (g.dtype is not dtype and dtype.is_floating_point):
                        g = _check_grad(node, i, g, metas[i])
                    buf = buffers.get(nxt)
                    if buf is None:  # the first gradient to reach nxt (the usual case): no sum
                        buf = buffers[nxt] = [None] * max(nxt._n_outputs, nr + 1)
                        buf[nr] = g
                    else:
                        buf[nr] = g if buf[nr] is None else buf[nr] + g
                n = deps[nxt] - 1
                deps[nxt] = n
                if n == 0:
                    ready.append(nxt)
        callbacks = callback_stack[-1]
        while callbacks:  # a callback may queue another one
            callbacks.pop(0)()
    finally:
        callback_stack.pop()
        grad_mode._state.enabled = prev_mode
    if inputs is not None and not capture:
        # backward(inputs=[t]) with a non-leaf t fills t.grad too (leaves got theirs from AccumulateGrad)
        for t, g in zip(inputs, captured):
            if t.grad_fn is not None and g is not None:
                _accumulate(t, g, create_graph)
    return captured


def _add(buffers, node, nr, g):
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * max(node._n_outputs, nr + 1)
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _apply(node, out_grads):
    """Run one node's backward; check and return one gradient per forward input."""
    if node._freed:
        node.saved_tensors  # raises the "backward through the graph a second time" error
    if node._materialize_grads and (len(out_grads) != len(node._output_meta) or _has_none(out_grads)):
        out_grads = [g if g is not None or meta is None else _zeros(meta)
                     for g, meta in zip(out_grads + [None] * (node._n_outputs - len(out_grads)),
                                        node._output_meta)]
    r = node._fn.backward(node, *out_grads)
    if not isinstance(r, tuple):
        r = (r,)
    n_in = len(node.next_functions)
    if len(r) > n_in and all(x is None for x in r[n_in:]):
        r = r[:n_in]
    if len(r) != n_in:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {n_in}, got {len(r)})")
    if _anomaly["enabled"]:
        for i, g in enumerate(r):
            if g is not None and bool(g.isnan().any()):
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    return r


def _has_none(grads):
    for g in grads:
        if g is None:
            return True
    return False


def _zeros(meta):
    from ..creation import zeros

    return zeros(meta[0], dtype=meta[1], device=meta[2])  # on the output's device, not the default one


# How many references the engine itself holds on a gradient when it reaches _sole_owner (its buffer list,
# loop variables, the call arguments, getrefcount's own): measured once on a known-fresh gradient, so the
# count matches this interpreter.  A tensor also referenced elsewhere (the same gradient sent to two
# leaves, a gradient the caller passed in and still holds) has more.
_own = {"refs": None, "probe": None}


def _calibrate():
    from ..creation import tensor

    _own["refs"] = 0  # during the probe: record, never steal
    with grad_mode.enable_grad():  # (called from inside a backward, where recording is off)
        x = tensor([1.0], device="cpu", requires_grad=True)
        (x * 2.0).backward(tensor([1.0], device="cpu"))  # MulBackward returns a fresh g * 2: the engine's only
    _own["refs"] = _own["probe"]


def _sole_owner(g):
    """Whether ``g`` is a dense tensor that only the engine references, over memory no other tensor uses."""
    if _own["refs"] is None:
        _calibrate()
    if _own["refs"] == 0:  # calibrating
        _own["probe"] = sys.getrefcount(g)
        return False
    if not (g.grad_fn is None and g._offset == 0 and g._storage.size == g.numel() and g.is_contiguous()
            and sys.getrefcount(g) <= _own["refs"]):
        return False
    if g._base is None:
        return sys.getrefcount(g._storage) <= 2  # only g uses the memory
    # a dense view (reshape of a fresh result): its base may be referenced by nothing but g
    return sys.getrefcount(g._base) <= 2 and sys.getrefcount(g._storage) <= 3


def _accumulate(leaf, g, create_graph):
    """``leaf.grad += g`` (after the leaf's own hooks); the first gradient is stored as a copy."""
    if leaf._hooks:
        g = _call_hooks(leaf._hooks, g)
    if leaf._grad is None:
        if create_graph:
            leaf._grad = g
        elif _sole_owner(g):
            # nobody else holds this tensor or its memory (a fresh result of a backward): keep it as the
            # gradient instead of copying it, as PyTorch does; saves a copy per parameter and step
            leaf._grad = g.detach()  # (a new tensor object over the same memory, no base, no history)
        else:
            leaf._grad = g.detach().clone()
    elif create_graph:
        leaf._grad = leaf._grad + g
    elif not (_add_into is not None and _add_into(leaf._grad, g)):  # (compiled: CPU float, same shape)
        with grad_mode.no_grad():
            leaf._grad.add_(g.detach())
    post = leaf.__dict__.get("_post_accumulate_grad_hooks")
    if post:
        for hook in list(post):
            hook(leaf)


try:  # ``leaf.grad += g`` in one compiled call for CPU float tensors (see pygrad/_hotpath.pyx)
    from .._hotpath import add_into as _add_into
except ImportError:
    _add_into = None

_function._attach = attach  # Function.apply links nodes through it (function.py cannot import this module)
