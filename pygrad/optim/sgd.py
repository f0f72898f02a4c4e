"""``SGD``: stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

For each parameter ``p`` with gradient ``g`` (PyTorch's update, step by step)::

    g = g + weight_decay * p                       (L2 penalty, if weight_decay != 0)
    buf = g  (first step)  or  buf = momentum * buf + (1 - dampening) * g
    g = g + momentum * buf  (nesterov)  or  g = buf
    p = p - lr * g
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_non_negative, fused_ok, fused_step


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``); ``maximize=True`` climbs the objective."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    @_use_grad
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].get("momentum_buffer") if momentum != 0 else None
                if fused_ok(group, p, p.grad, buf):  # one kernel (OpenCL) / one NumPy pass (CPU)
                    first = momentum != 0 and buf is None
                    if first:
                        buf = self.state[p]["momentum_buffer"] = C.zeros_like(p)
                    fused_step("sgd", [p, p.grad, buf], [lr, momentum, dampening, group["weight_decay"]],
                               [group["nesterov"], group["maximize"], first])
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.detach().clone()
                    else:
                        buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                    grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
                p.add_(grad, alpha=-lr)
        return loss
