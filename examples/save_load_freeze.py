"""Saving, loading, freezing and fine-tuning: reuse a trained network for a new task.

1. Train a small MLP to classify 8x8 digits (10 classes): a "feature" part and a "head".
2. Save it two ways with ``pygrad.save``:
   - the ``state_dict`` (an OrderedDict of name -> tensor): the recommended way.  Loading it needs
     the model's code to build the model first, then ``model.load_state_dict(pygrad.load(path))``;
   - the whole model object (pickled).  Loading runs unpickling code named by the file, so
     ``pygrad.load`` refuses it by default (``weights_only=True``) and you must opt in with
     ``weights_only=False``, only for files you trust.
   Both reloaded models must give exactly the original outputs.
3. Transfer learning: keep the trained feature layers, freeze them (``requires_grad_(False)``),
   put a new head on for a new task (is the digit odd or even?) and train only the head.
   The frozen weights get no gradient and the optimizer never sees them: they stay bit-for-bit equal.

Stated result: both reloaded models reproduce the original outputs exactly, the frozen feature
weights are unchanged after fine-tuning, and the fine-tuned model reaches >= 95% test accuracy on
odd-vs-even.

Run: ``python examples/save_load_freeze.py [--epochs 8] [--device cpu|opencl]``.
"""
import argparse
import os
import pickle
import tempfile

import numpy as np
from sklearn.datasets import load_digits

import pygrad as torch
import pygrad.nn as nn
from pygrad import optim
from pygrad.utils.data import DataLoader, TensorDataset


def digits_tensors(n_test=360):
    """Flattened images (N x 64, in [0, 1]) and labels, split into train and test with a fixed shuffle."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32).reshape(-1, 64)
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))
    x, y = torch.from_numpy(x[perm]), torch.from_numpy(y[perm])
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def build_model(num_classes=10):
    """model[0] is the feature extractor (64 -> 32 features), model[1] the classification head."""
    features = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
    return nn.Sequential(features, nn.Linear(32, num_classes))


def train(model, x, y, epochs, device, lr=3e-3):
    """Adam on the parameters that require grad (the frozen ones are left out), mini-batches of 32."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = optim.Adam(trainable, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True):
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return loss.item()


def accuracy(model, x, y, device):
    model.eval()
    with torch.no_grad():
        return (model(x.to(device)).argmax(dim=1) == y.to(device)).float().mean().item()


def main(epochs=8, device="cpu", seed=0, verbose=False):
    """Run the whole story; return the fine-tuned model's odd-vs-even test accuracy."""
    log = print if verbose else (lambda *args: None)
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits_tensors()

    # -- 1. train the original model on the 10 digit classes ---------------------------------------
    model = build_model().to(device)
    train(model, x_train, y_train, epochs, device)
    log(f"1. digit classifier: test accuracy {accuracy(model, x_test, y_test, device):.2%}")

    # -- 2. save and load, both ways ---------------------------------------------------------------
    with torch.no_grad():
        reference = model(x_test.to(device))
    with tempfile.TemporaryDirectory() as folder:
        weights_path = os.path.join(folder, "digits_weights.pt")
        model_path = os.path.join(folder, "digits_model.pt")
        torch.save(model.state_dict(), weights_path)   # just the tensors, keyed "0.0.weight", ...
        torch.save(model, model_path)                  # the whole object, pickled

        # (a) state_dict: build the architecture with code, then pour the weights in
        restored = build_model()
        restored.load_state_dict(torch.load(weights_path))        # weights_only=True by default: safe
        restored = restored.to(device).eval()

        # (b) whole model: the default, weights_only=True, refuses to unpickle a Module...
        try:
            torch.load(model_path)
            raise AssertionError("weights_only=True should refuse to load a whole Module")
        except pickle.UnpicklingError as e:
            log(f"2. torch.load(model_path) refused: {str(e).splitlines()[0][:90]}...")
        # ...so opt in, for a file you trust
        whole = torch.load(model_path, weights_only=False).to(device).eval()

    log(f"   saved keys: {list(model.state_dict().keys())}")
    with torch.no_grad():
        same_a = torch.equal(restored(x_test.to(device)), reference)
        same_b = torch.equal(whole(x_test.to(device)), reference)
    log(f"   reloaded from state_dict gives identical outputs: {same_a}; whole model: {same_b}")
    assert same_a and same_b, "a reloaded model does not reproduce the original outputs"

    # -- 3. freeze the features, new head, fine-tune on odd vs even --------------------------------
    features = restored[0]
    features.requires_grad_(False)                     # every parameter of the feature extractor
    snapshot = {k: v.clone() for k, v in features.state_dict().items()}
    # a fresh head, trainable by default; parity is not a linear function of the digit features, so
    # the new head gets a hidden layer of its own
    restored[1] = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)).to(device)
    n_trainable = sum(p.numel() for p in restored.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in restored.parameters())
    log(f"3. frozen features; trainable parameters: {n_trainable} of {n_total}")

    parity_train, parity_test = y_train % 2, y_test % 2  # the new task: 1 = odd digit
    train(restored, x_train, parity_train, epochs, device)
    unchanged = all(torch.equal(features.state_dict()[k], v) for k, v in snapshot.items())
    no_grads = all(p.grad is None for p in features.parameters())
    log(f"   frozen weights unchanged: {unchanged}; they never received a gradient: {no_grads}")
    assert unchanged and no_grads, "the frozen feature weights changed"

    acc = accuracy(restored, x_test, parity_test, device)
    log(f"   odd-vs-even with the frozen features and a new head: test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--device", choices=["cpu", "opencl"], default="cpu")
    args = parser.parse_args()
    acc = main(args.epochs, args.device, verbose=True)
    print(f"result: reloads identical, frozen weights unchanged, odd-vs-even accuracy {acc:.2%} (target >= 95%)")
