"""``RMSprop``: divide each gradient by a running root-mean-square of recent gradients.

For each parameter ``p`` with gradient ``g`` (PyTorch's update)::

    g = g + weight_decay * p                      (if weight_decay != 0)
    v = alpha * v + (1 - alpha) * g * g           (``square_avg``)
    avg = sqrt(v) + eps,  or, centered:  avg = sqrt(v - mean_g**2) + eps  with mean_g a running mean of g
    buf = momentum * buf + g / avg;  p = p - lr * buf      (momentum > 0)
    p = p - lr * g / avg                                    (otherwise)
"""
from .. import creation as C
from .optimizer import Optimizer, _use_grad, check_non_negative, fused_ok, fused_step


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = C.tensor(0.0, device="cpu")  # on the host, as in PyTorch: reading it never waits
            state["square_avg"] = C.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = C.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = C.zeros_like(p)
        return state

    @_use_grad
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group)
                state["step"] += 1
                bufs = [state["square_avg"], state.get("momentum_buffer"), state.get("grad_avg")]
                if fused_ok(group, p, p.grad, *bufs):  # one kernel (OpenCL) / one NumPy pass (CPU)
                    fused_step("rmsprop", [p, p.grad] + bufs,
                               [lr, alpha, eps, group["weight_decay"], group["momentum"]],
                               [group["centered"], group["maximize"]])
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg.lerp_(grad, 1 - alpha)
                    avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
                else:
                    avg = square_avg.sqrt()
                avg = avg.add_(eps)
                if group["momentum"] > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).addcdiv_(grad, avg)
                    p.add_(buf, alpha=-lr)
                else:
                    p.addcdiv_(grad, avg, value=-lr)
        return loss
