"""``Rprop``: resilient backpropagation: only the sign of the gradient is used, each weight has its own step.

Per parameter (PyTorch's update)::

    s = sign(g * g_prev)
    step_size *= etaplus where s > 0, etaminus where s < 0 (then clamped to step_sizes)
    g = 0 where s < 0 (no move after a sign change, and no sign comparison next time)
    p = p - sign(g) * step_size;   g_prev = g
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_non_negative


class Rprop(Optimizer):
    """Rprop (``torch.optim.Rprop``)."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        check_non_negative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _init_state(self, p, grad, group):
        return dict(prev=C.zeros_like(p), step_size=C.full_like(grad, group["lr"]))

    @_use_grad
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            (etaminus, etaplus), (step_min, step_max) = group["etas"], group["step_sizes"]
            for p, grad, state in self._params_with_grad(group):
                prev, step_size = state["prev"], state["step_size"]
                sign = grad.mul(prev).sign()
                factor = C.ones_like(sign).masked_fill_(sign > 0, etaplus).masked_fill_(sign < 0, etaminus)
                step_size.mul_(factor).clamp_(step_min, step_max)
                grad = grad.masked_fill(sign < 0, 0)
                p.addcmul_(grad.sign(), step_size, value=-1)
                prev.copy_(grad)
        return loss
