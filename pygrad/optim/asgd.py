"""``ASGD``: SGD with decaying step size that also keeps a running average ``ax`` of the iterates.

Per parameter at step t (PyTorch's update; eta and mu are float32 0-d tensors, as in PyTorch)::

    g = g + weight_decay * p
    p = p * (1 - lambd * eta) - eta * g
    ax = ax + mu * (p - ax)            (ax = p while mu == 1)
    eta = lr / (1 + lambd * lr * t) ** alpha;   mu = 1 / max(1, t - t0)
"""
from .. import creation as C
from .. import dtypes as D
from .optimizer import Optimizer, _use_grad, check_non_negative


class ASGD(Optimizer):
    """Averaged SGD (``torch.optim.ASGD``)."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_non_negative(lr=lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, p, grad, group):
        return dict(eta=C.tensor(float(group["lr"]), dtype=D.float32), mu=C.ones((), dtype=D.float32),
                    ax=C.zeros_like(p))

    @_use_grad
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
            for p, grad, state in self._params_with_grad(group):
                step = state["step"].item()
                eta = state["eta"].item()
                p.mul_(1 - lambd * eta)
                p.add_(grad, alpha=-eta)
                mu = state["mu"].item()
                if mu != 1:
                    state["ax"].add_(p.sub(state["ax"]).mul_(mu))
                else:
                    state["ax"].copy_(p)
                state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
                state["mu"].fill_(1 / max(1, step - t0))
        return loss
