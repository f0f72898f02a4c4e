"""``gradcheck``: compare autograd's Jacobian with central finite differences (use float64 inputs).

The numerical Jacobian perturbs one input element at a time, ``(f(x + eps) - f(x - eps)) / 2eps``,
so it costs two function evaluations per input element: use small tensors.  The analytical one runs
backward once per output element with a one-hot output gradient.
"""
import numpy as np

from . import api
from .grad_mode import enable_grad, no_grad


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def _flat_outputs(fn, inputs):
    with no_grad():
        outs = _outputs(fn, inputs)
    return np.concatenate([np.asarray(o.detach()._host(), dtype=np.float64).reshape(-1)
                           for o in outs if o.dtype.is_floating_point]) if outs else np.zeros(0)


def numerical_jacobian(fn, inputs, eps=1e-6):
    """One (n_outputs x n_in) matrix per differentiable input, by central differences."""
    jacobians = []
    for t in inputs:
        if not (hasattr(t, "_storage") and t.requires_grad):
            continue
        data = t.detach()
        cols = []
        flat = data.reshape(-1) if data.is_contiguous() else None
        if flat is None:
            raise ValueError("gradcheck needs contiguous inputs (perturbation writes through a flat view)")
        for k in range(t.numel()):  # one perturbation per element: finite differences are inherently serial
            orig = flat[k].item()
            flat[k] = orig + eps
            plus = _flat_outputs(fn, inputs)
            flat[k] = orig - eps
            minus = _flat_outputs(fn, inputs)
            flat[k] = orig
            cols.append((plus - minus) / (2 * eps))
        jacobians.append(np.stack(cols, axis=1) if cols else np.zeros((0, 0)))
    return jacobians


def analytical_jacobian(fn, inputs, create_graph=False):
    """One (n_outputs x n_in) matrix per differentiable input, one backward per output element."""
    from ..creation import zeros_like

    diff_inputs = [t for t in inputs if hasattr(t, "_storage") and t.requires_grad]
    outs = [o for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
    rows = []
    for o in outs:
        for k in range(o.numel()):
            g = zeros_like(o)
            g.view(-1)[k] = 1
            if not o.requires_grad:
                grads = [None] * len(diff_inputs)
            else:
                grads = api.grad([o], diff_inputs, [g], retain_graph=True, allow_unused=True)
            rows.append([np.zeros(t.numel()) if gi is None else np.asarray(gi.detach()._host(), dtype=np.float64)
                         .reshape(-1) for gi, t in zip(grads, diff_inputs)])
    return [np.array([r[i] for r in rows]).reshape(len(rows), t.numel()) for i, t in enumerate(diff_inputs)]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """True when autograd's gradients of ``func`` at ``inputs`` match finite differences."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for t in inputs:
        if hasattr(t, "_storage") and t.requires_grad and t.dtype.name != "float64":
            import warnings

            warnings.warn("gradcheck: input is not float64; finite differences will be inaccurate", stacklevel=2)
    num = numerical_jacobian(func, inputs, eps)
    ana = analytical_jacobian(func, inputs)
    for i, (n, a) in enumerate(zip(num, ana)):
        if n.shape != a.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
            if raise_exception:
                raise RuntimeError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                   f"numerical:{n}\nanalytical:{a}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  **kwargs):
    """gradcheck of the first derivative: checks that backward itself is differentiated correctly."""
    from ..creation import zeros_like
    from ..random import randn

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outs = [o for o in _outputs(func, inputs) if o.dtype.is_floating_point]
    if grad_outputs is None:
        grad_outputs = [randn(o._shape, dtype=o.dtype, device=o.device).requires_grad_() for o in outs]
    diff_idx = [i for i, t in enumerate(inputs) if hasattr(t, "_storage") and t.requires_grad]

    def first_grads(*args):
        ins, gos = args[:len(inputs)], args[len(inputs):]
        with enable_grad():  # the finite differences call this under no_grad; the inner backward needs a graph
            outs = [o for o in _outputs(func, ins) if o.dtype.is_floating_point]
            gs = api.grad(outs, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else zeros_like(ins[i]) for g, i in zip(gs, diff_idx))

    return gradcheck(first_grads, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
