"""Issue 14, optimizers PyTorch programs use: Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS.

Each runs the same problem as PyTorch 2.13 did (a tanh regression, 12 steps from fixed weights) and must
land on PyTorch's weights, stored below as literals.  LBFGS is compared in float64: its line search
magnifies float32 rounding differences of dot products (summation order) into a different path.
"""
import numpy as np
import pytest

import pygrad as torch

X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-1.0, 2.0, 0.5], [0.0, -0.5, 1.0]]
Y = [[1.0, -1.0], [0.5, 2.0], [-1.5, 0.0], [2.0, 1.0]]
W0 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
B0 = [0.05, -0.05]
CASES = {
    "Adadelta": dict(), "Adadelta_wd": dict(lr=0.5, rho=0.8, weight_decay=0.1),
    "Adamax": dict(), "Adamax_wd": dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05),
    "NAdam": dict(), "NAdam_wd": dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    "NAdamW": dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": dict(), "RAdam_lr": dict(lr=0.05, weight_decay=0.01),
    "RAdamW": dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    "ASGD": dict(), "ASGD_t0": dict(lr=0.05, t0=3, lambd=0.01, weight_decay=0.01),
    "Rprop": dict(), "Rprop_b": dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.2)),
    "Adamax_max": dict(maximize=True),
}
EXPECTED = {  # PyTorch 2.13 CPU, after 12 steps (float32): [weight, bias]
    'Adadelta': [[[0.14118622243404388, -0.15792210400104523], [0.25866374373435974, 0.44331082701683044], [-0.4566745162010193, 0.5585861206054688]], [0.09755168855190277, -0.0018064789474010468]],
    'Adadelta_wd': [[[0.11572317779064178, -0.1841401904821396], [0.2842458486557007, 0.4160415232181549], [-0.4839927554130554, 0.5842320919036865]], [0.06660784035921097, -0.033295564353466034]],
    'Adamax': [[[0.12394461035728455, -0.17624811828136444], [0.276091992855072, 0.4235467314720154], [-0.4764702618122101, 0.5761168003082275]], [0.07277663052082062, -0.0273582823574543]],
    'Adamax_wd': [[[0.2195168137550354, -0.08253039419651031], [0.18095844984054565, 0.5144779682159424], [-0.3868742287158966, 0.4810701012611389]], [0.15514644980430603, 0.05680673196911812]],
    'NAdam': [[[0.11965618282556534, -0.18022851645946503], [0.28032225370407104, 0.41990581154823303], [-0.4800940454006195, 0.5803087949752808]], [0.07039174437522888, -0.029505595564842224]],
    'NAdam_wd': [[[0.19896143674850464, -0.09964229166507721], [0.200786754488945, 0.5037369728088379], [-0.39604809880256653, 0.5008678436279297]], [0.16151785850524902, 0.060053080320358276]],
    'NAdamW': [[[0.1974751353263855, -0.09757774323225021], [0.19763246178627014, 0.4979884922504425], [-0.390254944562912, 0.4941086173057556]], [0.1606699675321579, 0.06060957908630371]],
    'RAdam': [[[0.10446181893348694, -0.19264860451221466], [0.28512001037597656, 0.4024423062801361], [-0.4916709065437317, 0.5887761116027832]], [0.052003163844347, -0.048657096922397614]],
    'RAdam_lr': [[[0.26815491914749146, 0.19502758979797363], [-0.3543049991130829, 0.4671741724014282], [-0.0016165078850463033, 0.06783498823642731]], [0.23310674726963043, 0.056703921407461166]],
    'RAdamW': [[[0.255540132522583, 0.18983663618564606], [-0.34186914563179016, 0.43980929255485535], [0.0044330754317343235, 0.05804535374045372]], [0.22287897765636444, 0.05536796897649765]],
    'ASGD': [[[0.1902647465467453, -0.008498691022396088], [-0.03213206306099892, 0.44337794184684753], [-0.23871086537837982, 0.3358258605003357]], [0.14641118049621582, -0.0035711717791855335]],
    'ASGD_t0': [[[0.1870688945055008, 0.40014246106147766], [-0.4174302816390991, 0.2669597268104553], [0.09228143841028214, -0.09367275983095169]], [0.2683088779449463, 0.12053047865629196]],
    'Rprop': [[[0.49580514430999756, 0.19580510258674622], [-0.0958050787448883, 0.7958051562309265], [-0.10419490188360214, 0.20419490337371826]], [0.4458051323890686, 0.3458051085472107]],
    'Rprop_b': [[[0.5225000381469727, 0.5212500095367432], [-0.6212500333786011, 0.9392500519752502], [0.7562500238418579, -0.03174999728798866]], [0.37809765338897705, 0.4361109137535095]],
    'Adamax_max': [[[0.0759507268667221, -0.22373054921627045], [0.32398882508277893, 0.3766040802001953], [-0.5234264135360718, 0.623941957950592]], [0.027896679937839508, -0.07163387537002563]],
}
LBFGS_EXPECTED = {  # float64: weight, bias, the three step() losses, func_evals, n_iter
    'LBFGS_None': [[[0.2842142332675429, 0.14739323109896457], [-0.9293180947949715, -0.441486154756287], [0.8912334521145927, -1.3978516601107769]], [0.7261135221757686, 1.7285561487381094], [4.898895041458547, 0.39375901483506026, 0.14988961299820383], 24, 24],
    'LBFGS_strong_wolfe': [[[-1.3349046362812422, 0.40944534474094063], [-1.8261463317160171, -0.4187593459293082], [-1.2150219307893044, -1.6407575860422332]], [1.796368456164834, 2.053216126610155], [4.898895041458547, 0.1547500079612536, 0.0991466583750834], 32, 24],
}


