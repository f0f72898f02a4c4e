"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step ``RNNCell``, ``LSTMCell``, ``GRUCell``.

A recurrent layer applies the same cell at every time step, feeding each step's hidden state into the
next.  The input half of every step (``W_ih x_t + b_ih``) does not depend on the previous step, so it
is computed for the whole sequence with one matmul per layer and direction; only the hidden half
(``W_hh h + b_hh``) runs inside the Python loop over time.  Weight names, shapes, gate order and
initialisation follow PyTorch, so ``state_dict``s can be exchanged with it.
"""
import math
import numbers
import warnings

from ... import creation
from ...ops.movement import stack, cat
from ...ops import rnn as _fused
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


# -- one time step of each cell.  ``gi`` is the precomputed input projection W_ih x + b_ih. --------
def _rnn_tanh_step(gi, h, w_hh, b_hh):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""
    return (gi + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_step(gi, h, w_hh, b_hh):
    return (gi + F.linear(h, w_hh, b_hh)).relu()


def _lstm_step(gi, h, c, w_hh, b_hh):
    """LSTM: gates i, f, g, o (in that order); c' = f*c + i*g and h' = o*tanh(c')."""
    gates = gi + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(gi, h, w_hh, b_hh):
    """GRU: gates r, z, n; n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h."""
    gh = F.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


# Each RNN/LSTM/GRU layer and direction runs as one Function (pygrad/ops/rnn.py: a fused gate kernel + one
# matmul per step, its own backward through time); False runs the step-by-step tensor code above (the
# reference the fused layers are tested against, and the way to get second derivatives).
FUSED_LSTM = True

_STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "GRU": _gru_step}
_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_NAMES = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


