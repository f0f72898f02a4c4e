"""pygrad.onnx.export: the demo CNN, an MLP, a Transformer-encoder classifier, LSTM/GRU models and the
seeds' model run in onnxruntime with pygrad's outputs (to 1e-5), dynamic batch axes, and clear errors
for ops the exporter does not know.  Skipped (with the reason) without the extra ``onnx``."""
import io

import numpy as np
import pytest

import pygrad
import pygrad.nn.functional as F
from pygrad import nn
from pygrad.onnx import UnsupportedOperatorError

onnx = pytest.importorskip("onnx", reason="the extra 'onnx' (onnx + onnxruntime) is not installed")
ort = pytest.importorskip("onnxruntime", reason="the extra 'onnx' (onnx + onnxruntime) is not installed")


def run_both(model, x, *more_inputs, dynamic=True, **kwargs):
    """Export ``model`` for input ``x``; return (max |onnx - pygrad|) over ``x`` and ``more_inputs``, and the graph."""
    model.eval()
    buf = io.BytesIO()
    proto = pygrad.onnx.export(model, (x,), buf, input_names=["x"], output_names=["y"],
                               dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if dynamic else None, **kwargs)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    worst = 0.0
    for inp in (x,) + more_inputs:
        got = sess.run(None, {"x": inp.numpy()})[0]
        want = model(inp).detach().numpy()
        assert got.shape == want.shape
        worst = max(worst, float(np.abs(got - want).max()))
    return worst, proto


def ops(proto):
    return {n.op_type for n in proto.graph.node}


def test_demo_cnn():
    from pygrad.cli import lenet

    pygrad.manual_seed(0)
    model = lenet()
    err, proto = run_both(model, pygrad.randn(3, 1, 28, 28), pygrad.randn(5, 1, 28, 28))
    assert err < 1e-5
    assert {"Conv", "MaxPool", "Relu", "Gemm"} <= ops(proto)
    assert [i.name for i in proto.graph.initializer][:2] == ["0.weight", "0.bias"]  # parameter names kept
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]


def test_mlp():
    pygrad.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 32), nn.GELU(), nn.Linear(32, 16), nn.Tanh(),
                          nn.LayerNorm(16), nn.Linear(16, 4), nn.Softmax(-1))
    err, proto = run_both(model, pygrad.randn(4, 3, 4), pygrad.randn(1, 3, 4))
    assert err < 1e-5 and "Gemm" in ops(proto) and "LayerNormalization" in ops(proto)


class TransformerClassifier(nn.Module):
    def __init__(self, vocab=20, d=16, seq=7, classes=3, batch_first=True, activation="relu", norm_first=False):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(pygrad.randn(seq, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, 4, 32, dropout=0.1, batch_first=batch_first, activation=activation,
                                           norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, classes)
        self.batch_first = batch_first

    def forward(self, tokens):
        h = self.emb(tokens) + self.pos
        if not self.batch_first:
            h = h.transpose(0, 1)
        h = self.encoder(h)
        if not self.batch_first:
            h = h.transpose(0, 1)
        return self.head(h.mean(1)).log_softmax(-1)


@pytest.mark.parametrize("batch_first,activation,norm_first", [(True, "relu", False), (False, "gelu", True)])
def test_transformer_encoder_classifier(batch_first, activation, norm_first):
    pygrad.manual_seed(2)
    model = TransformerClassifier(batch_first=batch_first, activation=activation, norm_first=norm_first)
    err, proto = run_both(model, pygrad.randint(0, 20, (4, 7)), pygrad.randint(0, 20, (6, 7)))
    assert err < 1e-5
    assert {"Gather", "MatMul", "Softmax", "LayerNormalization", "Transpose"} <= ops(proto) or \
        {"Gather", "MatMul", "LayerNormalization", "Transpose"} <= ops(proto)


class Recurrent(nn.Module):
    def __init__(self, kind, bidirectional, layers):
        super().__init__()
        self.rnn = getattr(nn, kind)(5, 6, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.fc = nn.Linear(6 * (2 if bidirectional else 1), 2)

    def forward(self, x):
        out, h = self.rnn(x)
        h = h[0] if isinstance(h, tuple) else h
        return self.fc(out[:, -1]) + h.sum(0).sum(-1, keepdim=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_and_gru_become_onnx_lstm_and_gru(kind, bidirectional):
    pygrad.manual_seed(3)
    err, proto = run_both(Recurrent(kind, bidirectional, 2), pygrad.randn(3, 4, 5), pygrad.randn(2, 4, 5))
    assert err < 1e-5 and kind in ops(proto)


def test_seeds_model_with_functional_pooling_and_shape_arithmetic():
    class MyModel(nn.Module):  # the seeds' chapter 1.5.1 model, smaller input
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 20, 5), nn.ReLU(), nn.Conv2d(20, 10, 3))
            self.avgpool = nn.AdaptiveAvgPool2d((5, 5))
            self.fc = nn.Linear(10 * 5 * 5, 2)

        def forward(self, x):
            out = self.features(x)
            out = pygrad.max_pool2d(out, 2, 2)
            out = self.avgpool(out)  # 7x7 -> 5x5: overlapping windows
            out = out.reshape(x.shape[0], -1)
            return self.fc(out)

    pygrad.manual_seed(4)
    err, proto = run_both(MyModel(), pygrad.randn(2, 3, 20, 20), pygrad.randn(3, 3, 20, 20))
    assert err < 1e-5 and "MaxPool" in ops(proto)


def test_static_shapes_and_opset_versions(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.GELU())
    x = pygrad.randn(2, 3)
    for opset in (13, 17, 20):
        err, proto = run_both(model, x, dynamic=False, opset_version=opset)
        assert err < 1e-5 and proto.opset_import[0].version == opset
    pygrad.onnx.export(model, x, str(tmp_path / "m.onnx"))
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in loaded.graph.input] == ["input_0"] and [o.name for o in loaded.graph.output] == ["output_0"]
    with pytest.raises(ValueError, match="opset_version"):
        pygrad.onnx.export(model, x, io.BytesIO(), opset_version=7)


