"""``NAdam``: Adam with Nesterov momentum (Dozat 2016), PyTorch's momentum-decay schedule.

Per parameter at step t::

    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay));   prod_t = mu_1 * ... * mu_t  (``mu_product``)
    m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v / (1 - beta2**t)) + eps
    p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

``mu_product`` is kept as a float32 0-d tensor, as PyTorch keeps it (its rounding shows in the results).
"""
from .. import creation as C
from .. import dtypes as D
from .optimizer import Optimizer, _use_grad, check_betas, check_non_negative


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``); ``decoupled_weight_decay=True`` decays ``p`` directly (NAdamW)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(betas)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _init_state(self, p, grad, group):
        return dict(mu_product=C.ones((), dtype=D.float32), exp_avg=C.zeros_like(p), exp_avg_sq=C.zeros_like(p))

    @_use_grad
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, md = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
            for p, grad, state in self._params_with_grad(group):
                exp_avg, exp_avg_sq, mu_product = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
                step = state["step"].item()
                bias_correction2 = 1 - beta2 ** step
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
                mu_product.mul_(mu)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
                prod = mu_product.item()
                p.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - prod))
                p.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1.0 - prod * mu_next))
        return loss
