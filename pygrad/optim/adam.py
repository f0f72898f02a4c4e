"""``Adam`` and ``AdamW``: per-parameter step sizes from running averages of the gradient and its square.

For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...`` (PyTorch's update)::

    g = g + weight_decay * p              (Adam: L2 penalty)   or   p = p * (1 - lr * weight_decay)  (AdamW)
    m = beta1 * m + (1 - beta1) * g       (``exp_avg``: momentum)
    v = beta2 * v + (1 - beta2) * g * g   (``exp_avg_sq``: scale of the gradient)
    v_max = max(v_max, v)                 (amsgrad only; then v_max replaces v below)
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

The ``1 - beta**t`` terms undo the bias of averages that start at zero.
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_betas, check_non_negative, fused_ok, fused_step


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``); ``decoupled_weight_decay=True`` makes it AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        """This parameter's state, created on its first step (a step counter and zero averages)."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = C.tensor(0.0, device="cpu")  # on the host, as in PyTorch: reading it never waits
            state["exp_avg"] = C.zeros_like(p)
            state["exp_avg_sq"] = C.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = C.zeros_like(p)
        return state

    @_use_grad
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                max_sq = state["max_exp_avg_sq"] if group["amsgrad"] else None
                if fused_ok(group, p, p.grad, exp_avg, exp_avg_sq, max_sq):  # one kernel / one NumPy pass
                    step = state["step"].item()  # a CPU tensor: no device wait
                    fused_step("adam", [p, p.grad, exp_avg, exp_avg_sq, max_sq],
                               [lr, beta1, beta2, eps, wd, 1 - beta1 ** step, (1 - beta2 ** step) ** 0.5],
                               [group["decoupled_weight_decay"], group["amsgrad"], group["maximize"]])
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        p.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(p, alpha=wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

                step = state["step"].item()
                bias_correction1 = 1 - beta1 ** step
                bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
                if group["amsgrad"]:
                    max_sq = state["max_exp_avg_sq"]
                    max_sq.copy_(max_sq.maximum(exp_avg_sq))
                    denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                else:
                    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): decay shrinks ``p`` directly, not ``g``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
