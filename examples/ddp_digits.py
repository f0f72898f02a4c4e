"""Data-parallel training: the same CNN on scikit-learn's 8x8 digits, split over N MPI processes.

Every process (rank) holds a full copy of the model and trains on its own share of each global batch
(``DistributedSampler``); ``DistributedDataParallel`` averages the gradients over the ranks during
``backward()``, so every copy takes the optimizer step that one process would take on the whole global
batch.  Only rank 0 prints and saves.

Stated result: >= 95% test accuracy after 8 epochs with a global batch of 32, on 1, 2 or more ranks.

Run:  ``mpiexec -n 2 python examples/ddp_digits.py``  or  ``pygrad run -n 2 examples/ddp_digits.py``
(``python examples/ddp_digits.py`` alone is a job of one rank).
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

import pygrad as torch
import pygrad.distributed as dist
import pygrad.nn as nn
from pygrad.nn.parallel import DistributedDataParallel as DDP
from pygrad.utils.data import DataLoader, TensorDataset
from pygrad.utils.data.distributed import DistributedSampler


def digits_datasets(n_test=360):
    """Train and test TensorDatasets of (1 x 8 x 8 image, label) from a fixed shuffle (the same on every rank)."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(labels))
    x, y = torch.from_numpy(images[perm]), torch.from_numpy(labels[perm])
    return TensorDataset(x[n_test:], y[n_test:]), TensorDataset(x[:n_test], y[:n_test])


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def main(epochs=8, global_batch=32, seed=0, verbose=False):
    """Train on every rank; returns the test accuracy (the same on every rank)."""
    if not dist.is_initialized():
        dist.init_process_group("mpi")                 # rank and world size come from mpiexec
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(seed)
    train_set, test_set = digits_datasets()
    sampler = DistributedSampler(train_set, shuffle=True, seed=seed)     # this rank's share of each epoch
    loader = DataLoader(train_set, batch_size=global_batch // world, sampler=sampler)
    model = DDP(make_model())                         # copies rank 0's weights to every rank
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                       # a new shuffle each epoch, the same on every rank
        t0, running, seen = time.perf_counter(), 0.0, 0
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()                            # gradients are averaged over the ranks here
            opt.step()                                 # so every replica takes the same step
            running += loss.item() * len(y)
            seen += len(y)
        if verbose and rank == 0:
            print(f"epoch {epoch + 1:2d}  train loss (rank 0's shard) {running / seen:.4f}  "
                  f"{seen * world / (time.perf_counter() - t0):.0f} samples/s on {world} rank(s)")
    model.eval()
    x, y = test_set.tensors
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    if rank == 0 and verbose:
        torch.save(model.module.state_dict(), "ddp_digits.pth")  # the plain model's keys (no "module.")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--global-batch", type=int, default=32)
    args = parser.parse_args()
    acc = main(args.epochs, args.global_batch, verbose=True)
    if dist.get_rank() == 0:
        print(f"result: test accuracy {acc:.2%} on {dist.get_world_size()} rank(s) (target >= 95%)")
    dist.destroy_process_group()
