"""``Adadelta``: step sizes from running averages of squared gradients and squared updates (no base lr).

Per parameter (PyTorch's update)::

    g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g                        (``square_avg``)
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta * delta                (``acc_delta``)
    p = p - lr * delta
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_non_negative


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _init_state(self, p, grad, group):
        return dict(square_avg=C.zeros_like(p), acc_delta=C.zeros_like(p))

    @_use_grad
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p, grad, state in self._params_with_grad(group):
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
                std = square_avg.add(eps).sqrt_()
                delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
                acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                p.add_(delta, alpha=-lr)
        return loss