def _problem(device, dtype=torch.float32):
    w = torch.tensor(W0, dtype=dtype, device=device, requires_grad=True)
    b = torch.tensor(B0, dtype=dtype, device=device, requires_grad=True)
    x, y = torch.tensor(X, dtype=dtype, device=device), torch.tensor(Y, dtype=dtype, device=device)
    return w, b, lambda: ((x @ w + b).tanh() * 2 - y).pow(2).mean()


@pytest.mark.parametrize("name", list(CASES))
def test_matches_pytorch_step_by_step(name):
    w, b, loss_fn = _problem(None)
    cls = getattr(torch.optim, name.split("_")[0].replace("NAdamW", "NAdam").replace("RAdamW", "RAdam"))
    opt = cls([w, b], **CASES[name])
    for _ in range(12):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    ew, eb = EXPECTED[name]
    np.testing.assert_allclose(w.detach().cpu().numpy(), ew, rtol=2e-6, atol=2e-7)
    np.testing.assert_allclose(b.detach().cpu().numpy(), eb, rtol=2e-6, atol=2e-7)
    # state survives a state_dict round trip and the next step is the same as without it
    sd = opt.state_dict()
    opt2 = cls([w, b], **CASES[name])
    opt2.load_state_dict(sd)
    assert set(opt2.state_dict()["state"][0]) == set(sd["state"][0])


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_pytorch(line_search):
    w, b, loss_fn = _problem(None, torch.float64)
    opt = torch.optim.LBFGS([w, b], lr=1 if line_search else 0.5, max_iter=8, history_size=5,
                            line_search_fn=line_search)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(3)]
    ew, eb, elosses, evals, n_iter = LBFGS_EXPECTED[f"LBFGS_{line_search}"]
    np.testing.assert_allclose(losses, elosses, rtol=1e-9)
    np.testing.assert_allclose(w.detach().numpy(), ew, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b.detach().numpy(), eb, rtol=1e-6, atol=1e-8)
    assert opt.state[w]["func_evals"] == evals and opt.state[w]["n_iter"] == n_iter


def test_lbfgs_regression_converges(device):
    """An LBFGS least-squares fit (the pytorch/examples regression style) reaches the exact solution."""
    torch.manual_seed(0)
    x = torch.randn(64, 4, device=device)
    true_w = torch.tensor([[0.5], [-1.0], [2.0], [0.25]], device=device)
    y = x @ true_w + 0.3
    model = torch.nn.Linear(4, 1).to(device)
    opt = torch.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    assert float(closure()) < 1e-8
    np.testing.assert_allclose(model.weight.detach().cpu().numpy().ravel(), [0.5, -1.0, 2.0, 0.25], atol=1e-4)
    np.testing.assert_allclose(model.bias.item(), 0.3, atol=1e-4)


def test_device_runs(device):
    for name in ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]:
        w, b, loss_fn = _problem(device)
        opt = getattr(torch.optim, name)([w, b])
        for _ in range(3):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        assert w.device.type == torch.device(device).type


def test_errors():
    p = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        torch.optim.Adamax(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid rho value: 1.5"):
        torch.optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="Invalid eta values: 1.5, 1.2"):
        torch.optim.Rprop(p, etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        torch.optim.LBFGS([{"params": p}, {"params": [torch.nn.Parameter(torch.ones(1))]}])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt = torch.optim.LBFGS(p, line_search_fn="armijo")

        def closure():
            opt.zero_grad()
            loss = (p[0] * p[0]).sum()
            loss.backward()
            return loss
        opt.step(closure)
