"""pygrad.utils.data: datasets, samplers, default_collate and the DataLoader (with worker processes)."""
import collections
import os

import numpy as np
import pytest

import pygrad as torch
from pygrad.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                               RandomSampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                               WeightedRandomSampler, default_collate, get_worker_info, random_split)


def make_ds(n=10):
    return TensorDataset(torch.arange(n * 2, dtype=torch.float32).reshape(n, 2), torch.arange(n))


def labels(loader):
    return [b[1].tolist() for b in loader]


# -- module-level datasets, so worker processes can use them under any start method --------------------
class Squares(Dataset):
    def __len__(self):
        return 9

    def __getitem__(self, i):
        info = get_worker_info()
        return {"x": np.full(2, i, dtype=np.float32), "y": i * i, "worker": -1 if info is None else info.id,
                "pid": os.getpid()}


class Failing(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 4:
            raise KeyError("sample 4 is broken")
        return i


class Stream(IterableDataset):
    """0..n-1; with workers, worker k yields k, k + num_workers, ..."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


_init_calls = []


def record_init(worker_id):
    _init_calls.append(worker_id)  # runs in the worker: the main process's list stays empty
    os.environ["PYGRAD_TEST_WORKER"] = str(worker_id)


class EnvDataset(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ.get("PYGRAD_TEST_WORKER", "-1"))


# -- datasets ------------------------------------------------------------------------------------------
def test_tensor_dataset():
    ds = make_ds(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(torch.zeros(3), torch.zeros(4))


def test_subset_concat_chain():
    ds = make_ds(6)
    sub = Subset(ds, [5, 0, 2])
    assert len(sub) == 3 and sub[0][1].item() == 5 and sub[2][1].item() == 2
    cat = ConcatDataset([Subset(ds, [0, 1]), ds])
    assert len(cat) == 8 and cat[2][1].item() == 0 and cat[-1][1].item() == 5 and cat.cumulative_sizes == [2, 8]
    assert len(sub + ds) == 9
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-9]
    assert list(ChainDataset([Stream(2), Stream(3)])) == [0, 1, 0, 1, 2]
    assert list(Stream(2) + Stream(1)) == [0, 1, 0]


def test_random_split():
    ds = make_ds(10)
    parts = random_split(ds, [7, 3], generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [7, 3]
    idx = [i for p in parts for i in p.indices]
    assert sorted(idx) == list(range(10))
    again = random_split(ds, [7, 3], generator=torch.Generator().manual_seed(1))
    assert [p.indices for p in again] == [p.indices for p in parts]
    fr = random_split(range(11), [0.5, 0.3, 0.2], generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in fr] == [6, 3, 2]  # floor gives 5, 3, 2; the remainder goes round-robin
    assert sorted(fr[0].indices + fr[1].indices + fr[2].indices) == list(range(11))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 4])


# -- samplers -----------------------------------------------------------------------------------------
def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    bs = BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(range(7), batch_size=3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 1)


def test_random_sampler():
    g = torch.Generator().manual_seed(0)
    a = list(RandomSampler(range(20), generator=g))
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert list(RandomSampler(range(20), generator=torch.Generator().manual_seed(0))) == a
    b = list(RandomSampler(range(5), num_samples=12, generator=g))
    assert len(b) == 12 and sorted(b[:5]) == list(range(5)) and sorted(b[5:10]) == list(range(5))
    c = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(c) == 50 and set(c) <= {0, 1, 2}
    torch.manual_seed(7)
    d1 = list(RandomSampler(range(10)))
    torch.manual_seed(7)
    assert list(RandomSampler(range(10))) == d1  # no generator: drawn from the default one
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_and_weighted_sampler():
    s = list(SubsetRandomSampler([10, 20, 30, 40], generator=torch.Generator().manual_seed(3)))
    assert sorted(s) == [10, 20, 30, 40]
    w = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=200, generator=torch.Generator().manual_seed(0))
    draws = np.array(list(w))
    assert len(w) == 200 and set(draws) == {1, 3}
    assert 0.6 < (draws == 3).mean() < 0.9
    nr = list(WeightedRandomSampler([1, 1, 1, 1, 5], 5, replacement=False, generator=torch.Generator()))
    assert sorted(nr) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)


# -- collation -----------------------------------------------------------------------------------------
def test_default_collate_structures():
    Point = collections.namedtuple("Point", "x y")
    batch = default_collate([(1, 2.0, "a", True, Point(1, 2)), (3, 4.0, "b", False, Point(3, 4))])
    assert isinstance(batch, list) and len(batch) == 5  # tuples become lists, as in PyTorch
    assert batch[0].dtype == torch.int64 and batch[0].tolist() == [1, 3]
    assert batch[1].dtype == torch.float64 and batch[1].tolist() == [2.0, 4.0]
    assert list(batch[2]) == ["a", "b"]
    assert batch[3].dtype == torch.bool and batch[3].tolist() == [True, False]
    assert isinstance(batch[4], Point) and batch[4].y.tolist() == [2, 4]
    d = default_collate([{"x": np.ones(2, dtype=np.float32), "y": [1, 2]},
                         {"x": np.zeros(2, dtype=np.float32), "y": [3, 4]}])
    assert d["x"].dtype == torch.float32 and d["x"].shape == (2, 2) and d["x"].tolist() == [[1, 1], [0, 0]]
    assert [t.tolist() for t in d["y"]] == [[1, 3], [2, 4]]
    od = default_collate([collections.OrderedDict(a=torch.ones(2, 3)), collections.OrderedDict(a=torch.zeros(2, 3))])
    assert isinstance(od, collections.OrderedDict) and od["a"].shape == (2, 2, 3)
    assert default_collate([np.int32(1), np.int32(5)]).dtype == torch.int32
    assert default_collate([np.float64(1.5), np.float64(2)]).dtype == torch.float64


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([torch.zeros(2), torch.zeros(3)])


# -- DataLoader ---------------------------------------------------------------------------------------
def test_loader_order_len_and_drop_last():
    ds = make_ds(10)
    dl = DataLoader(ds, batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == torch.float32
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [x.tolist() for x, _ in DataLoader(make_ds(2))] == [[[0.0, 1.0]], [[2.0, 3.0]]]  # batch_size=1


def test_loader_without_batching_and_custom_collate():
    dl = DataLoader(Squares(), batch_size=None)
    first = next(iter(dl))
    assert first["x"].tolist() == [0.0, 0.0] and first["y"] == 0 and len(dl) == 9
    dl = DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(dl) == [1, 5, 4]
    dl = DataLoader(range(6), batch_sampler=[[5, 0], [1, 2, 3]])
    assert [b.tolist() for b in dl] == [[5, 0], [1, 2, 3]]


def test_shuffle_reproducible_with_generator():
    ds = make_ds(20)
    runs = [labels(DataLoader(ds, batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(42)))
            for _ in range(2)]
    assert runs[0] == runs[1]
    flat = [i for b in runs[0] for i in b]
    assert sorted(flat) == list(range(20)) and flat != list(range(20))
    assert [len(b) for b in runs[0]] == [6, 6, 6, 2]
    g = torch.Generator().manual_seed(42)
    dl = DataLoader(ds, batch_size=6, shuffle=True, generator=g)
    assert labels(dl) == runs[0] and labels(dl) != runs[0]  # the next epoch gets a new order
    other = labels(DataLoader(ds, batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(43)))
    assert other != runs[0]


def test_loader_argument_errors():
    ds = make_ds(4)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    dl = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        dl.batch_size = 3


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    dl = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in dl] == [[0, 1, 2], [3, 4, 5]] and len(dl) == 2


# -- worker processes ---------------------------------------------------------------------------------
def test_workers_give_the_same_batches_as_main_process():
    ds = make_ds(23)
    kw = dict(batch_size=4, shuffle=True)
    main = labels(DataLoader(ds, generator=torch.Generator().manual_seed(5), **kw))
    workers = labels(DataLoader(ds, num_workers=2, generator=torch.Generator().manual_seed(5), **kw))
    assert workers == main
    xs = [b[0].tolist() for b in DataLoader(ds, batch_size=5, num_workers=2)]
    assert xs == [b[0].tolist() for b in DataLoader(ds, batch_size=5)]


def test_workers_really_are_processes_and_collate_dicts():
    batches = list(DataLoader(Squares(), batch_size=2, num_workers=2))
    assert [b["y"].tolist() for b in batches] == [[0, 1], [4, 9], [16, 25], [36, 49], [64]]
    assert [b["worker"].tolist()[0] for b in batches] == [0, 1, 0, 1, 0]  # round-robin
    pids = {p for b in batches for p in b["pid"].tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert batches[1]["x"].tolist() == [[2.0, 2.0], [3.0, 3.0]]


def test_worker_init_fn_runs_in_each_worker():
    got = [b.tolist() for b in DataLoader(EnvDataset(), batch_size=1, num_workers=2, worker_init_fn=record_init)]
    assert got == [[0], [1], [0], [1]]
    assert _init_calls == [] and "PYGRAD_TEST_WORKER" not in os.environ


def test_worker_error_is_reraised_in_main_process():
    dl = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(dl)
    assert next(it).tolist() == [0, 1]
    assert next(it).tolist() == [2, 3]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        next(it)


def test_iterable_dataset_with_workers():
    got = [b.tolist() for b in DataLoader(Stream(11), batch_size=2, num_workers=2)]
    assert got == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9]]  # PyTorch's interleaving


def test_persistent_workers_reused_across_epochs():
    dl = DataLoader(make_ds(10), batch_size=3, num_workers=2, persistent_workers=True)
    first = labels(dl)
    workers = dl._iterator._workers
    for i, _ in enumerate(dl):  # stop early: leftovers are drained at the next epoch
        if i == 1:
            break
    assert labels(dl) == first == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert dl._iterator._workers is workers and all(w.is_alive() for w in workers)
    dl._iterator._shutdown_workers()
    assert not any(w.is_alive() for w in workers)


def test_abandoned_iterator_in_a_reference_cycle_stops_its_workers():
    import gc
    import time

    it = iter(DataLoader(make_ds(10), batch_size=2, num_workers=2))
    next(it)
    workers = it._workers
    it.cycle = it  # collected by the cycle collector, after the queues' own finalizers may have run
    del it
    gc.collect()
    deadline = time.time() + 3
    while any(w.is_alive() for w in workers) and time.time() < deadline:
        time.sleep(0.02)
    assert not any(w.is_alive() for w in workers)
