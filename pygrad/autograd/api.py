"""The user-facing entry points of autograd: ``backward``, ``grad``, hooks and ``detect_anomaly``."""
import weakref

from . import engine
from .function import _RemovableHandle
from ..runtime import cpu as _cpu


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


_ones_like = None  # creation.ones_like, bound on first use (an import statement costs ~1 us per call)


def _root_grads(tensors, grad_tensors):
    """Gradients to start from: ones for scalars, the given ones otherwise (shapes checked)."""
    global _ones_like
    if _ones_like is None:
        from ..creation import ones_like as _ones_like
    ones_like = _ones_like
    grads = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if t._storage.device.type == "cpu":  # (the usual loss.backward(): a one-element CPU array of 1)
                g = _cpu.empty(t._shape, t.dtype)
                g._storage.data[0] = 1
            else:
                g = ones_like(t)
        elif not hasattr(g, "_storage"):
            from ..creation import full_like

            g = full_like(t, g)
        elif g._shape != t._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(g._shape)} and output[0] "
                               f"has a shape of {list(t._shape)}.")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    engine.run_backward(tensors, _root_grads(tensors, grad_tensors), retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    result = engine.run_backward(outputs, _root_grads(outputs, grad_outputs), retain_graph, create_graph,
                                 inputs, capture=True)
    for i, g in enumerate(result):
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like

                result[i] = zeros_like(inputs[i])
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
    return tuple(result)


def register_hook(t, hook):
    """Call ``hook(grad)`` when the gradient of ``t`` is computed; a non-None return replaces it."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        return t.grad_fn.register_prehook(t._output_nr, hook)
    if t._hooks is None:
        t._hooks = []
    t._hooks.append(hook)
    return _RemovableHandle(t._hooks, hook)


def register_post_accumulate_grad_hook(t, hook):
    """Call ``hook(t)`` after a gradient has been accumulated into the leaf ``t``'s ``.grad``."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    hooks = t.__dict__.setdefault("_post_accumulate_grad_hooks", [])
    hooks.append(hook)
    return _RemovableHandle(hooks, hook)


def retain_grad(t):
    """Keep ``.grad`` for a non-leaf tensor too (leaves always keep theirs)."""
    if not t.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t.grad_fn is None or t._retains_grad:
        return
    ref = weakref.ref(t)  # a weak reference: the hook must not keep the tensor alive

    def store(g):
        owner = ref()
        if owner is not None:
            owner._grad = g.detach() if owner._grad is None else owner._grad + g.detach()

    t.grad_fn.register_prehook(t._output_nr, store)
    t._retains_grad = True


class detect_anomaly:
    """Inside this block, backward raises as soon as an op's backward produces NaN, naming the op."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = engine._anomaly["enabled"]
        engine._anomaly["enabled"] = self.check_nan

    def __exit__(self, *exc):
        engine._anomaly["enabled"] = self.prev
        return False


def set_detect_anomaly(mode):
    engine._anomaly["enabled"] = bool(mode)


def is_anomaly_enabled():
    return engine._anomaly["enabled"]
