"""``Adagrad``: each coordinate's step shrinks with the sum of its squared gradients so far.

For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...`` (PyTorch's update)::

    g = g + weight_decay * p                     (if weight_decay != 0)
    clr = lr / (1 + (t - 1) * lr_decay)
    sum = sum + g * g                            (starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(sum) + eps)
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_non_negative, fused_ok, fused_step


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                self._state_for(p, group)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = C.tensor(0.0, device="cpu")  # on the host, as in PyTorch: reading it never waits
            state["sum"] = C.full_like(p, group["initial_accumulator_value"])
        return state

    @_use_grad
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group)
                state["step"] += 1
                step = state["step"].item()
                if fused_ok(group, p, p.grad, state["sum"]):  # one kernel (OpenCL) / one NumPy pass (CPU)
                    clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
                    fused_step("adagrad", [p, p.grad, state["sum"]], [clr, group["eps"], group["weight_decay"]],
                               [group["maximize"]])
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
                state["sum"].addcmul_(grad, grad, value=1)
                std = state["sum"].sqrt().add_(group["eps"])
                p.addcdiv_(grad, std, value=-clr)
        return loss
