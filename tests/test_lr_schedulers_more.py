"""Issue 14: the learning-rate schedulers tutorials and examples use, matched epoch by epoch against PyTorch 2.13.

``EXPECTED[name]`` lists ``[lr, momentum or beta1]`` of the first param group after each of 14
``optimizer.step(); scheduler.step()`` rounds, as PyTorch printed them (rounded to 12 digits).
"""
import json
import warnings

import pytest

import pygrad as torch

S = torch.optim.lr_scheduler
EXPECTED = json.loads('''{"ConstantLR": [[0.05, 0.9], [0.05, 0.9], [0.05, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9]], "LinearLR": [[0.0375, 0.9], [0.05, 0.9], [0.0625, 0.9], [0.075, 0.9], [0.0875, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9]], "PolynomialLR": [[0.0765625, 0.9], [0.05625, 0.9], [0.0390625, 0.9], [0.025, 0.9], [0.0140625, 0.9], [0.00625, 0.9], [0.0015625, 0.9], [0.0, 0.9], [0.0, 0.9], [0.0, 0.9], [0.0, 0.9], [0.0, 0.9], [0.0, 0.9], [0.0, 0.9]], "CosineAnnealingWarmRestarts": [[0.07525, 0.9], [0.02575, 0.9], [0.1, 0.9], [0.093368257487, 0.9], [0.07525, 0.9], [0.0505, 0.9], [0.02575, 0.9], [0.007631742513, 0.9], [0.1, 0.9], [0.098313328401, 0.9], [0.093368257487, 0.9], [0.085501785669, 0.9], [0.07525, 0.9], [0.063311542733, 0.9]], "SequentialLR": [[0.04, 0.9], [0.07, 0.9], [0.1, 0.9], [0.1, 0.9], [0.096193976626, 0.9], [0.085355339059, 0.9], [0.069134171618, 0.9], [0.05, 0.9], [0.030865828382, 0.9], [0.014644660941, 0.9], [0.003806023374, 0.9], [0.0, 0.9], [0.003806023374, 0.9], [0.014644660941, 0.9]], "OneCycleLR": [[0.220724895108, 0.931174490093], [0.626810048299, 0.888873953302], [0.952465056593, 0.854951556605], [0.994415435451, 0.850558458689], [0.950484632013, 0.854951556605], [0.866526469811, 0.863347406409], [0.750001, 0.875], [0.611262021936, 0.888873953302], [0.462637102667, 0.903736504679], [0.317332218499, 0.918267051218], [0.18825834605, 0.931174490093], [0.08688426532, 0.941311938716], [0.022217508253, 0.947778640289], [4e-06, 0.95]], "OneCycleLR_adam3": [[0.031428571429, 0.921428571429], [0.058857142857, 0.892857142857], [0.086285714286, 0.864285714286], [0.086285714286, 0.864285714286], [0.058857142857, 0.892857142857], [0.031428571429, 0.921428571429], [0.004, 0.95], [0.003428628571, 0.95], [0.002857257143, 0.95], [0.002285885714, 0.95], [0.001714514286, 0.95], [0.001143142857, 0.95], [0.000571771429, 0.95], [4e-07, 0.95]]}''')


def _sgd(ps):
    return torch.optim.SGD(ps, lr=0.1, momentum=0.9)


def _adam(ps):
    return torch.optim.Adam(ps, lr=0.01)


CASES = {
    "ConstantLR": (_sgd, lambda o: S.ConstantLR(o, factor=0.5, total_iters=4)),
    "LinearLR": (_sgd, lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=6)),
    "PolynomialLR": (_sgd, lambda o: S.PolynomialLR(o, total_iters=8, power=2.0)),
    "CosineAnnealingWarmRestarts": (_sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)),
    "SequentialLR": (_sgd, lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                                        S.CosineAnnealingLR(o, T_max=8)], milestones=[4])),
    "OneCycleLR": (_sgd, lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=15)),
    "OneCycleLR_adam3": (_adam, lambda o: S.OneCycleLR(o, max_lr=0.1, epochs=3, steps_per_epoch=5, three_phase=True,
                                                       anneal_strategy="linear")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_pytorch(name):
    make_opt, make_sched = CASES[name]
    p = torch.nn.Parameter(torch.ones(2))
    opt = make_opt([p])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make_sched(opt)
        got = []
        for _ in range(14):
            opt.step()
            sched.step()
            g = opt.param_groups[0]
            got.append([round(g["lr"], 12), round(g.get("momentum", g.get("betas", (0,))[0]), 12)])
    assert got == EXPECTED[name]
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_onecycle_errors():
    opt = _sgd([torch.nn.Parameter(torch.ones(1))])
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(opt, max_lr=1.0)
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    opt.step()
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        s.step()
