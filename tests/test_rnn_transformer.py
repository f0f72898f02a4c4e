"""Recurrent layers (RNN/LSTM/GRU and cells), MultiheadAttention, Transformer layers, tril/triu.

Outputs are checked against small independent NumPy implementations that use the module's own weights;
reprs and error texts are PyTorch's.  Two tiny trainings (a GRU language model, a Transformer classifier)
check that everything learns end to end.
"""
import copy
import math
import warnings

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from helpers import to_np


# -- NumPy references ------------------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of an RNN_TANH / RNN_RELU / LSTM / GRU cell; returns (h', c')."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    H = h.shape[-1]
    if mode == "RNN_TANH":
        return np.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return np.maximum(gi + gh, 0), None
    if mode == "LSTM":
        g = gi + gh
        i, f, gg, o = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), _sigmoid(g[:, 3 * H:])
        c = f * c + i * gg
        return o * np.tanh(c), c
    r = _sigmoid(gi[:, :H] + gh[:, :H])
    z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h, None


def np_rnn(mode, module, x, h0=None, c0=None):
    """Reference multi-layer (bi)directional recurrence with the weights of ``module``."""
    p = {n: to_np(v).astype(np.float64) for n, v in module.named_parameters()}
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    x = x.astype(np.float64)
    if module.batch_first:
        x = x.transpose(1, 0, 2)
    T, N = x.shape[:2]
    h0 = np.zeros((L * D, N, H)) if h0 is None else h0
    c0 = np.zeros((L * D, N, H)) if c0 is None else c0
    hn, cn = [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [p.get(k + sfx, 0.0) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[layer * D + d], c0[layer * D + d]
            out = np.zeros((T, N, H))
            for t in (range(T - 1, -1, -1) if d else range(T)):
                h, c = np_cell(mode, x[t], h, c, *w)
                out[t] = h
            outs.append(out)
            hn.append(h)
            cn.append(c)
        x = np.concatenate(outs, axis=2)
    if module.batch_first:
        x = x.transpose(1, 0, 2)
    return x, np.stack(hn), (np.stack(cn) if mode == "LSTM" else None)


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_mha(m, q, k, v, attn_mask=None, key_padding_mask=None):
    """Reference attention for (L, N, E) inputs, one (batch, head) pair at a time; returns (out, weights)."""
    W, b = to_np(m.in_proj_weight).astype(np.float64), to_np(m.in_proj_bias).astype(np.float64)
    Wo, bo = to_np(m.out_proj.weight).astype(np.float64), to_np(m.out_proj.bias).astype(np.float64)
    H, E = m.num_heads, m.embed_dim
    d = E // H
    Q, K, V = (a @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, a in enumerate((q, k, v)))
    L, N, S = q.shape[0], q.shape[1], k.shape[0]
    out, weights = np.zeros((L, N, E)), np.zeros((N, H, L, S))
    for n in range(N):
        for h in range(H):
            sl = slice(h * d, (h + 1) * d)
            s = Q[:, n, sl] @ K[:, n, sl].T / math.sqrt(d)
            if attn_mask is not None:
                am = attn_mask if attn_mask.ndim == 2 else attn_mask[n * H + h]
                s = np.where(am, -np.inf, s) if am.dtype == bool else s + am
            if key_padding_mask is not None:
                s = np.where(key_padding_mask[n][None, :], -np.inf, s)
            a = _softmax(s)
            weights[n, h] = a
            out[:, n, sl] = a @ V[:, n, sl]
    return out @ Wo.T + bo, weights


def _close(t, expected, atol=1e-5):
    np.testing.assert_allclose(to_np(t), expected, rtol=1e-4, atol=atol)


# -- recurrent layers vs NumPy -----------------------------------------------------------------------
RNN_CASES = [
    ("RNN", "RNN_TANH", dict()),
    ("RNN", "RNN_RELU", dict(nonlinearity="relu", num_layers=2)),
    ("LSTM", "LSTM", dict()),
    ("LSTM", "LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", "LSTM", dict(batch_first=True, bias=False)),
    ("GRU", "GRU", dict()),
    ("GRU", "GRU", dict(num_layers=2, batch_first=True, bidirectional=True)),
]


@pytest.mark.parametrize("cls,mode,kw", RNN_CASES)
def test_recurrent_layers_match_numpy(cls, mode, kw, device):
    torch.manual_seed(0)
    m = getattr(nn, cls)(3, 4, **kw).to(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3) if m.batch_first else (5, 2, 3)).astype(np.float32)
    out, hidden = m(torch.tensor(x, device=device))
    ref_out, ref_h, ref_c = np_rnn(mode, m, x)
    D = 2 if m.bidirectional else 1
    assert tuple(out.shape) == ((2, 5, 4 * D) if m.batch_first else (5, 2, 4 * D))
    _close(out, ref_out)
    if mode == "LSTM":
        _close(hidden[0], ref_h)
        _close(hidden[1], ref_c)
    else:
        _close(hidden, ref_h)
    # explicit initial states
    h0 = rng.standard_normal((m.num_layers * D, 2, 4)).astype(np.float32)
    c0 = rng.standard_normal(h0.shape).astype(np.float32)
    hx = (torch.tensor(h0, device=device), torch.tensor(c0, device=device)) if mode == "LSTM" else \
        torch.tensor(h0, device=device)
    out, hidden = m(torch.tensor(x, device=device), hx)
    ref_out, ref_h, ref_c = np_rnn(mode, m, x, h0.astype(np.float64), c0.astype(np.float64))
    _close(out, ref_out)
    _close(hidden[0] if mode == "LSTM" else hidden, ref_h)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_equals_batch_of_one(cls):
    m = getattr(nn, cls)(3, 4, num_layers=2)
    x = torch.randn(6, 3)
    out, hidden = m(x)
    out1, hidden1 = m(x.unsqueeze(1))
    assert tuple(out.shape) == (6, 4)
    _close(out, to_np(out1.squeeze(1)))
    h, h1 = (hidden[0], hidden1[0]) if cls == "LSTM" else (hidden, hidden1)
    assert tuple(h.shape) == (2, 4)
    _close(h, to_np(h1.squeeze(1)))
    # an unbatched initial state is 2-D
    hx = (torch.zeros(2, 4), torch.zeros(2, 4)) if cls == "LSTM" else torch.zeros(2, 4)
    _close(m(x, hx)[0], to_np(out))


@pytest.mark.parametrize("cls,mode", [("RNNCell", "RNN_TANH"), ("LSTMCell", "LSTM"), ("GRUCell", "GRU")])
def test_cells_match_numpy(cls, mode, device):
    m = getattr(nn, cls)(3, 5).to(device)
    rng = np.random.default_rng(1)
    x, h = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    c = rng.standard_normal((4, 5)).astype(np.float32)
    w = [to_np(p).astype(np.float64) for p in (m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)]
    ref_h, ref_c = np_cell(mode, x.astype(np.float64), h.astype(np.float64), c.astype(np.float64), *w)
    T = lambda a: torch.tensor(a, device=device)  # noqa: E731
    if mode == "LSTM":
        h1, c1 = m(T(x), (T(h), T(c)))
        _close(h1, ref_h)
        _close(c1, ref_c)
        h0, c0 = m(T(x[0]))  # unbatched, zero state
        _close(h0, np_cell(mode, x[:1], 0 * h[:1], 0 * c[:1], *w)[0][0])
    else:
        _close(m(T(x), T(h)), ref_h)
        _close(m(T(x[0])), np_cell(mode, x[:1], 0 * h[:1], None, *w)[0][0])


def test_relu_cell_and_bias_free_cell():
    m = nn.RNNCell(2, 3, bias=False, nonlinearity="relu")
    assert m.bias_ih is None and [n for n, _ in m.named_parameters()] == ["weight_ih", "weight_hh"]
    x, h = np.ones((1, 2), np.float32), np.full((1, 3), -0.5, np.float32)
    ref = np.maximum(x @ to_np(m.weight_ih).T + h @ to_np(m.weight_hh).T, 0)
    _close(m(torch.tensor(x), torch.tensor(h)), ref)


def test_rnn_layer_runs_the_cell_at_each_step():
    """An LSTM layer with one LSTMCell's weights gives the same states as looping the cell by hand."""
    layer, cell = nn.LSTM(3, 4), nn.LSTMCell(3, 4)
    with torch.no_grad():
        for a, b in (("weight_ih_l0", "weight_ih"), ("weight_hh_l0", "weight_hh"), ("bias_ih_l0", "bias_ih"),
                     ("bias_hh_l0", "bias_hh")):
            getattr(cell, b).copy_(getattr(layer, a))
    x = torch.randn(5, 2, 3)
    out, (h, c) = layer(x)
    state = None
    for t in range(5):
        state = cell(x[t], state)
        _close(out[t], to_np(state[0]))
    _close(c[0], to_np(state[1]))


# -- parameters, init, repr, errors -------------------------------------------------------------------
def test_parameter_names_shapes_and_init():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [(n, tuple(p.shape)) for n, p in m.named_parameters()]
    expected = []
    for layer, inp in ((0, 3), (1, 8)):
        for sfx in ("", "_reverse"):
            expected += [(f"weight_ih_l{layer}{sfx}", (16, inp)), (f"weight_hh_l{layer}{sfx}", (16, 4)),
                         (f"bias_ih_l{layer}{sfx}", (16,)), (f"bias_hh_l{layer}{sfx}", (16,))]
    assert names == expected
    assert [tuple(p.shape) for p in nn.GRU(3, 5, bias=False).parameters()] == [(15, 3), (15, 5)]
    assert [tuple(p.shape) for p in nn.RNN(3, 5).parameters()] == [(5, 3), (5, 5), (5,), (5,)]
    assert [tuple(p.shape) for p in nn.GRUCell(3, 5).parameters()] == [(15, 3), (15, 5), (15,), (15,)]
    big = nn.GRU(10, 64)
    vals = np.concatenate([to_np(p).ravel() for p in big.parameters()])
    assert np.abs(vals).max() <= 1 / 8 and vals.std() > 0.06  # U(-1/√64, 1/√64) has std 0.072
    assert all(p.requires_grad for p in big.parameters())
    assert m.all_weights[1][0] is m.weight_ih_l0_reverse
    sd = nn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict()
    m.load_state_dict(sd)
    _close(m.weight_hh_l1_reverse, to_np(sd["weight_hh_l1_reverse"]))


@pytest.mark.parametrize("expr,expected", [
    ("nn.LSTM(3, 4)", "LSTM(3, 4)"),
    ("nn.GRU(3, 4, num_layers=2, batch_first=True)", "GRU(3, 4, num_layers=2, batch_first=True)"),
    ("nn.RNN(3, 4, nonlinearity='relu', bias=False, dropout=0.5, bidirectional=True)",
     "RNN(3, 4, bias=False, dropout=0.5, bidirectional=True)"),
    ("nn.LSTM(3, 4, bidirectional=True, dropout=0.25, num_layers=3)",
     "LSTM(3, 4, num_layers=3, dropout=0.25, bidirectional=True)"),
    ("nn.RNNCell(3, 4)", "RNNCell(3, 4)"),
    ("nn.RNNCell(3, 4, nonlinearity='relu', bias=False)", "RNNCell(3, 4, bias=False, nonlinearity=relu)"),
    ("nn.LSTMCell(3, 4)", "LSTMCell(3, 4)"),
    ("nn.GRUCell(3, 4, bias=False)", "GRUCell(3, 4, bias=False)"),
    ("nn.MultiheadAttention(8, 2)", "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear("
                                    "in_features=8, out_features=8, bias=True)\n)"),
])
def test_repr_matches_pytorch(expr, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert repr(eval(expr)) == expected


LAYER_REPR = """TransformerEncoderLayer(
  (self_attn): MultiheadAttention(
    (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)
  )
  (linear1): Linear(in_features=8, out_features=16, bias=True)
  (dropout): Dropout(p=0.1, inplace=False)
  (linear2): Linear(in_features=16, out_features=8, bias=True)
  (norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)
  (norm2): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)
  (dropout1): Dropout(p=0.1, inplace=False)
  (dropout2): Dropout(p=0.1, inplace=False)
)"""


def test_transformer_reprs_match_pytorch():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    assert repr(layer) == LAYER_REPR
    inner = LAYER_REPR.replace("\n", "\n    ")
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    assert repr(enc) == ("TransformerEncoder(\n  (layers): ModuleList(\n    (0-1): 2 x " + inner + "\n  )\n"
                         "  (norm): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)\n)")
    gelu = nn.TransformerEncoderLayer(8, 2, 16, activation=nn.GELU(), bias=False)
    assert repr(gelu).endswith("(dropout2): Dropout(p=0.1, inplace=False)\n  (activation): GELU(approximate='none')\n)")
    assert "(linear1): Linear(in_features=8, out_features=16, bias=False)" in repr(gelu)
    assert "(norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=False)" in repr(gelu)


def test_recurrent_errors_match_pytorch():
    with pytest.raises(RuntimeError, match=r"^input.size\(-1\) must be equal to input_size. Expected 10, got 7$"):
        nn.LSTM(10, 4)(torch.randn(2, 3, 7))
    with pytest.raises(ValueError, match="^LSTM: Expected input to be 2D or 3D, got 4D instead$"):
        nn.LSTM(10, 4)(torch.randn(2, 3, 4, 10))
    with pytest.raises(ValueError, match="^RNN: Expected input to be 2D or 3D, got 1D tensor instead$"):
        nn.RNN(10, 4)(torch.randn(10))
    with pytest.raises(RuntimeError, match=r"^Expected hidden size \(1, 3, 4\), got \[1, 2, 4\]$"):
        nn.GRU(10, 4)(torch.randn(2, 3, 10), torch.randn(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"^Expected hidden\[1\] size \(1, 3, 4\), got \[1, 2, 4\]$"):
        nn.LSTM(10, 4)(torch.randn(2, 3, 10), (torch.randn(1, 3, 4), torch.randn(1, 2, 4)))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        nn.RNN(10, 4)(torch.randn(3, 10), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="RNN input dtype"):
        nn.RNN(10, 4)(torch.randn(3, 10).double())
    with pytest.raises(RuntimeError, match="^input has inconsistent input_size: got 7 expected 10$"):
        nn.LSTMCell(10, 4)(torch.randn(3, 7))
    with pytest.raises(RuntimeError, match="^Input batch size 2 doesn't match hidden0 batch size 5$"):
        nn.RNNCell(3, 4)(torch.randn(2, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match="^Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'.$"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(NotImplementedError):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="^hidden_size should be of type int, got: float$"):
        nn.GRU(3, 4.0)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    m = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(4, 2, 3)
    ref = np_rnn("GRU", m, to_np(x))[0]
    a, b = m(x)[0], m(x)[0]
    assert not np.allclose(to_np(a), to_np(b))  # a fresh dropout mask per call
    m.eval()
    _close(m(x)[0], ref)
    _close(m(x)[0], ref)


def test_gradients_flow_through_time_and_gradcheck_lstm():
    torch.manual_seed(0)
    m = nn.LSTM(2, 2, bidirectional=True).double()
    x = torch.randn(3, 1, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 1, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 1, 2, dtype=torch.float64, requires_grad=True)

    def f(x, h0, c0, *params):
        out, (h, c) = m(x, (h0, c0))
        return out, c
    assert torch.autograd.gradcheck(f, (x, h0, c0, *m.parameters()))
    gru = nn.GRU(2, 3, num_layers=2, batch_first=True).double()
    assert torch.autograd.gradcheck(lambda x, *p: gru(x)[1], (x.detach().transpose(0, 1).requires_grad_(),
                                                              *gru.parameters()))


# -- attention ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("masks", ["none", "bool_attn", "padding", "both", "float3d"])
def test_multihead_attention_matches_numpy(masks, device):
    torch.manual_seed(0)
    m = nn.MultiheadAttention(8, 2).to(device)
    with torch.no_grad():
        m.in_proj_bias.normal_()  # PyTorch starts biases at zero; make them matter here
        m.out_proj.bias.normal_()
    rng = np.random.default_rng(2)
    L, S, N = 4, 5, 3
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((L, N, 8), (S, N, 8), (S, N, 8)))
    am = rng.random((L, S)) < 0.4
    am[:, 0] = False  # keep one key per query
    kpm = np.zeros((N, S), bool)
    kpm[0, 3:], kpm[2, 1] = True, True
    fam = rng.standard_normal((N * 2, L, S)).astype(np.float32)
    kw, ref_kw = {}, {}
    if masks in ("bool_attn", "both"):
        kw["attn_mask"], ref_kw["attn_mask"] = torch.tensor(am, device=device), am
    if masks in ("padding", "both"):
        kw["key_padding_mask"], ref_kw["key_padding_mask"] = torch.tensor(kpm, device=device), kpm
    if masks == "float3d":
        kw["attn_mask"], ref_kw["attn_mask"] = torch.tensor(fam, device=device), fam
    T = lambda a: torch.tensor(a, device=device)  # noqa: E731
    out, w = m(T(q), T(k), T(v), **kw)
    ref_out, ref_w = np_mha(m, q, k, v, **ref_kw)
    _close(out, ref_out)
    _close(w, ref_w.mean(1))
    _, w_heads = m(T(q), T(k), T(v), average_attn_weights=False, **kw)
    _close(w_heads, ref_w)
    out2, none = m(T(q), T(k), T(v), need_weights=False, **kw)
    assert none is None
    _close(out2, ref_out)


def test_multihead_attention_batch_first_unbatched_and_self_attention():
    m = nn.MultiheadAttention(6, 3, batch_first=True)
    x = torch.randn(2, 4, 6)  # (N, L, E)
    out, w = m(x, x, x)
    ref_out, ref_w = np_mha(m, *(to_np(x).transpose(1, 0, 2),) * 3)
    _close(out, ref_out.transpose(1, 0, 2))
    _close(w, ref_w.mean(1))
    assert tuple(out.shape) == (2, 4, 6) and tuple(w.shape) == (2, 4, 4)
    kpm = torch.tensor([False, False, True, False])
    out1, w1 = m(x[1], x[1], x[1], key_padding_mask=kpm)  # unbatched: (L, E), weights (L, S)
    ref_out, ref_w = np_mha(m, *(to_np(x[1])[:, None],) * 3, key_padding_mask=to_np(kpm)[None])
    assert tuple(out1.shape) == (4, 6) and tuple(w1.shape) == (4, 4)
    _close(out1, ref_out[:, 0])
    _close(w1, ref_w[0].mean(0))
    assert np.all(to_np(w1)[:, 2] == 0)
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    _, wc = m(x, x, x, attn_mask=causal, is_causal=True)
    assert np.all(np.triu(to_np(wc), 1) == 0)


def test_multihead_attention_parameters_init_and_errors():
    m = nn.MultiheadAttention(8, 2)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(m.out_proj, nn.Linear)
    assert np.all(to_np(m.in_proj_bias) == 0) and np.all(to_np(m.out_proj.bias) == 0)
    assert np.abs(to_np(m.in_proj_weight)).max() <= math.sqrt(6 / (8 + 24))  # xavier_uniform
    assert m.head_dim == 4 and m.batch_first is False and m.bias_k is None
    kv = nn.MultiheadAttention(8, 2, kdim=4, vdim=6, bias=False)
    assert [n for n, _ in kv.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                      "out_proj.weight"]
    out, _ = kv(torch.randn(3, 2, 8), torch.randn(5, 2, 4), torch.randn(5, 2, 6))
    assert tuple(out.shape) == (3, 2, 8)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(8, 3)
    x = torch.randn(3, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is torch.Size\(\[2, 2\]\), but should be"):
        m(x, x, x, attn_mask=torch.zeros(2, 2))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask are supported"):
        m(x, x, x, attn_mask=torch.zeros(3, 3, dtype=torch.int64))


def test_gradcheck_multihead_attention():
    torch.manual_seed(0)
    m = nn.MultiheadAttention(4, 2).double()
    q = torch.randn(2, 1, 4, dtype=torch.float64, requires_grad=True)
    kv = torch.randn(3, 1, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[False, True, False], [False, False, False]])
    assert torch.autograd.gradcheck(lambda q, kv, *p: m(q, kv, kv, attn_mask=mask), (q, kv, *m.parameters()))


# -- transformer layers ------------------------------------------------------------------------------------
def test_generate_square_subsequent_mask_and_tril_triu():
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype is torch.float32
    np.testing.assert_array_equal(to_np(mask), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    a = np.arange(24.0).reshape(2, 3, 4)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(to_np(torch.tril(torch.tensor(a), diagonal=k)), np.tril(a, k))
        np.testing.assert_array_equal(to_np(torch.tensor(a).triu(k)), np.triu(a, k))
    x = torch.ones(3, 3, requires_grad=True)
    x.triu(1).sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.triu(np.ones((3, 3)), 1))
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        torch.tril(torch.ones(3))


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_encoder_layer_matches_numpy(norm_first, batch_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    x = np.random.default_rng(3).standard_normal((3, 5, 8)).astype(np.float32)
    xs = x.transpose(1, 0, 2) if batch_first else x  # (L, N, E) for the reference
    p = {n: to_np(v).astype(np.float64) for n, v in layer.named_parameters()}

    def ln(y, i):
        mu, var = y.mean(-1, keepdims=True), y.var(-1, keepdims=True)
        return (y - mu) / np.sqrt(var + 1e-5) * p[f"norm{i}.weight"] + p[f"norm{i}.bias"]

    def sa(y):
        return np_mha(layer.self_attn, y, y, y)[0]

    def ff(y):
        return np.maximum(y @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]
    if norm_first:
        y = xs + sa(ln(xs, 1))
        y = y + ff(ln(y, 2))
    else:
        y = ln(xs + sa(xs), 1)
        y = ln(y + ff(y), 2)
    _close(layer(torch.tensor(x)), y.transpose(1, 0, 2) if batch_first else y, atol=1e-4)


def test_encoder_stack_shapes_deepcopy_and_eval_determinism():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    ps = list(enc.parameters())
    assert len(ps) == 3 * 12 + 2 and len({id(p) for p in ps}) == len(ps)
    a, b = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert a is not b and np.array_equal(to_np(a), to_np(b))  # independent copies of the same layer
    with torch.no_grad():
        a.add_(1.0)
    assert not np.array_equal(to_np(a), to_np(b)) and not np.array_equal(to_np(a), to_np(layer.linear1.weight))
    x = torch.randn(2, 5, 8)
    kpm = torch.tensor([[False] * 5, [False, False, False, True, True]])
    assert tuple(enc(x, src_key_padding_mask=kpm).shape) == (2, 5, 8)
    assert not np.allclose(to_np(enc(x)), to_np(enc(x)))  # dropout is on in train mode
    enc.eval()
    _close(enc(x), to_np(enc(x)), atol=0)
    # a causal mask makes position t independent of later positions
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    y = x.clone()
    y[:, 3:] = torch.randn(2, 2, 8)
    _close(enc(x, mask=mask)[:, :3], to_np(enc(y, mask=mask)[:, :3]))


def test_full_transformer_shapes_and_causal_decoder():
    torch.manual_seed(0)
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=16,
                           dropout=0.0).eval()
    src, tgt = torch.randn(6, 2, 8), torch.randn(4, 2, 8)
    mask = model.generate_square_subsequent_mask(4)
    out = model(src, tgt, tgt_mask=mask)
    assert tuple(out.shape) == (4, 2, 8)
    tgt2 = tgt.clone()
    tgt2[2:] = 0.0
    _close(model(src, tgt2, tgt_mask=mask)[:2], to_np(out[:2]))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(src, torch.randn(4, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


# -- tiny trainings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["GRU", "LSTM"])
def test_recurrent_model_learns_next_character(cell):
    """A GRU/LSTM language model memorises a short repeated string: loss < 0.25 nats within 80 Adam steps."""
    torch.manual_seed(0)
    text = "hello world! " * 4
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text])
    starts = range(0, len(text) - 13, 3)
    X = torch.stack([data[s:s + 12] for s in starts])
    Y = torch.stack([data[s + 1:s + 13] for s in starts])
    V = len(chars)

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn = nn.Embedding(V, 16), getattr(nn, cell)(16, 32, batch_first=True)
            self.out = nn.Linear(32, V)

        def forward(self, x):
            return self.out(self.rnn(self.emb(x))[0])
    model = CharModel()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for step in range(80):
        loss = F.cross_entropy(model(X).reshape(-1, V), Y.reshape(-1))
        first = loss.item() if first is None else first
        if loss.item() < 0.25:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.5 and loss.item() < 0.25, (first, loss.item(), step)
    # with 3 characters of context the next one is determined: predict it
    pred = model(X).argmax(-1)
    assert (to_np(pred)[:, 3:] == to_np(Y)[:, 3:]).mean() > 0.95


def test_transformer_encoder_classifies_contains_token():
    """Does the sequence contain token 0?  One encoder layer + mean pooling: > 90% test accuracy."""
    torch.manual_seed(0)
    V, L = 6, 8

    def make(n):
        x = torch.randint(1, V, (n, L))
        y = (torch.rand(n) < 0.5).long()
        rows, pos = torch.arange(n), torch.randint(0, L, (n,))
        x[rows, pos] = torch.where(y.bool(), torch.zeros(n, dtype=torch.int64), x[rows, pos])
        return x, y
    X, Y = make(128)
    Xt, Yt = make(256)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 16)
            self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True), 1)
            self.out = nn.Linear(16, 2)

        def forward(self, x):
            return self.out(self.enc(self.emb(x)).mean(1))
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(100):
        loss = F.cross_entropy(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                acc = (model(Xt).argmax(-1) == Yt).float().mean().item()
            model.train()
            if acc > 0.95:
                break
    assert acc > 0.9, (acc, step)
