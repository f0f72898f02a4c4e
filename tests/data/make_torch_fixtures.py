"""Writes the PyTorch-made fixture files of tests/test_interop_checkpoints.py (needs torch; run by hand:
``python tests/data/make_torch_fixtures.py``).  The tests themselves never import torch: the values
these files must hold are recomputed from the same formulas (exact in float32) or stored as literals."""
import os
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def pattern(n, k):
    """Exactly representable float32 values: multiples of 1/64 in [-125/64, 125/64]."""
    return ((torch.arange(n, dtype=torch.int64) * 7 + k * 13) % 251 - 125).to(torch.float32) / 64


class MyModel(nn.Module):  # the model of the seeds' chapter 1.5.1
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 20, 5), nn.ReLU(), nn.Conv2d(20, 10, 3))
        self.avgpool = nn.AdaptiveAvgPool2d((32, 32))
        self.fc = nn.Linear(10 * 32 * 32, 2)


def fill(model):
    with torch.no_grad():
        for k, p in enumerate(model.state_dict().values()):
            p.copy_(pattern(p.numel(), k).reshape(p.shape))
    return model


def main():
    torch.save(fill(MyModel()).state_dict(), os.path.join(HERE, "torch_seeds_model_state_dict.pt"))

    # Adam: two parameters, three steps with fixed gradients.
    w = nn.Parameter(pattern(6, 1).reshape(2, 3).clone())
    b = nn.Parameter(pattern(2, 2).clone())
    opt = torch.optim.Adam([w, b], lr=0.01, betas=(0.8, 0.99), amsgrad=True)
    for step in range(3):
        w.grad = pattern(6, 3 + step).reshape(2, 3)
        b.grad = pattern(2, 7 + step)
        opt.step()
    torch.save({"optimizer": opt.state_dict(), "params": [w.detach(), b.detach()], "epoch": 3},
               os.path.join(HERE, "torch_adam_state_dict.pt"))
    print("adam", {k: [t.tolist() for t in v.values()] for k, v in opt.state_dict()["state"].items()})
    print("params", w.tolist(), b.tolist())
    w.grad, b.grad = pattern(6, 10).reshape(2, 3), pattern(2, 11)
    opt.step()
    print("after a 4th step", w.tolist(), b.tolist())

    # Legacy (pre-1.6) format: views of one storage, several dtypes.
    base = pattern(12, 4).reshape(3, 4)
    torch.save(OrderedDict(base=base, row=base[1], col=base[:, 2], ints=torch.arange(5, dtype=torch.int64) - 2,
                           flags=torch.tensor([True, False, True]), half=torch.tensor([0.5, -2.0], dtype=torch.float16)),
               os.path.join(HERE, "torch_legacy_format.pt"), _use_new_zipfile_serialization=False)

    # A whole-module pickle of torch.nn classes.
    net = fill(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(8, 3), nn.Tanh()))
    torch.save(net, os.path.join(HERE, "torch_whole_module.pt"))
    x = pattern(16, 9).reshape(1, 1, 4, 4)
    print("module output", net(x).tolist())

    # safetensors, written by the safetensors package's PyTorch API.
    from safetensors.torch import save_file

    lin = fill(nn.Linear(4, 3))
    save_file({"linear.weight": lin.weight.detach(), "linear.bias": lin.bias.detach(),
               "steps": torch.arange(5, dtype=torch.int64) * -3, "mask": torch.tensor([[True, False], [False, True]]),
               "half": pattern(6, 2).to(torch.float16).reshape(3, 2), "scalar": torch.tensor(0.25, dtype=torch.float64)},
              os.path.join(HERE, "torch_model.safetensors"), metadata={"format": "pt", "epoch": "3"})


if __name__ == "__main__":
    main()