def test_inplace_relu_and_elementwise_ops():
    class M(nn.Module):
        def forward(self, x):
            y = F.relu(x * 2 - 1, inplace=True)
            z = (x.exp() + 1).log() / x.abs().clamp(min=0.5)
            return pygrad.cat([y, z, pygrad.where(x > 0, x, 0.25 * x)], -1).max(-1, keepdim=True)[0] + y.mean()

    err, _ = run_both(M(), pygrad.randn(3, 4), pygrad.randn(6, 4))
    assert err < 1e-5


def test_activation_ops_and_masks_export():
    """The ops that are one pygrad node each (leaky_relu, elu/selu, softplus with beta and threshold, logsigmoid,
    hardtanh/relu6, hardsigmoid, hardswish, mish, clamp_min, masked_fill, stack, roll, repeat, tril/triu) run in
    onnxruntime with pygrad's values."""
    class M(nn.Module):
        def forward(self, x):
            acts = [F.leaky_relu(x, 0.2), F.elu(x, 1.3), F.selu(x), F.softplus(x, beta=2.0, threshold=1.0),
                    F.logsigmoid(x), F.hardtanh(x, -0.5, 0.7), F.relu6(x * 4), F.hardsigmoid(x * 3),
                    F.hardswish(x * 3), F.mish(x), x.clamp_min(0.1), x.masked_fill(x > 0.5, -1.0)]
            s = pygrad.stack(acts, 1)  # (n, 12, 4)
            s = s + s.roll((2, -1), (1, 2)) + s.roll(5) + s[:, :1].repeat(1, 12, 1) + x.repeat(12, 1, 1).transpose(0, 1)
            return s.tril(-1) + s.triu(2) * 0.5

    err, proto = run_both(M(), pygrad.randn(3, 4), pygrad.randn(5, 4))
    assert err < 1e-5
    assert {"LeakyRelu", "Elu", "Selu", "Softplus", "HardSigmoid", "Trilu", "Where", "Concat", "Tile"} <= ops(proto)


def test_group_norm_exports():
    for affine in (True, False):
        model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.GroupNorm(3, 6, affine=affine), nn.SiLU())
        if affine:
            with pygrad.no_grad():
                model[1].weight.copy_(pygrad.rand(6) + 0.5)
                model[1].bias.copy_(pygrad.randn(6))
        err, proto = run_both(model, pygrad.randn(2, 3, 5, 5), pygrad.randn(4, 3, 5, 5))
        assert err < 1e-5


def test_unsupported_ops_raise_naming_the_op():
    class Cum(nn.Module):
        def forward(self, x):
            return x.cumsum(0)

    with pytest.raises(UnsupportedOperatorError, match="Cumsum"):
        pygrad.onnx.export(Cum(), pygrad.randn(3), io.BytesIO())
    with pytest.raises(UnsupportedOperatorError, match="dropout in training mode"):
        pygrad.onnx.export(nn.Dropout(0.5).train(), pygrad.randn(3), io.BytesIO(), training=True)
    # the hooks are gone after an export (also after a failed one)
    from pygrad.autograd.function import Function

    assert "wrapper" not in repr(F.linear) and Function.apply.__func__.__qualname__ == "Function.apply"
