"""Loss functions of ``nn.functional`` with PyTorch's ``reduction`` ('mean', 'sum', 'none')."""
from .. import _core
from .. import dtypes as D
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_same_shape(input, target, name):
    if input._shape != target._shape:
        import warnings

        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size.", stacklevel=3)


class MseLoss(Function):
    """(input - target)² reduced, as one graph node (PyTorch's ``MseLossBackward0``)."""

    node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction):
        d = input - target
        ctx.reduction, ctx.shapes = reduction, (input._shape, target._shape)
        ctx.save_for_backward(input, target)
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, g):
        from .movement import sum_to_shape

        input, target = ctx.saved_tensors
        d = input - target
        scale = 2.0 / d.numel() if ctx.reduction == "mean" and d.numel() else 2.0
        gd = d * (g * scale)
        gi = sum_to_shape(gd, ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        gt = sum_to_shape(-gd, ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return gi, gt, None


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_same_shape(input, target, "mse_loss")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return MseLoss.apply(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


class SmoothL1Loss(Function):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = x - t``), reduced; with ``huber`` the
    same times ``beta`` (huber_loss's delta).  PyTorch's nodes ``SmoothL1LossBackward0`` / ``HuberLossBackward0``:
    ``dx = clamp(d / beta, -1, 1)`` (``sign(d)`` for beta 0; huber: ``clamp(d, -delta, delta)``) times the output
    gradient, ``dt = -dx``."""

    @staticmethod
    def forward(ctx, x, t, reduction, beta, huber):
        ctx.reduction, ctx.beta, ctx.huber = reduction, beta, huber
        ctx.save_for_backward(x, t)
        d = (x - t).abs()
        loss = d.where(d >= beta, d * d * (0.5 / beta)) - (d >= beta) * (0.5 * beta)
        ctx.shape = loss._shape
        return _reduce(loss * beta if huber else loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        d = x - t
        slope = (d / ctx.beta).clamp(-1.0, 1.0)
        dx = _scale_back(g, d._shape, ctx.reduction) * (slope * ctx.beta if ctx.huber else slope)
        return (dx if ctx.needs_input_grad[0] else None, -dx if ctx.needs_input_grad[1] else None, None, None,
                None)


class HuberLoss(SmoothL1Loss):
    node_name = "HuberLossBackward0"


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic below ``beta``, linear above: 0.5 d²/β if |d| < β else |d| - 0.5β."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:  # PyTorch takes l1_loss then
        return l1_loss(input, target, reduction=reduction)
    return SmoothL1Loss.apply(input, target, reduction, beta, False)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d² if |d| < δ else δ (|d| - 0.5 δ): smooth_l1 with beta = δ, times δ."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return HuberLoss.apply(input, target, reduction, delta, True)


def _class_dim_first(input, target):
    """Bring (N, C, d1, ...) / (C,) inputs to (M, C) rows and targets to (M,) or (M, C)."""
    if input.dim() == 1:
        return input.unsqueeze(0), target.unsqueeze(0)
    if input.dim() > 2:
        c = input._shape[1]
        x = input.movedim(1, -1).reshape(-1, c)
        t = target.movedim(1, -1).reshape(-1, c) if target.dtype.is_floating_point else target.reshape(-1)
        return x, t
    return input, target


class NllLoss(Function):
    """nll_loss of (M, C) log-probabilities and (M,) class targets: one kernel forward, one backward.

    The target range is checked inside the kernel; on a device a bad target is raised at the next sync
    (``runtime.DeviceErrors``), on the CPU at once, both as PyTorch's ``IndexError: Target 5 is out of bounds.``
    """

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        check_same_device(x, target)
        if weight is not None:
            check_same_device(x, weight)
            weight = weight.detach().to(x.dtype).contiguous()
        loss, wsum = backend_of(x).nll_forward(x, target, weight, ignore_index, reduction)
        ctx.args = (weight, wsum, ignore_index, reduction, x._shape[1])
        ctx.save_for_backward(target)
        return loss

    @staticmethod
    def backward(ctx, g):
        (target,) = ctx.saved_tensors
        return NllLossGrad.apply(g, target, *ctx.args), None, None, None, None


class NllLossGrad(Function):
    """NllLoss's backward as a Function, so a second derivative exists: nll_loss is linear in x."""

    node_name = "NllLossBackwardBackward0"

    @staticmethod
    def forward(ctx, g, target, weight, wsum, ignore_index, reduction, C):
        ctx.args = (target, weight, ignore_index, reduction)
        return backend_of(g).nll_backward(g, target, weight, wsum, ignore_index, reduction, C)

    @staticmethod
    def backward(ctx, gg):
        target, weight, ignore_index, reduction = ctx.args
        return (NllLoss.apply(gg, target, weight, ignore_index, reduction),) + (None,) * 6


def _check_nll_target(target):
    if target.dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_TYPE_NAMES.get(target.dtype.name, target.dtype.name)}")


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int32": "Int",
               "int16": "Short", "int8": "Char", "bool": "Bool"}


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-logp[target] per sample (weighted); 'mean' divides by the total weight of non-ignored samples."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if input.dim() >= 2 and target.dim() >= 1 and target._shape[0] != input._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target batch_size "
                         f"({target._shape[0]}).")
    if input.dim() == 2 and target.dim() != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    _check_nll_target(target)
    out_shape = target._shape
    x, t = _class_dim_first(input, target)
    loss = NllLoss.apply(x, t, weight, int(ignore_index), reduction)
    if reduction == "none" and input.dim() != 2:
        return loss.reshape(out_shape) if input.dim() != 1 else loss.reshape(())
    return loss


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax + nll_loss for class-index targets; -Σ p·logq for probability targets."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    c = input._shape[class_dim]
    if target._shape != input._shape or not target.dtype.is_floating_point:
        _check_nll_target(target)  # class-index targets: checked before any kernel runs
    logp = input.log_softmax(class_dim)
    if target._shape == input._shape and target.dtype.is_floating_point:
        tgt = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
        wshape = (c,) + (1,) * (input.dim() - class_dim - 1)
        per = logp * tgt if weight is None else logp * tgt * weight.reshape(wshape)
        loss = -per.sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (loss.numel() if loss.numel() else 1)
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return nll
    x, t = _class_dim_first(logp, target)
    valid = t != ignore_index
    smooth = -(x if weight is None else x * weight).sum(1) * valid
    if reduction == "none":
        smooth = smooth.reshape(target._shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        if weight is None:
            smooth = smooth.sum() / valid.sum()
        else:
            smooth = smooth.sum() / (weight[t.where(valid, t.new_zeros(()))] * valid).sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def _scale_back(g, loss_shape, reduction):
    """The output gradient as a per-element factor: broadcast back over the loss's elements ('mean': / their
    number)."""
    if reduction == "none":
        return g
    return (g / _core.numel(tuple(loss_shape)) if reduction == "mean" else g).expand(loss_shape)


class BinaryCrossEntropy(Function):
    """``-w (t log x + (1 - t) log(1 - x))``, each log clamped at -100 (as PyTorch), then reduced; one node,
    PyTorch's ``BinaryCrossEntropyBackward0``: ``dx = w (x - t) / max(x (1 - x), 1e-12)``,
    ``dt = w (log(1 - x) - log x)`` (clamped logs), times the output gradient."""

    @staticmethod
    def forward(ctx, x, t, w, reduction):
        ctx.reduction = reduction
        ctx.save_for_backward(x, t, w)
        loss = -(t * x.log().clamp(min=-100) + (1 - t) * (1 - x).log().clamp(min=-100))
        loss = loss if w is None else loss * w
        ctx.shape = loss._shape  # (a weight may broadcast it past x's shape)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, w = ctx.saved_tensors
        gs = _scale_back(g, ctx.shape, ctx.reduction)
        if w is not None:
            gs = gs * w
        dx = dt = None
        if ctx.needs_input_grad[0]:
            dx = gs * (x - t) / ((1 - x) * x).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            dt = gs * ((1 - x).log().clamp(min=-100) - x.log().clamp(min=-100))
        return dx, dt, None, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), with each log clamped at -100 as PyTorch does."""
    if input._shape != target._shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """Sigmoid + BCE in one numerically stable formula, ``w ((1 - t) x + c L)`` with ``L = log(1 + e^-|x|) +
    max(-x, 0)`` (= -log sigmoid(x)) and ``c = 1 + (pos_weight - 1) t``, then reduced; one node, PyTorch's
    ``BinaryCrossEntropyWithLogitsBackward0``: ``dx = w ((1 - t) + c (sigmoid(x) - 1))`` (``sigmoid(x) - t``
    without pos_weight), ``dt = w ((pos_weight - 1) L - x)``, times the output gradient."""

    @staticmethod
    def forward(ctx, x, t, w, pos_weight, reduction):
        ctx.reduction = reduction
        ctx.save_for_backward(x, t, w, pos_weight)
        log_term = (-x.abs()).exp().log1p() + (-x).clamp(min=0)
        loss = (1 - t) * x + (log_term if pos_weight is None else ((pos_weight - 1) * t + 1) * log_term)
        loss = loss if w is None else loss * w
        ctx.shape = loss._shape
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, w, pw = ctx.saved_tensors
        gs = _scale_back(g, ctx.shape, ctx.reduction)
        if w is not None:
            gs = gs * w
        dx = dt = None
        if ctx.needs_input_grad[0]:
            s = x.sigmoid()
            dx = gs * (s - t if pw is None else (1 - t) + ((pw - 1) * t + 1) * (s - 1))
        if ctx.needs_input_grad[1]:
            if pw is None:
                dt = gs * -x
            else:
                dt = gs * ((pw - 1) * ((-x.abs()).exp().log1p() + (-x).clamp(min=0)) - x)
        return dx, dt, None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + BCE in one numerically stable formula: (1-t)x + (1+(pw-1)t)(log(1+e^-|x|) + max(-x, 0))."""
    if input._shape != target._shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Σ target·(log target − input), with ``input`` given as log-probabilities."""
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = (target * (target.where(target > 0, target.new_ones(())).log() - input)).where(
            target > 0, target * 0)
    if reduction == "batchmean":
        return loss.sum() / (input._shape[0] if input.dim() else 1)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, reduction="mean"):
    return _reduce((-target * input).exp().log1p(), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    from .activation import cosine_similarity

    cos = cosine_similarity(input1, input2)
    loss = (1 - cos).where(target == 1, (cos - margin).clamp(min=0))
    return _reduce(loss, reduction)

