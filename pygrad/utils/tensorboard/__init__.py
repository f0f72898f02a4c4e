"""``pygrad.utils.tensorboard.SummaryWriter``: TensorBoard event files, written by the ``tensorboard`` package.

The events are TensorBoard's own protocol buffers written with its own ``EventFileWriter``, so
``tensorboard --logdir runs`` shows them exactly as it shows PyTorch's.  ``add_graph`` draws the autograd
graph of one forward pass (its ``grad_fn`` nodes and the parameters feeding them): pygrad has no JIT
tracer, so the graph shows gradient nodes rather than forward ops.
"""
try:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as e:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("pygrad.utils.tensorboard needs the 'tensorboard' package (pip install tensorboard); "
                      f"it could not be imported: {e}") from None

from .writer import SummaryWriter  # noqa: E402,F401

__all__ = ["SummaryWriter"]