class RNNBase(Module):
    """Shared machinery of RNN/LSTM/GRU: parameters per layer and direction, checks, the time loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        for name, v, typ in (("bias", bias, bool), ("batch_first", batch_first, bool),
                             ("input_size", input_size, int), ("hidden_size", hidden_size, int)):
            if not isinstance(v, typ):
                raise TypeError(f"{name} should be of type {typ.__name__}, got: {type(v).__name__}")
            if typ is int and v <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if proj_size > 0:
            raise NotImplementedError("pygrad's LSTM does not support proj_size > 0 (LSTM with projections)")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                names = []
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, Parameter(creation.empty(shape, device=device, dtype=dtype)))
                    names.append(kind + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/√hidden_size, 1/√hidden_size), as in PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self):
        """The parameters grouped per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """No-op kept for API compatibility (PyTorch packs weights for cuDNN here)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in (("proj_size", 0), ("num_layers", 1), ("bias", True), ("batch_first", False),
                           ("dropout", 0), ("bidirectional", False)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s

    def _run(self, x, states):
        """``x`` is (T, N, input_size), ``states`` is (h0,) or (h0, c0), each (layers*directions, N, H)."""
        num_directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                idx = layer * num_directions + direction
                w = self.all_weights[idx]
                w_ih, w_hh, b_ih, b_hh = w if self.bias else (*w, None, None)
                gi = F.linear(x, w_ih, b_ih)  # the input projection of every time step in one matmul
                h, c = states[0][idx], (states[1][idx] if lstm else None)
                if FUSED_LSTM and _fused.fusable(gi, h, c, w_hh, b_hh):
                    seq_in = gi if direction == 0 else gi.flip(0)
                    if lstm:
                        seq, h, c = _fused.LSTMLayer.apply(seq_in, h, c, w_hh, b_hh)
                    elif self.mode == "GRU":
                        seq, h = _fused.GRULayer.apply(seq_in, h, w_hh, b_hh)
                    else:
                        seq, h = _fused.RNNLayer.apply(seq_in, h, w_hh, b_hh, self.mode == "RNN_RELU")
                    outs.append(seq if direction == 0 else seq.flip(0))
                    h_n.append(h)
                    c_n.append(c)
                    continue
                out = [None] * x.size(0)
                for t in (reversed(range(x.size(0))) if direction == 1 else range(x.size(0))):
                    if lstm:
                        h, c = _lstm_step(gi[t], h, c, w_hh, b_hh)
                    else:
                        h = _STEPS[self.mode](gi[t], h, w_hh, b_hh)
                    out[t] = h
                outs.append(stack(out, 0))
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if num_directions == 1 else cat(outs, 2)  # both directions side by side
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, ((stack(h_n, 0), stack(c_n, 0)) if lstm else stack(h_n, 0))

    def forward(self, input, hx=None):
        """Returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for an LSTM."""
        lstm, name = self.mode == "LSTM", _NAMES[self.mode]
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                             f"{'tensor ' * (name == 'RNN')}instead")
        batched = input.dim() == 3
        if not batched:  # one unbatched sequence: add a batch dim of size 1
            input = input.unsqueeze(0 if self.batch_first else 1)
        states = None if hx is None else (tuple(hx) if lstm else (hx,))
        if states is not None:
            want, dims = (3 if batched else 2), [st.dim() for st in states]
            if any(d != want for d in dims):
                got = f"({dims[0]}-D, {dims[1]}-D) tensors" if lstm else f"{dims[0]}-D tensor"
                raise RuntimeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, "
                                   f"{'hx and cx' if lstm else 'hx'} should also be {want}-D but got {got}")
            if not batched:
                states = tuple(st.unsqueeze(1) for st in states)
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). Convert "
                             f"input: input.to({w.dtype}), or convert model: model.to({input.dtype})")
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")
        expected = ((2 if self.bidirectional else 1) * self.num_layers,
                    input.size(0 if self.batch_first else 1), self.hidden_size)
        if states is None:
            states = (creation.zeros(expected, dtype=input.dtype, device=input.device),) * (2 if lstm else 1)
        for k, st in enumerate(states):
            if tuple(st.shape) != expected:
                what = f"hidden[{k}]" if lstm else "hidden"
                raise RuntimeError(f"Expected {what} size {expected}, got {list(st.shape)}")
        out, hidden = self._run(input.transpose(0, 1) if self.batch_first else input, states)
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            hidden = tuple(st.squeeze(1) for st in hidden) if lstm else hidden.squeeze(1)
        return out, hidden


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or ReLU), stacked ``num_layers`` deep."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: a cell state c carried alongside h, updated through input/forget/output gates.

    ``forward(input, (h_0, c_0))`` returns ``output, (h_n, c_n)``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: a reset gate r and an update gate z blend the old state with a candidate n."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# -- single-step cells -------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Parameters of a one-step cell: ``weight_ih`` (chunks*H, in), ``weight_hh`` (chunks*H, H), biases."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(creation.empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    reset_parameters = RNNBase.reset_parameters

    def _prepare(self, input, hx, name, n_states):
        """Checks shapes, adds a batch dim to 1-D inputs; returns (W_ih x + b_ih, states, is_batched)."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = None if hx is None else ((hx,) if n_states == 1 else tuple(hx))
        for k, s in enumerate(states or ()):
            if s.dim() not in (1, 2):
                what = "hidden" if n_states == 1 else f"hx[{k}]"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
            states = None if states is None else tuple(s.unsqueeze(0) for s in states)
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        if states is None:
            z = creation.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            states = (z,) * n_states
        for k, s in enumerate(states):
            if s.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} batch size {s.size(0)}")
            if s.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.size(1)}, "
                                   f"expected {self.hidden_size}")
        return F.linear(input, self.weight_ih, self.bias_ih), states, is_batched


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or ReLU)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        gi, (h,), is_batched = self._prepare(input, hx, "RNNCell", 1)
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = _STEPS["RNN_" + self.nonlinearity.upper()](gi, h, self.weight_hh, self.bias_hh)
        return h if is_batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h', c') = cell(x, (h, c))`` with gates i, f, g, o."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        gi, (h, c), is_batched = self._prepare(input, hx, "LSTMCell", 2)
        h, c = _lstm_step(gi, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step with gates r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        gi, (h,), is_batched = self._prepare(input, hx, "GRUCell", 1)
        h = _gru_step(gi, h, self.weight_hh, self.bias_hh)
        return h if is_batched else h.squeeze(0)
