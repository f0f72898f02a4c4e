"""``Optimizer``: the base class of every optimizer (``SGD``, ``Adam``, ...).

An optimizer holds ``param_groups`` (a list of dicts: the tensors to update plus their
hyperparameters, e.g. ``{"params": [w, b], "lr": 0.1, "momentum": 0.9}``) and ``state`` (a dict from
each parameter to what the algorithm remembers about it, e.g. Adam's running averages).  A subclass
only writes ``step()``: read ``p.grad`` for each parameter and update ``p`` in place under ``no_grad``
(``_params_with_grad(group)`` does the common part: maximize, lazy state, step count, weight decay).

``state_dict()`` uses PyTorch's format: parameters are replaced by integer ids (their position across
all groups) so the dict can be saved and loaded into a new optimizer over new parameter tensors.
"""
import functools
import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

from .. import creation as C
from .. import profiler as _profiler
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class _RequiredParameter:
    """A default that says "no default": with ``defaults={"lr": required}`` every group must give an lr."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    """``torch.typename``: ``torch.FloatTensor`` for tensors, ``module.Class`` for anything else."""
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__module__ + "." + type(obj).__qualname__


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a ``"params"`` key.
        defaults: hyperparameter values for groups that do not set them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- parameter groups ----------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with ``"params"``); missing hyperparameters come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if existing & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- the training-loop calls -----------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set each ``p.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient (subclasses implement the rule)."""
        raise NotImplementedError

    def _params_with_grad(self, group):
        """Yield ``(p, grad, state)`` for each parameter of ``group`` that has a gradient, the shared start of
        a ``step()``: ``grad`` is ``-p.grad`` with ``maximize``; on the first step ``state`` gets a ``"step"``
        counter plus what ``self._init_state(p, grad, group)`` returns; ``state["step"]`` is then counted up;
        with ``weight_decay`` the L2 penalty is added (``grad + weight_decay * p``), or, with
        ``decoupled_weight_decay``, ``p`` itself shrinks (``p * (1 - lr * weight_decay)``)."""
        wd = group.get("weight_decay", 0)
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad if not group["maximize"] else -p.grad
            state = self.state[p]
            if len(state) == 0:
                state["step"] = C.tensor(0.0)
                state.update(self._init_state(p, grad, group))
            state["step"] += 1
            if wd != 0:
                if group.get("decoupled_weight_decay"):
                    p.mul_(1 - group["lr"] * wd)
                else:
                    grad = grad.add(p, alpha=wd)
            yield p, grad, state

    def _init_state(self, p, grad, group):
        """The per-parameter state ``_params_with_grad`` creates on the first step (besides ``"step"``)."""
        return {}

    def _eval_closure(self, closure):
        """Run ``closure`` (re-computes the loss and calls backward) with grad recording on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # -- saving and loading ----------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {id: {...}}, "param_groups": [{..., "params": [ids]}]}``; ids number the parameters."""
        mapping, start = {}, 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Restore state and hyperparameters saved by ``state_dict()`` (groups must have the same sizes)."""
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = _cast(id_map[k], v)
            else:
                state[k] = v
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
        self.__setstate__({"state": state, "param_groups": saved_groups})


def _cast(param, value, key=None):
    """Move loaded state to the parameter's device (and float dtype); ``step`` counters stay as saved."""
    if isinstance(value, Tensor):
        if key == "step":
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)
    if isinstance(value, dict):
        return {k: _cast(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


def _use_grad(step):
    """Decorator for ``step``: updates run under ``no_grad`` (they are not part of any graph)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if _profiler._ACTIVE is not None:  # one row per optimizer step in pygrad.profiler's table
            with no_grad(), _profiler.record_function(f"Optimizer.step#{type(self).__name__}.step"):
                return step(self, *args, **kwargs)
        with no_grad():
            return step(self, *args, **kwargs)

    return wrapper


def check_non_negative(**hparams):
    """Raise PyTorch's ValueError for a negative hyper-parameter (e.g. "Invalid learning rate: -1")."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for name, value in hparams.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {labels.get(name, name + ' value')}: {value}")


def check_betas(betas):
    """Raise PyTorch's ValueError for a beta outside [0, 1) (e.g. "Invalid beta parameter at index 1: 1.0")."""
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def fused_ok(group, p, *tensors):
    """Whether ``p``'s update can run as one fused pass (``backend.optim_step``): float tensors of one dtype
    and device, contiguous from their storage's start.  ``foreach=False`` or ``differentiable=True`` keeps
    the step-by-step tensor code (the reference the fused kernels are tested against)."""
    if group.get("foreach") is False or group.get("differentiable"):
        return False
    if not p.dtype.is_floating_point:
        return False
    for t in (p,) + tensors:
        if t is None:
            continue
        if t.dtype is not p.dtype or t.device != p.device or t._offset != 0 or not t.is_contiguous() \
                or t._shape != p._shape:
            return False
    return True


def fused_step(kind, tensors, floats, flags):
    """Run one fused update and note the in-place change of each tensor it wrote (version counters)."""
    from ..ops.dispatch import backend_of

    backend_of(tensors[0]).optim_step(kind, tensors, floats, flags)
    for k, t in enumerate(tensors):
        if t is not None and k != 1:  # the gradient is only read
            t._storage.version += 1
