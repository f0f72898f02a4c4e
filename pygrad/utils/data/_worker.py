"""What runs inside a DataLoader worker process, and the pieces both sides of the queues share.

A worker loops: take ``(task_id, indices)`` from its index queue, fetch and collate those samples,
put ``(task_id, batch)`` on the shared result queue.  The main process numbers tasks in the order
the sampler produced them and puts results back in that order, so workers may finish in any order.
Errors travel back as an ``ExceptionWrapper`` and are raised again in the main process.
"""
import os
import queue
import random
import sys
import traceback

import numpy as np

from ...random import manual_seed

_STATUS_CHECK_INTERVAL = 5.0  # seconds the main process waits for a result before checking on the workers
_POLL_INTERVAL = 0.1  # seconds an idle worker waits for a task before checking whether it should stop
_worker_info = None


class WorkerInfo:
    """Inside a worker: ``id``, ``num_workers``, ``seed`` and this worker's copy of ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, dataset={self.dataset!r})"


def get_worker_info():
    """This worker's ``WorkerInfo`` in a DataLoader worker process; ``None`` in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, as picklable text, to be raised again in the main process."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _IterableDatasetStopIteration:
    """A worker's answer when its copy of an IterableDataset has run out."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch (they restart their dataset iterator)."""


# -- fetchers: turn what the sampler produced into one collated batch ---------------------------------
class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.collate_fn(self.dataset.__getitems__(index))
        return self.collate_fn([self.dataset[i] for i in index])


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        """``index`` is a list of ``None`` as long as the batch: take that many samples from the stream."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if len(data) == 0 or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _numpy_worker_seed(base_seed, worker_id):
    """PyTorch's NumPy seed for a worker: four 32-bit words hashed and mixed from (worker_id, base_seed)
    in the manner of NumPy's SeedSequence, so ``np.random`` in a worker draws what it draws in PyTorch."""
    m32 = 0xFFFFFFFF
    mult_a, mix_l, mix_r = 0x931E8875, 0xCA01F9DD, 0x4973F715
    const = [0x43B0D7E5]

    def hashmix(v):
        v = (v ^ const[0]) & m32
        const[0] = (const[0] * mult_a) & m32
        v = (v * const[0]) & m32
        return (v ^ (v >> 16)) & m32

    def mix(x, y):
        r = ((mix_l * x) - (mix_r * y)) & m32
        return (r ^ (r >> 16)) & m32

    pool = [hashmix(v) for v in (worker_id, base_seed & m32, base_seed >> 32, 0)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    out, cb = [], 0x8B51F9DD
    for v in pool:
        v = (v ^ cb) & m32
        cb = (cb * 0x58F38DED) & m32
        v = (v * cb) & m32
        out.append((v ^ (v >> 16)) & m32)
    return out


def _seed_worker(seed, worker_id):
    """Seed a worker's random streams as PyTorch does: Python's and pygrad's with ``base_seed + worker_id``,
    NumPy's with a hash of (base_seed, worker_id)."""
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(_numpy_worker_seed(seed - worker_id, worker_id))


def worker_loop(iterable, dataset, auto_collation, collate_fn, drop_last, index_queue, result_queue, done_event,
                base_seed, init_fn, worker_id, num_workers, parent_pid):
    """The body of a worker process (see the module docstring).

    It stops on a ``None`` task, when ``done_event`` is set (the main process is shutting the
    workers down), or when the main process has died.
    """
    global _worker_info
    seed = base_seed + worker_id
    _seed_worker(seed, worker_id)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    where = f"in DataLoader worker process {worker_id}"
    init_exception = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_exception = ExceptionWrapper(where=where)
    iteration_end = False
    try:
        while True:
            try:
                r = index_queue.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent_pid:
                    break
                continue
            if r is None or done_event.is_set():
                break
            if isinstance(r, _ResumeIteration):
                result_queue.put((r, None))
                iteration_end = False
                fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if iteration_end:
                continue
            task_id, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data, iteration_end = _IterableDatasetStopIteration(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where=where)
            result_queue.put((task_id, data))
            del data
    except KeyboardInterrupt:
        pass
    result_queue.cancel_join_thread()  # exit without waiting for the main process to read everything
    result_queue.close()
