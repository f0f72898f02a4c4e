"""``pygrad.onnx.export``: write a model as an ONNX graph by tracing one forward pass.

Tracing runs ``model(*args)`` once inside a tracer context.  The context hooks two levels, both only
for the duration of the export (nothing in the op layer changes for normal use):

* the layer functions that have an ONNX operator of their own (``F.linear`` -> Gemm/MatMul,
  ``conv2d`` -> Conv, pooling, ``layer_norm``, ``batch_norm``, ``softmax``, ``embedding``, ``dropout``,
  the LSTM and GRU layers via ``RNNBase._run``): each becomes one ONNX node (or a few), and the ops
  they run inside (the fused ``LSTMLayer``/``GRULayer`` Functions too) are not recorded;
* every other op through ``Function.apply`` (the path all autograd ops take): elementwise math, ``gelu``,
  matmul, views (reshape/transpose/permute/slicing), ``cat``, reductions, ``where``, ``clamp``, casts.

An op the exporter does not know raises ``UnsupportedOperatorError`` naming it.  Tensors the forward
pass reads but did not compute (parameters, buffers, constants) become initializers, named after
the parameter where there is one.  The graph is written with the ``onnx`` package (extra ``onnx``).
"""
from ._export import UnsupportedOperatorError, export

__all__ = ["export", "UnsupportedOperatorError"]
