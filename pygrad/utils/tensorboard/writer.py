"""``SummaryWriter``: scalars, histograms, images, text and the autograd graph as TensorBoard events."""
import io
import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def _to_numpy(x):
    if hasattr(x, "_storage"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar(v):
    a = _to_numpy(v)
    if a.size != 1:
        raise ValueError(f"scalar should be 0D, got a value of shape {list(a.shape)}")
    return float(a.reshape(()))


def _tf_bucket_limits():
    """TensorFlow's default histogram buckets (what PyTorch's ``bins="tensorflow"`` uses)."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-x for x in reversed(pos)] + [0.0] + pos


class SummaryWriter:
    """Write TensorBoard events under ``log_dir`` (default ``runs/<date>_<host><comment>``), as PyTorch's."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue, self.flush_secs, self.filename_suffix = max_queue, flush_secs, filename_suffix
        self.file_writer = None
        self.all_writers = {}
        self._get_file_writer()

    def _get_file_writer(self):
        if self.file_writer is None:
            self.file_writer = EventFileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                self._add_event(event_pb2.Event(step=self.purge_step, file_version="brain.Event:2"), None, None)
                self._add_event(event_pb2.Event(step=self.purge_step, session_log=event_pb2.SessionLog(
                    status=event_pb2.SessionLog.START)), None, None)
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def _add_event(self, event, global_step, walltime, writer=None):
        event.wall_time = time.time() if walltime is None else walltime
        if global_step is not None:
            event.step = int(global_step)
        (writer or self._get_file_writer()).add_event(event)

    def _add_summary(self, summary, global_step, walltime, writer=None):
        self._add_event(event_pb2.Event(summary=summary), global_step, walltime, writer)

    # -- what PyTorch's SummaryWriter offers ------------------------------------------------------------
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One value of the curve ``tag`` at ``global_step``."""
        value = summary_pb2.Summary.Value(tag=tag, simple_value=_scalar(scalar_value))
        self._add_summary(summary_pb2.Summary(value=[value]), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart: each key is written to its own run ``<log_dir>/<main_tag>_<key>``."""
        walltime = time.time() if walltime is None else walltime
        for tag, v in tag_scalar_dict.items():
            path = os.path.join(self._get_file_writer().get_logdir(), f"{main_tag.replace('/', '_')}_{tag}")
            w = self.all_writers.get(path)
            if w is None:
                w = self.all_writers[path] = EventFileWriter(path, self.max_queue, self.flush_secs,
                                                             self.filename_suffix)
            value = summary_pb2.Summary.Value(tag=main_tag, simple_value=_scalar(v))
            self._add_summary(summary_pb2.Summary(value=[value]), global_step, walltime, w)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """The distribution of ``values`` (bins: "tensorflow" buckets, a NumPy bins rule or a count)."""
        a = _to_numpy(values).astype(np.float64).reshape(-1)
        if a.size == 0:
            raise ValueError("The input has no element.")
        edges = _tf_bucket_limits() if bins == "tensorflow" else bins
        counts, limits = np.histogram(a, bins=edges)
        nz = np.nonzero(counts)[0]  # keep the span of non-empty buckets (plus one empty bucket each side)
        start, end = max(nz[0] - 1, 0), min(nz[-1] + 2, len(counts))
        counts, limits = counts[start:end], limits[start:end + 1]
        hist = summary_pb2.HistogramProto(min=float(a.min()), max=float(a.max()), num=int(a.size),
                                          sum=float(a.sum()), sum_squares=float((a * a).sum()),
                                          bucket_limit=[float(x) for x in limits[1:]],
                                          bucket=[float(c) for c in counts])
        self._add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=hist)]),
                          global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """An image (float in [0, 1] or uint8), laid out as ``dataformats`` (CHW, HWC, HW), stored as PNG."""
        from PIL import Image

        a = _to_numpy(img_tensor)
        fmt = dataformats.upper()
        if a.ndim != len(fmt):
            raise ValueError(f"image of shape {list(a.shape)} does not match dataformats='{dataformats}'")
        if fmt == "HW":
            a = a[:, :, None]
        elif fmt == "CHW":
            a = a.transpose(1, 2, 0)
        elif fmt != "HWC":
            raise ValueError(f"dataformats must be CHW, HWC or HW, got {dataformats!r}")
        if a.dtype != np.uint8:
            a = (np.clip(a.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
        h, w, c = a.shape
        if c == 1:
            img = Image.fromarray(a[:, :, 0], "L")
        elif c in (3, 4):
            img = Image.fromarray(a, "RGB" if c == 3 else "RGBA")
        else:
            raise ValueError(f"an image needs 1, 3 or 4 channels, got {c}")
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        image = summary_pb2.Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=buf.getvalue())
        self._add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=image)]),
                          global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        from tensorboard.plugins.text.summary_v2 import text_pb

        self._add_summary(text_pb(tag, text_string), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The autograd graph of ``model(*input_to_model)``: one node per ``grad_fn``, parameters as inputs."""
        from .graph import graph_def

        inputs = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
        gd = graph_def(model, inputs)
        self._add_event(event_pb2.Event(graph_def=gd.SerializeToString()), None, None)

    def flush(self):
        for w in self.all_writers.values():
            w.flush()

    def close(self):
        for w in self.all_writers.values():
            w.flush()
            w.close()
        self.file_writer = None
        self.all_writers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
