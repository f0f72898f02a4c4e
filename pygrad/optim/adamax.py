"""``Adamax``: Adam with the infinity norm: the scale is a running max of |g| instead of an average of g².

Per parameter at step t (PyTorch's update)::

    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g                 (``exp_avg``)
    u = max(beta2 * u, |g| + eps)                   (``exp_inf``)
    p = p - lr / (1 - beta1**t) * m / u
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_betas, check_non_negative


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, p, grad, group):
        return dict(exp_avg=C.zeros_like(p), exp_inf=C.zeros_like(p))

    @_use_grad
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for p, grad, state in self._params_with_grad(group):
                exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_inf.copy_(exp_inf.mul_(beta2).maximum(grad.abs().add_(eps)))
                clr = lr / (1 - beta1 ** state["step"].item())
                p.addcdiv_(exp_avg, exp_inf, value=-clr)
        return loss
