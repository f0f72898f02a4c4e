"""``Function``: an op with a forward and a backward, and the graph node it leaves behind.

Every differentiable op in pygrad is a ``Function`` subclass (see ``pygrad/ops/``), exactly the
shape PyTorch offers users for custom ops::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return <compute a * b on a's device>
        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a

``Mul.apply(a, b)`` runs ``forward``; when gradients are being recorded and an input requires grad,
the ``ctx`` object becomes the output's ``grad_fn``: a node of the graph that ``backward()`` walks.
"""
from . import grad_mode
from ..ops.dispatch import check_devices as _check_devices

_attach = None  # engine.attach, bound when engine.py (which imports this module) loads


class Node:
    """A recorded op in the autograd graph (what ``tensor.grad_fn`` shows).

    ``next_functions`` points at the nodes that produced the inputs, one ``(node, 0)`` pair per
    input (``(None, 0)`` for inputs that need no gradient), which is what ``backward()`` follows.
    """

    _name = "Node"
    # Defaults live on the class, so making a node (once per recorded op) sets nothing it does not change;
    # assigning one of these on a node gives that node its own value.  All are immutable.
    next_functions = ()
    needs_input_grad = ()
    _saved = None  # list of (tensor, version, is_output) or None when never saved
    _freed = False
    _pre_hooks = None  # {output_nr: [hook, ...]} from Tensor.register_hook on outputs
    _input_meta = ()  # (shape, dtype) of each input (None for non-tensors), to shape its gradient
    _non_differentiable = ()
    _materialize_grads = True
    _n_outputs = 1
    _output_meta = ()  # (shape, dtype, device) of each output, to make zero gradients when needed

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"

    # -- the ctx API used inside forward/backward ------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep tensors for backward; their version is noted so in-place changes are caught."""
        self._saved = [(t, None if t is None else t._storage.version, None) for t in tensors]

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the graph "
                "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                "you need to backward through the graph a second time or if you need to access saved "
                "tensors after calling backward."
            )
        if self._saved is None:
            return ()
        out = []
        for t, version, output_nr in self._saved:
            if t is not None and t._storage.version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.dtype!r} {list(t.shape)}], which is output 0 of "
                    f"{self._name}, is at version {t._storage.version}; expected version {version} "
                    "instead. Hint: the operation that produced it must see the values it saved; "
                    "use .clone() before modifying the tensor in place."
                )
            if output_nr is not None:
                t = t._alias_with_grad_fn(self, output_nr)
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tuple(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass  # pygrad's in-place ops rebase history themselves; kept for API compatibility

    def set_materialize_grads(self, value):
        self._materialize_grads = bool(value)

    def register_prehook(self, output_nr, hook):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        self._pre_hooks.setdefault(output_nr, []).append(hook)
        return _RemovableHandle(self._pre_hooks[output_nr], hook)

    def _release(self):
        """Drop saved tensors after backward (unless retain_graph): frees memory, breaks nothing.

        A node that saved nothing stays usable, so its part of the graph can be run again (as in PyTorch).
        """
        saved = self._saved
        if saved is not None:
            for t, _, _ in saved:
                if t is not None:
                    self._saved = None
                    self._freed = True
                    return


class _RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class FunctionMeta(type):
    """Gives each Function subclass its own Node subclass named like PyTorch's (``MulBackward0``)."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        if "_builtin" not in attrs and attrs.get("__module__", "").startswith("pygrad.") \
                and attrs.get("__module__") != __name__:
            cls._builtin = True  # every Function defined inside pygrad is a built-in op (device check, names)
        # pygrad's own ops (``_builtin = True``) print as PyTorch's do, e.g. <MulBackward0>.
        node_name = attrs.get("node_name") or f"{name}Backward{'0' if cls._builtin else ''}"
        cls._backward_cls = type(node_name, (Node,), {"_name": node_name, "_fn": cls})


class Function(metaclass=FunctionMeta):
    """Base class for ops with a custom backward: subclass it, define static ``forward``/``backward``."""

    _builtin = False  # pygrad's own ops set True: PyTorch node names, and the same-device check in apply

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward; record a graph node when grad mode is on and an input requires grad."""
        if cls._builtin:
            _check_devices(args)  # every built-in op passes here: one place, before any backend runs
        needs = tuple([getattr(a, "requires_grad", False) is True for a in args])
        ctx = cls._backward_cls()  # (cheap: a node's fields default to class attributes)
        ctx.needs_input_grad = needs
        state = grad_mode._state
        if not (True in needs and state.enabled):
            return cls.forward(ctx, *args, **kwargs)  # nothing is recorded: ctx is dropped afterwards
        state.enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            state.enabled = True
        return _attach(ctx, args, out)


from . import engine as _engine  # noqa: E402  (loading the engine binds _attach above)

_python_apply = Function.__dict__["apply"]  # (kept for tests: the compiled twin below must agree with it)
try:  # the compiled twins of Function.apply and engine.attach (pygrad/_hotpath.pyx), when built
    from .. import _hotpath
except ImportError:
    _hotpath = None
if _hotpath is not None:
    from ..ops.dispatch import _other_device

    _hotpath.bind_autograd(grad_mode._state, _check_devices, _other_device, _engine._edge)
    _hotpath.function_apply.__qualname__ = "Function.apply"
    Function.apply = classmethod(_hotpath.function_apply)
    _engine.attach = _hotpath.attach
