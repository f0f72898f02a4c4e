"""The tracer behind ``pygrad.onnx.export`` (see ``pygrad/onnx/__init__.py`` for the design)."""
import contextlib
import inspect
import math
import sys

import numpy as np

from ..tensor import Tensor


class UnsupportedOperatorError(RuntimeError):
    """An op met while tracing has no ONNX translation in pygrad (the message names it)."""


def _unsupported(what):
    return UnsupportedOperatorError(f"Exporting the operator '{what}' to ONNX is not supported by pygrad.onnx.export")


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("pygrad.onnx.export needs the 'onnx' package: pip install onnx "
                          "(or the extra: pip install pygrad[onnx])") from None
    return onnx, helper, numpy_helper


# -- the tracer ----------------------------------------------------------------------------------------------
class _Tracer:
    def __init__(self, opset, helper):
        self.opset, self.helper = opset, helper
        self.nodes, self.inits = [], {}
        self.names = {}  # id(tensor) -> (value name, storage version when bound)
        self.keep = []  # tensors named so far (keeps their ids unique)
        self.by_storage = {}  # id(storage) -> [tensor] traced over that storage
        self.param_names = {}
        self.counter = 0
        self.depth = 0  # > 0 inside a function translated as a whole
        self.batch = None  # the traced size of a dynamic axis (reshape targets keep that axis dynamic)

    # names
    def fresh(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def bind(self, t, name):
        self.names[id(t)] = (name, t._storage.version)
        self.keep.append(t)
        self.by_storage.setdefault(id(t._storage), []).append(t)
        return name

    def out(self, t, hint):
        return self.bind(t, self.fresh(hint))

    def const(self, value, hint="const", dtype=None):
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.inits[name] = arr
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def value(self, t):
        """The graph value of tensor ``t``: traced, an alias of a traced tensor, or a new initializer."""
        entry = self.names.get(id(t))
        if entry is not None:
            name, version = entry
            if t._storage.version != version:
                raise _unsupported("an in-place change of a traced tensor (use the out-of-place op)")
            return name
        for other in self.by_storage.get(id(t._storage), ()):
            if (other._shape, other._strides, other._offset) == (t._shape, t._strides, t._offset) and \
                    other.dtype is t.dtype:  # e.g. x.detach(): the same values
                return self.value(other)
        if id(t._storage) in self.by_storage:
            raise _unsupported("a view of a traced tensor made outside the op layer")
        name = self.param_names.get(id(t))
        if name is None or name in self.inits:
            name = self.fresh("const")
        self.inits[name] = np.array(t.detach().cpu()._host())
        return self.bind(t, name)

    def node(self, op, inputs, outputs=None, hint=None, **attrs):
        outputs = outputs or [self.fresh(hint or op.lower())]
        self.nodes.append(self.helper.make_node(op, list(inputs), list(outputs), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def emit(self, out, op, inputs, **attrs):
        """One node whose single output is the pygrad tensor ``out``."""
        return self.node(op, inputs, [self.out(out, op.lower())], **attrs)

    def operand(self, v, dtype):
        """A tensor (cast to ``dtype`` when needed) or a Python scalar as a constant of ``dtype``."""
        if isinstance(v, Tensor):
            name = self.value(v)
            return name if v.dtype is dtype else self.cast(name, dtype)
        return self.const(np.asarray(v, dtype=dtype.np), "scalar")

    def cast(self, name, dtype):
        _, helper, _ = _onnx()
        return self.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(dtype.np))

    def shape_for(self, in_shape, out_shape):
        """A Reshape target; with a dynamic axis, the dim that carries it is copied (0) or inferred (-1)."""
        target = list(out_shape)
        B = self.batch
        if B:
            same = [j for j in range(min(len(in_shape), len(out_shape))) if in_shape[j] == out_shape[j] == B]
            if same:
                for j in same:
                    target[j] = 0
            else:
                for j, s in enumerate(out_shape):
                    if s and s % B == 0:
                        target[j] = -1
                        break
        return self.ints(target)

    def reshape(self, name, in_shape, out_shape, out=None):
        target = self.shape_for(in_shape, out_shape)
        if out is not None:
            return self.emit(out, "Reshape", [name, target])
        return self.node("Reshape", [name, target])

    def reduce(self, op, name, axes, keepdims, out=None):
        as_input = self.opset >= 18 or (op == "ReduceSum" and self.opset >= 13)
        inputs = [name] + ([self.ints(axes, "axes")] if as_input and axes is not None else [])
        attrs = {"keepdims": int(keepdims)}
        if not as_input and axes is not None:
            attrs["axes"] = list(axes)
        if out is not None:
            return self.emit(out, op, inputs, **attrs)
        return self.node(op, inputs, **attrs)


_current = []  # the active tracer (one export at a time)


# -- translations of whole functions (their inner ops are not recorded) -------------------------------------------
def _pair(v, n=2):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _fn_linear(tr, out, input, weight, bias=None):
    x, w = tr.value(input), tr.value(weight)
    if input.dim() == 2 and bias is not None:
        return tr.emit(out, "Gemm", [x, w, tr.value(bias)], transB=1)
    y = tr.node("MatMul", [x, tr.node("Transpose", [w], perm=[1, 0])])
    if bias is None:
        return tr.emit(out, "Identity", [y])
    return tr.emit(out, "Add", [y, tr.value(bias)])


def _fn_conv(nd):
    def conv(tr, out, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        k = tuple(weight.shape[2:])
        dil = _pair(dilation, nd)
        if isinstance(padding, str):
            if padding == "valid":
                pads = [0] * (2 * nd)
            else:  # "same" with stride 1: PyTorch puts the odd pixel at the end
                total = [d * (kk - 1) for d, kk in zip(dil, k)]
                pads = [t // 2 for t in total] + [t - t // 2 for t in total]
        else:
            p = _pair(padding, nd)
            pads = list(p) + list(p)
        inputs = [tr.value(input), tr.value(weight)] + ([tr.value(bias)] if bias is not None else [])
        return tr.emit(out, "Conv", inputs, kernel_shape=list(k), strides=list(_pair(stride, nd)), pads=pads,
                       dilations=list(dil), group=int(groups))
    return conv


def _fn_max_pool(nd):
    def pool(tr, out, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if return_indices:
            raise _unsupported("max_pool with return_indices=True")
        k = _pair(kernel_size, nd)
        s = _pair(stride if stride not in (None, [], ()) else kernel_size, nd)
        p = _pair(padding, nd)
        return tr.emit(out, "MaxPool", [tr.value(input)], kernel_shape=list(k), strides=list(s), pads=list(p) * 2,
                       dilations=list(_pair(dilation, nd)), ceil_mode=int(ceil_mode))
    return pool


def _fn_avg_pool(nd):
    def pool(tr, out, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
        if divisor_override is not None:
            raise _unsupported("avg_pool with divisor_override")
        k = _pair(kernel_size, nd)
        s = _pair(stride if stride not in (None, [], ()) else kernel_size, nd)
        p = _pair(padding, nd)
        return tr.emit(out, "AveragePool", [tr.value(input)], kernel_shape=list(k), strides=list(s),
                       pads=list(p) * 2, ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad))
    return pool


def _fn_adaptive_avg_pool(nd):
    def pool(tr, out, input, output_size):
        in_sz = tuple(input.shape[-nd:])
        out_sz = tuple(out.shape[-nd:])
        if all(o == 1 for o in out_sz):
            return tr.emit(out, "GlobalAveragePool", [tr.value(input)])
        if any(i % o for i, o in zip(in_sz, out_sz)):  # overlapping windows: averaging matrices per axis
            v = tr.value(input)
            for axis, (i_n, o_n) in enumerate(zip(in_sz, out_sz)):
                a = np.zeros((o_n, i_n), dtype=input.dtype.np)
                for r in range(o_n):
                    lo, hi = (r * i_n) // o_n, -((-(r + 1) * i_n) // o_n)
                    a[r, lo:hi] = 1.0 / (hi - lo)
                last = axis == nd - 1
                if last:
                    v = tr.node("MatMul", [v, tr.const(a.T, "avg")])
                else:  # an axis before the last: (o, i) @ x moves along dim -2 (nd == 2)
                    v = tr.node("MatMul", [tr.const(a, "avg"), v])
            return tr.emit(out, "Identity", [v])
        k = [i // o for i, o in zip(in_sz, out_sz)]
        return tr.emit(out, "AveragePool", [tr.value(input)], kernel_shape=k, strides=k)
    return pool


def _fn_layer_norm(tr, out, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if tr.opset < 17:
        raise _unsupported("layer_norm below opset_version 17 (LayerNormalization)")
    n = len(_pair(normalized_shape, 1)) if not isinstance(normalized_shape, int) else 1
    shape = tuple(input.shape[-n:])
    w = tr.value(weight) if weight is not None else tr.const(np.ones(shape, input.dtype.np), "ones")
    inputs = [tr.value(input), w] + ([tr.value(bias)] if bias is not None else [])
    return tr.emit(out, "LayerNormalization", inputs, axis=-n, epsilon=float(eps))


def _fn_group_norm(tr, out, input, num_groups, weight=None, bias=None, eps=1e-5):
    """Per sample and group: (x - mean) / sqrt(var + eps) over the group's values, then the per-channel affine."""
    dt, shape = input.dtype, tuple(input.shape)
    grouped = (shape[0], num_groups, input.numel() // (shape[0] * num_groups))
    xr = tr.reshape(tr.value(input), shape, grouped)
    d = tr.node("Sub", [xr, tr.reduce("ReduceMean", xr, [2], True)])
    var = tr.reduce("ReduceMean", tr.node("Mul", [d, d]), [2], True)
    y = tr.node("Div", [d, tr.node("Sqrt", [tr.node("Add", [var, tr.operand(eps, dt)])])])
    cs = [1, shape[1]] + [1] * (len(shape) - 2)
    if weight is None and bias is None:
        return tr.reshape(y, grouped, shape, out=out)
    y = tr.reshape(y, grouped, shape)
    if weight is not None:
        y = tr.node("Mul", [y, tr.node("Reshape", [tr.value(weight), tr.ints(cs)])])
    if bias is None:
        return tr.emit(out, "Identity", [y])
    return tr.emit(out, "Add", [y, tr.node("Reshape", [tr.value(bias), tr.ints(cs)])])


def _fn_batch_norm(tr, out, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                   eps=1e-5):
    if training or running_mean is None:
        raise _unsupported("batch_norm in training mode (call model.eval() before exporting)")
    c = input.shape[1]
    w = tr.value(weight) if weight is not None else tr.const(np.ones(c, input.dtype.np), "ones")
    b = tr.value(bias) if bias is not None else tr.const(np.zeros(c, input.dtype.np), "zeros")
    return tr.emit(out, "BatchNormalization", [tr.value(input), w, b, tr.value(running_mean), tr.value(running_var)],
                   epsilon=float(eps))


def _fn_dropout(tr, out, input, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise _unsupported("dropout in training mode (call model.eval() before exporting)")
    return tr.emit(out, "Identity", [tr.value(input)])


def _fn_softmax(op):
    def softmax(tr, out, input, dim=None, _stacklevel=3, dtype=None):
        x = tr.value(input)
        if dtype is not None and dtype is not input.dtype:
            x = tr.cast(x, dtype)
        return tr.emit(out, op, [x], axis=int(dim if dim is not None else -1))
    return softmax


def _fn_embedding(tr, out, input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                  sparse=False):
    if max_norm is not None:
        raise _unsupported("embedding with max_norm")
    return tr.emit(out, "Gather", [tr.value(weight), tr.value(input)], axis=0)


_FUNCTIONS = {  # (module, name) of the original function -> translation
    ("pygrad.ops.activation", "linear"): _fn_linear,
    ("pygrad.ops.conv", "conv2d"): _fn_conv(2),
    ("pygrad.ops.conv", "conv1d"): _fn_conv(1),
    ("pygrad.ops.pool", "max_pool2d"): _fn_max_pool(2),
    ("pygrad.ops.pool", "max_pool1d"): _fn_max_pool(1),
    ("pygrad.ops.pool", "avg_pool2d"): _fn_avg_pool(2),
    ("pygrad.ops.pool", "avg_pool1d"): _fn_avg_pool(1),
    ("pygrad.ops.pool", "adaptive_avg_pool2d"): _fn_adaptive_avg_pool(2),
    ("pygrad.ops.pool", "adaptive_avg_pool1d"): _fn_adaptive_avg_pool(1),
    ("pygrad.ops.normalization", "layer_norm"): _fn_layer_norm,
    ("pygrad.ops.normalization", "batch_norm"): _fn_batch_norm,
    ("pygrad.ops.normalization", "group_norm"): _fn_group_norm,
    ("pygrad.ops.activation", "dropout"): _fn_dropout,
    ("pygrad.ops.activation", "dropout2d"): _fn_dropout,
    ("pygrad.ops.activation", "softmax"): _fn_softmax("Softmax"),
    ("pygrad.ops.activation", "log_softmax"): _fn_softmax("LogSoftmax"),
    ("pygrad.ops.activation", "embedding"): _fn_embedding,
}


# -- LSTM / GRU layers -------------------------------------------------------------------------------------
_GATES = {"LSTM": (4, [0, 3, 1, 2]), "GRU": (3, [1, 0, 2])}  # PyTorch (i,f,g,o)/(r,z,n) -> ONNX (i,o,f,c)/(z,r,h)


def _rnn_run(tr, result, module, input, states):
    """``RNNBase._run(input (T, N, I), states)`` (fused LSTMLayer/GRULayer Functions) as ONNX LSTM/GRU nodes."""
    mode = module.mode
    if mode not in _GATES:
        raise _unsupported(f"{type(module).__name__} (mode {mode}); LSTM and GRU are exported")
    if getattr(module, "proj_size", 0):
        raise _unsupported("LSTM with proj_size")
    if module.dropout > 0 and module.training and module.num_layers > 1:
        raise _unsupported("RNN dropout in training mode (call model.eval() before exporting)")
    n_gates, order = _GATES[mode]
    H, D = module.hidden_size, 2 if module.bidirectional else 1
    out, hidden = result
    x = tr.value(input)
    # states the forward made itself as zeros are ONNX's default initial state (so the batch stays dynamic)
    state_names = [None if (id(s) not in tr.names and id(s._storage) not in tr.by_storage
                            and not np.asarray(s.detach().cpu()._host()).any()) else tr.value(s) for s in states]
    h_layers, c_layers = [], []
    for layer in range(module.num_layers):
        W, R, B = [], [], []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih = np.array(getattr(module, "weight_ih" + sfx).detach().cpu()._host())
            w_hh = np.array(getattr(module, "weight_hh" + sfx).detach().cpu()._host())
            if module.bias:
                b_ih = np.array(getattr(module, "bias_ih" + sfx).detach().cpu()._host())
                b_hh = np.array(getattr(module, "bias_hh" + sfx).detach().cpu()._host())
            else:
                b_ih = b_hh = np.zeros(n_gates * H, w_ih.dtype)

            def reorder(a):
                return np.concatenate([a[g * H:(g + 1) * H] for g in order], 0)

            W.append(reorder(w_ih))
            R.append(reorder(w_hh))
            B.append(np.concatenate([reorder(b_ih), reorder(b_hh)]))
        inputs = [x, tr.const(np.stack(W), "W"), tr.const(np.stack(R), "R"), tr.const(np.stack(B), "B"), ""]
        lo, hi = layer * D, (layer + 1) * D
        sl = [tr.ints([lo]), tr.ints([hi]), tr.ints([0])]
        for st in state_names:
            inputs.append("" if st is None else tr.node("Slice", [st] + sl))
        attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        n_out = 3 if mode == "LSTM" else 2
        outs = [tr.fresh("Y"), tr.fresh("Y_h")] + ([tr.fresh("Y_c")] if mode == "LSTM" else [])
        tr.node(mode, inputs, outs[:n_out], **attrs)
        y = tr.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])  # (T, D, N, H) -> (T, N, D, H)
        x = tr.node("Reshape", [y, tr.ints([0, 0, -1])])
        h_layers.append(outs[1])
        if mode == "LSTM":
            c_layers.append(outs[2])
    tr.emit(out, "Identity", [x])
    if mode == "LSTM":
        tr.emit(hidden[0], "Concat", h_layers, axis=0)
        tr.emit(hidden[1], "Concat", c_layers, axis=0)
    else:
        tr.emit(hidden, "Concat", h_layers, axis=0)


# -- translations of the autograd Functions ---------------------------------------------------------------------
_UNARY = {"neg": "Neg", "abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sin": "Sin", "cos": "Cos",
          "tan": "Tan", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "floor": "Floor", "ceil": "Ceil",
          "round": "Round", "sign": "Sign", "reciprocal": "Reciprocal", "erf": "Erf", "logical_not": "Not",
          "isnan": "IsNaN", "isinf": "IsInf"}
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
           "minimum": "Min", "eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater",
           "ge": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
           "bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr", "bitwise_xor": "BitwiseXor"}


def _gelu(tr, out, x, approximate):
    """GELU of value ``x``: ONNX Gelu from opset 20, before it the erf (or tanh) formula."""
    dt = out.dtype
    if tr.opset >= 20:
        return tr.emit(out, "Gelu", [x], approximate=approximate)
    half, one = tr.operand(0.5, dt), tr.operand(1.0, dt)
    if approximate == "tanh":
        inner = tr.node("Mul", [tr.node("Add", [x, tr.node("Mul", [tr.operand(0.044715, dt),
                                                                    tr.node("Mul", [x, tr.node("Mul", [x, x])])])]),
                                tr.operand(math.sqrt(2 / math.pi), dt)])
        t = tr.node("Tanh", [inner])
    else:
        t = tr.node("Erf", [tr.node("Div", [x, tr.operand(math.sqrt(2.0), dt)])])
    return tr.emit(out, "Mul", [tr.node("Mul", [x, half]), tr.node("Add", [t, one])])


def _unary(tr, op, out, x):
    dt = out.dtype if op not in ("logical_not", "isnan", "isinf") else x.dtype
    v = tr.operand(x, dt if op != "logical_not" else x.dtype)
    if op in _UNARY:
        if op == "logical_not" and x.dtype.name != "bool":
            v = tr.cast(v, out.dtype)
        return tr.emit(out, _UNARY[op], [v])
    if op in ("gelu", "gelu_tanh"):
        return _gelu(tr, out, v, "tanh" if op == "gelu_tanh" else "none")
    if op == "square":
        return tr.emit(out, "Mul", [v, v])
    if op == "silu":
        return tr.emit(out, "Mul", [v, tr.node("Sigmoid", [v])])
    if op == "rsqrt":
        return tr.emit(out, "Reciprocal", [tr.node("Sqrt", [v])])
    if op == "log1p":
        return tr.emit(out, "Log", [tr.node("Add", [v, tr.operand(1, dt)])])
    if op == "expm1":
        return tr.emit(out, "Sub", [tr.node("Exp", [v]), tr.operand(1, dt)])
    if op == "exp2":
        return tr.emit(out, "Pow", [tr.operand(2, dt), v])
    if op in ("log2", "log10"):
        return tr.emit(out, "Div", [tr.node("Log", [v]), tr.operand(math.log(2 if op == "log2" else 10), dt)])
    if op == "trunc":
        return tr.emit(out, "Mul", [tr.node("Floor", [tr.node("Abs", [v])]), tr.node("Sign", [v])])
    raise _unsupported(op)


def _binary(tr, op, out, a, b):
    from .. import dtypes as D

    if op in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
        compute = D.result_type(a, b) if op not in ("logical_and", "logical_or", "logical_xor") else D.bool_
    else:
        compute = out.dtype
    if op == "pow" and isinstance(b, (int, float)) and not isinstance(b, bool):
        y = tr.operand(b, compute)
    else:
        y = tr.operand(b, compute)
    x = tr.operand(a, compute)
    if op == "ne":
        return tr.emit(out, "Not", [tr.node("Equal", [x, y])])
    if op == "div_floor":
        if compute.is_floating_point:
            return tr.emit(out, "Floor", [tr.node("Div", [x, y])])
        raise _unsupported("integer floor_divide")
    if op in ("remainder", "fmod"):
        if op == "fmod" or not compute.is_floating_point:
            if op == "remainder":  # floored modulo: ONNX Mod with fmod=0 (integers)
                return tr.emit(out, "Mod", [x, y], fmod=0)
            return tr.emit(out, "Mod", [x, y], fmod=1)
        return tr.emit(out, "Sub", [x, tr.node("Mul", [tr.node("Floor", [tr.node("Div", [x, y])]), y])])
    if op not in _BINARY:
        raise _unsupported(op)
    return tr.emit(out, _BINARY[op], [x, y])


def _basic_index(tr, out, x, items):
    """``x[items]`` for ints, slices, None and Ellipsis: one Slice, then one Reshape to the result's shape."""
    shape = tuple(x.shape)
    n_dims = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in items:
        i = items.index(Ellipsis)
        items = items[:i] + (slice(None),) * (len(shape) - n_dims) + items[i + 1:]
    items = tuple(items) + (slice(None),) * (len(shape) - sum(1 for it in items if it is not None))
    starts, ends, axes, steps = [], [], [], []
    dim = 0
    for it in items:
        if it is None:
            continue
        size = shape[dim]
        if isinstance(it, int):
            i = it + size if it < 0 else it
            starts.append(i), ends.append(i + 1), axes.append(dim), steps.append(1)
        elif isinstance(it, slice):
            start, stop, step = it.indices(size)
            if (start, stop, step) != (0, size, 1):
                if step < 0:
                    raise _unsupported("slicing with a negative step")
                starts.append(start), ends.append(stop), axes.append(dim), steps.append(step)
        else:
            raise _unsupported(f"indexing with {type(it).__name__}")
        dim += 1
    v = tr.value(x)
    sliced_shape = list(shape)
    if axes:
        v = tr.node("Slice", [v, tr.ints(starts, "starts"), tr.ints(ends, "ends"), tr.ints(axes, "axes"),
                              tr.ints(steps, "steps")])
        for s, e, a, st in zip(starts, ends, axes, steps):
            sliced_shape[a] = len(range(s, e, st))
    if tuple(sliced_shape) == tuple(out.shape):
        return tr.emit(out, "Identity", [v])
    return tr.reshape(v, tuple(sliced_shape), tuple(out.shape), out=out)


def _dims(dims, ndim):
    if dims is None:
        return None
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return [d % max(ndim, 1) for d in dims] if dims else None


_REDUCE = {"Sum": "ReduceSum", "SumDim": "ReduceSum", "Mean": "ReduceMean", "MeanDim": "ReduceMean",
           "Amax": "ReduceMax", "Amin": "ReduceMin", "Prod": "ReduceProd"}  # Function (args x, dims, keepdim) -> op


def _record_function(tr, cls, args, out):
    """Translate one ``Function.apply(*args) -> out``."""
    name = cls.__name__
    op = getattr(cls, "op", None)
    mro = {c.__name__ for c in cls.__mro__}
    if name in ("MaxDim", "MinDim") and isinstance(out, tuple) and len(out) == 2:
        x, dim, keepdim = args[0], int(args[1]) % max(args[0].dim(), 1), bool(args[2])
        values, indices = out
        tr.reduce("ReduceMax" if name == "MaxDim" else "ReduceMin", tr.value(x), [dim], keepdim, out=values)
        return tr.emit(indices, "ArgMax" if name == "MaxDim" else "ArgMin", [tr.value(x)], axis=dim,
                       keepdims=int(keepdim), select_last_index=0)
    if not isinstance(out, Tensor):
        raise _unsupported(f"{name} (an op with several outputs)")
    if "_Unary" in mro and op:
        return _unary(tr, op, out, args[0])
    if "_Binary" in mro and op:
        return _binary(tr, op, out, args[0], args[1])
    if name in ("Mm", "Bmm"):
        return tr.emit(out, "MatMul", [tr.value(args[0]), tr.value(args[1])])
    if name in ("View", "Unsqueeze", "Squeeze"):
        return tr.reshape(tr.value(args[0]), tuple(args[0].shape), tuple(out.shape), out=out)
    if name == "Permute":  # the recorded info may be the permutation or its inverse: the strides tell which
        x, n = args[0], args[0].dim()
        info = [d % n for d in args[2]]
        for perm in (info, [int(i) for i in np.argsort(info)]):
            if all(out._strides[i] == x._strides[perm[i]] and out._shape[i] == x._shape[perm[i]] for i in range(n)):
                return tr.emit(out, "Transpose", [tr.value(x)], perm=perm)
        raise _unsupported("Permute (its layout matches no permutation)")
    if name == "Transpose":
        n = args[0].dim()
        perm = list(range(n))
        d0, d1 = (d % n for d in args[2])
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return tr.emit(out, "Transpose", [tr.value(args[0])], perm=perm)
    if name == "Expand":
        x = args[0]
        lead = out.dim() - x.dim()
        target = [s if i < lead or x.shape[i - lead] != s else 1 for i, s in enumerate(out.shape)]
        return tr.emit(out, "Expand", [tr.value(x), tr.ints(target)])
    if name in ("Slice", "Select") or "IndexView" in mro:
        items = args[2]
        return _basic_index(tr, out, args[0], tuple(items) if isinstance(items, tuple) else (items,))
    if name == "Clone":
        return tr.emit(out, "Identity", [tr.value(args[0])])
    if name == "ToCopy":
        x = args[0]
        v = tr.value(x)
        return tr.emit(out, "Identity", [v]) if out.dtype is x.dtype else tr.emit(out, "Cast", [v], to=_elem(out.dtype))
    if name == "Cat":
        dim, tensors = args[0], args[1:]
        return tr.emit(out, "Concat", [tr.operand(t, out.dtype) for t in tensors], axis=int(dim % out.dim()))
    if name in _REDUCE:
        x, dims, keepdim = args[0], args[1], args[2]
        v = tr.value(x) if name in ("Amax", "Amin") else tr.operand(x, out.dtype)
        axes = _dims(dims, x.dim()) or list(range(x.dim()))
        return tr.reduce(_REDUCE[name], v, axes, keepdim, out=out)
    if name in ("MaxAll", "MinAll"):
        x = args[0]
        return tr.reduce("ReduceMax" if name == "MaxAll" else "ReduceMin", tr.value(x), list(range(x.dim())), False,
                         out=out)
    if name in ("Softmax", "LogSoftmax"):
        return tr.emit(out, name, [tr.value(args[0])], axis=int(args[1]))
    if name == "Where":
        cond, a, b = args
        return tr.emit(out, "Where", [tr.value(cond), tr.operand(a, out.dtype), tr.operand(b, out.dtype)])
    if "Clamp" in mro:  # (ClampScalar, ClampMin, ClampMax: the same op under PyTorch's node names)
        x, lo, hi = args
        ins = [tr.operand(x, out.dtype)]
        ins.append("" if lo is None else tr.operand(lo, out.dtype))
        ins.append("" if hi is None else tr.operand(hi, out.dtype))
        return tr.emit(out, "Clip", ins)
    if "MaskedFill" in mro:
        x, mask, value = args
        return tr.emit(out, "Where", [tr.value(mask), tr.operand(value, out.dtype), tr.operand(x, out.dtype)])
    if name == "Stack":
        dim, tensors = args[0], args[1:]
        parts = [tr.node("Unsqueeze", [tr.operand(t, out.dtype), tr.ints([dim])]) for t in tensors]
        return tr.emit(out, "Concat", parts, axis=int(dim))
    if name == "Repeat":
        x, sizes = args
        v, lead = tr.value(x), len(sizes) - x.dim()
        if lead:
            v = tr.reshape(v, tuple(x.shape), (1,) * lead + tuple(x.shape))
        return tr.emit(out, "Tile", [v, tr.ints(sizes)])
    if name == "Roll":  # per shifted dim: the last s entries, then the others
        x, shifts, dims = args
        v, shape = tr.value(x), tuple(x.shape)
        cur = (x.numel(),) if dims is None else shape
        if dims is None:
            v, dims = tr.reshape(v, shape, cur), (0,)
        for sh, d in zip(shifts, dims):
            d %= len(cur)
            n = cur[d]
            if n and sh % n:
                sh %= n
                # (counted from the end, so that a dynamic batch axis keeps its meaning)
                v = tr.node("Concat", [tr.node("Slice", [v, tr.ints([-sh]), tr.ints([2 ** 62]), tr.ints([d])]),
                                       tr.node("Slice", [v, tr.ints([0]), tr.ints([-sh]), tr.ints([d])])], axis=d)
        return tr.reshape(v, cur, shape, out=out) if args[2] is None else tr.emit(out, "Identity", [v])
    if name in ("Tril", "Triu"):
        if tr.opset < 14:
            raise _unsupported(f"{name.lower()} below opset_version 14 (Trilu)")
        return tr.emit(out, "Trilu", [tr.value(args[0]), tr.const(np.int64(args[1]), "k")], upper=int(name == "Triu"))
    return _activation(tr, name, out, args) or _unsupported_node(name, cls)


def _unsupported_node(name, cls):
    raise _unsupported(f"{name} (autograd node {cls._backward_cls._name})")


def _activation(tr, name, out, args):
    """The activations that are one pygrad op each (ops/activation.py), as ONNX operators; None for others."""
    dt = out.dtype
    if name in ("LeakyRelu", "Elu", "Softplus", "LogSigmoid", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish"):
        v = tr.operand(args[0], dt)
    if name == "LeakyRelu":
        return tr.emit(out, "LeakyRelu", [v], alpha=float(args[1]))
    if name == "Elu":
        alpha, scale = float(args[1]), float(args[2])
        return tr.emit(out, "Elu", [v], alpha=alpha) if scale == 1.0 else tr.emit(out, "Selu", [v], alpha=alpha,
                                                                                  gamma=scale)
    if name == "Softplus":  # log(1 + exp(beta x)) / beta, x itself where beta x > threshold
        beta, threshold = float(args[1]), float(args[2])
        scaled = tr.node("Mul", [v, tr.operand(beta, dt)])
        soft = tr.node("Div", [tr.node("Softplus", [scaled]), tr.operand(beta, dt)])
        return tr.emit(out, "Where", [tr.node("Greater", [scaled, tr.operand(threshold, dt)]), v, soft])
    if name == "LogSigmoid":
        return tr.emit(out, "Neg", [tr.node("Softplus", [tr.node("Neg", [v])])])
    if name == "Hardtanh":
        return tr.emit(out, "Clip", [v, tr.operand(args[1], dt), tr.operand(args[2], dt)])
    if name == "Hardsigmoid":
        return tr.emit(out, "HardSigmoid", [v], alpha=1.0 / 6, beta=0.5)
    if name == "Hardswish":
        return tr.emit(out, "Mul", [v, tr.node("HardSigmoid", [v], alpha=1.0 / 6, beta=0.5)])
    if name == "Mish":
        return tr.emit(out, "Mul", [v, tr.node("Tanh", [tr.node("Softplus", [v])])])
    return None


def _elem(dtype):
    _, helper, _ = _onnx()
    return helper.np_dtype_to_tensor_dtype(dtype.np)


# -- hooks installed for the duration of one export ---------------------------------------------------------
@contextlib.contextmanager
def _hooks(tr):
    from ..autograd.function import Function
    from ..nn.modules import rnn
    from ..ops import inplace

    patches = []  # (owner, attribute, original)

    def patch(owner, attr, new):
        patches.append((owner, attr, owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)))
        setattr(owner, attr, new)

    original_apply = Function.__dict__["apply"].__func__

    def apply(cls, *args, **kwargs):
        if tr.depth:  # inside a translated function or another op's forward: not recorded
            return original_apply(cls, *args, **kwargs)
        tr.depth += 1
        try:
            out = original_apply(cls, *args, **kwargs)
        finally:
            tr.depth -= 1
        if kwargs:
            raise _unsupported(f"{cls.__name__} with keyword arguments")
        _record_function(tr, cls, args, out)
        return out

    patch(Function, "apply", classmethod(apply))

    def whole(fn, translate, method=False):
        sig = inspect.signature(fn)

        def wrapper(*args, **kwargs):
            if tr.depth:
                return fn(*args, **kwargs)
            tr.depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                tr.depth -= 1
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            translate(tr, out, *bound.args, **bound.kwargs)
            return out

        wrapper.__wrapped__ = fn
        return wrapper

    originals = {}
    for (mod_name, fn_name), translate in _FUNCTIONS.items():
        mod = sys.modules.get(mod_name)
        fn = getattr(mod, fn_name, None) if mod is not None else None
        if fn is not None:
            originals[id(fn)] = whole(fn, translate)
    # every pygrad namespace that re-exports one of those functions gets the wrapper
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or not (mod_name == "pygrad" or mod_name.startswith("pygrad.")) or mod_name.startswith(
                "pygrad.onnx"):
            continue
        for attr, value in list(vars(mod).items()):
            w = originals.get(id(value))
            if w is not None and callable(value):
                patch(mod, attr, w)

    if hasattr(rnn.RNNBase, "_run"):
        run = rnn.RNNBase.__dict__["_run"]

        def _run(self, input, states):
            if tr.depth:
                return run(self, input, states)
            tr.depth += 1
            try:
                result = run(self, input, states)
            finally:
                tr.depth -= 1
            _rnn_run(tr, result, self, input, states)
            return result

        patch(rnn.RNNBase, "_run", _run)

    assign = inplace._assign

    def _assign(x, result):
        out = assign(x, result)
        if tr.depth == 0 and id(result) in tr.names:
            if x._base is not None or tuple(x.shape) != tuple(result.shape) or x.dtype is not result.dtype:
                raise _unsupported("an in-place write into part of a tensor or with a cast (use out-of-place ops)")
            tr.bind(x, tr.names[id(result)][0])
        return out

    patch(inplace, "_assign", _assign)
    try:
        yield
    finally:
        for owner, attr, orig in reversed(patches):
            setattr(owner, attr, orig)


# -- export ----------------------------------------------------------------------------------------------
def _flatten(obj, what):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _flatten(o, what)]
    raise _unsupported(f"a model {what} of type {type(obj).__name__} (tensors, tuples and lists are exported)")


def export(model, args, f, export_params=True, verbose=False, training=None, input_names=None, output_names=None,
           opset_version=None, dynamic_axes=None, do_constant_folding=True, keep_initializers_as_inputs=None,
           **kwargs):
    """Trace ``model(*args)`` once and write it as an ONNX model to ``f`` (a path or a binary file).

    ``dynamic_axes`` maps an input/output name to the axes (a list, or ``{axis: name}``) left symbolic
    in the graph; the first input's first dynamic axis is also kept dynamic through reshapes.
    Returns the ``onnx.ModelProto``.
    """
    onnx, helper, numpy_helper = _onnx()
    if not export_params:
        raise NotImplementedError("pygrad.onnx.export writes the parameters (export_params=False is not supported)")
    if kwargs:
        raise TypeError(f"export() got unexpected keyword arguments {sorted(kwargs)}")
    opset = int(opset_version or 17)
    if not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"opset_version must be in [13, {onnx.defs.onnx_opset_version()}], got {opset}")
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    inputs = _flatten(args, "input")
    in_names = list(input_names or [])
    in_names += [f"input_{i}" for i in range(len(in_names), len(inputs))]
    dynamic_axes = {k: (dict(v) if isinstance(v, dict) else {int(a): f"{k}_dynamic_axes_{j + 1}" for j, a in
                                                              enumerate(v)}) for k, v in (dynamic_axes or {}).items()}

    tr = _Tracer(opset, helper)
    from ..autograd import grad_mode

    was_training = getattr(model, "training", False)
    if training is not None and hasattr(model, "train"):
        model.train(bool(training))
    if hasattr(model, "named_parameters"):
        for n, p in model.named_parameters():
            tr.param_names.setdefault(id(p), n)
        for n, b in model.named_buffers():
            tr.param_names.setdefault(id(b), n)
    for t, name in zip(inputs, in_names):
        tr.bind(t, name)
        axes = dynamic_axes.get(name)
        if axes and tr.batch is None:
            tr.batch = t.shape[min(axes)]
    try:
        with grad_mode.no_grad(), _hooks(tr):
            result = model(*args)
    finally:
        if training is not None and hasattr(model, "train"):
            model.train(was_training)
    outputs = _flatten(result, "output")
    out_names = list(output_names or [])
    out_names += [f"output_{i}" for i in range(len(out_names), len(outputs))]
    for t, name in zip(outputs, out_names):
        tr.node("Identity", [tr.value(t)], [name])

    used = {i for n in tr.nodes for i in n.input}
    inits = {name: a for name, a in tr.inits.items() if name in used}

    def info(name, t):
        axes = dynamic_axes.get(name, {})
        shape = [axes.get(i, s) for i, s in enumerate(t.shape)]
        return helper.make_tensor_value_info(name, _elem(t.dtype), shape)

    graph = helper.make_graph(
        tr.nodes, type(model).__name__, [info(n, t) for t, n in zip(inputs, in_names)],
        [info(n, t) for t, n in zip(outputs, out_names)],
        [numpy_helper.from_array(np.ascontiguousarray(a), name) for name, a in inits.items()])
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                    producer_name="pygrad")
    model_proto.ir_version = min(model_proto.ir_version, 10)
    onnx.checker.check_model(model_proto)
    if verbose:
        print(helper.printable_graph(graph))
    if hasattr(f, "write"):
        f.write(model_proto.SerializeToString())
    else:
        onnx.save(model_proto, f)
    return model_proto
