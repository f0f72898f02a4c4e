"""Optimizers and LR schedulers: every update rule against a NumPy re-implementation of PyTorch's
formulas, parameter groups, zero_grad, state_dict round trips, and scheduler sequences recorded
from PyTorch 2.x."""
import copy
import math
import warnings

import numpy as np
import pytest

import pygrad as torch
from pygrad import optim
from pygrad.optim import lr_scheduler

STEPS = 5


def grad_of(p, step):
    """A deterministic gradient that depends on the current parameter values (so errors compound)."""
    return np.sin(3 * p) + 0.1 * (step + 1)


# -- NumPy references of PyTorch's update rules (float64) ----------------------------------------------
def ref_sgd(p, g, st, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        st["buf"] = g.copy() if "buf" not in st else momentum * st["buf"] + (1 - dampening) * g
        g = g + momentum * st["buf"] if nesterov else st["buf"]
    return p - lr * g


def ref_adam(p, g, st, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    st.setdefault("m", np.zeros_like(p)), st.setdefault("v", np.zeros_like(p)), st.setdefault("vmax", np.zeros_like(p))
    st["t"] = t = st.get("t", 0) + 1
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    st["m"] = b1 * st["m"] + (1 - b1) * g
    st["v"] = b2 * st["v"] + (1 - b2) * g * g
    v = st["v"]
    if amsgrad:
        st["vmax"] = v = np.maximum(st["vmax"], st["v"])
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
    return p - lr / (1 - b1 ** t) * st["m"] / denom


def ref_rmsprop(p, g, st, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
    if weight_decay:
        g = g + weight_decay * p
    st["v"] = alpha * st.get("v", 0) + (1 - alpha) * g * g
    if centered:
        st["gavg"] = alpha * st.get("gavg", 0) + (1 - alpha) * g
        avg = np.sqrt(st["v"] - st["gavg"] ** 2) + eps
    else:
        avg = np.sqrt(st["v"]) + eps
    if momentum > 0:
        st["buf"] = momentum * st.get("buf", 0) + g / avg
        return p - lr * st["buf"]
    return p - lr * g / avg


def ref_adagrad(p, g, st, lr, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
    st["t"] = t = st.get("t", 0) + 1
    if weight_decay:
        g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    st["sum"] = st.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(st["sum"]) + eps)


CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1, maximize=True)),
    (optim.Adam, ref_adam, dict(lr=0.01)),
    (optim.Adam, ref_adam, dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)),
    (optim.Adam, ref_adam, dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
]


def _ref_kwargs(cls, kw):
    kw = dict(kw)
    if cls is optim.AdamW:
        kw["decoupled"] = True
        kw.setdefault("weight_decay", 1e-2)
    return kw


def _run(cls, ref, kw, dtype=np.float64, steps=STEPS):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [torch.tensor(a.astype(dtype), requires_grad=True) for a in init]
    opt = cls(params, **kw)
    ref_p, ref_st = [a.astype(np.float64) for a in init], [{}, {}]
    for step in range(steps):
        for p in params:
            p.grad = torch.tensor(grad_of(p.detach().cpu().numpy().astype(np.float64), step).astype(dtype))
        opt.step()
        for i in range(2):
            g = grad_of(ref_p[i], step)
            ref_p[i] = ref(ref_p[i], g, ref_st[i], **_ref_kwargs(cls, kw))
    return [p.detach().cpu().numpy() for p in params], ref_p


@pytest.mark.parametrize("cls,ref,kw", CASES + [
    (optim.AdamW, ref_adam, dict(lr=0.01)),
    (optim.AdamW, ref_adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
], ids=lambda v: v.__name__ if hasattr(v, "__name__") else str(v))
def test_update_rule_matches_reference(cls, ref, kw):
    got, want = _run(cls, ref, kw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,ref,kw", [CASES[2], CASES[6], CASES[9], CASES[11]],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_float32_parameters_stay_float32_and_close(cls, ref, kw):
    got, want = _run(cls, ref, kw, dtype=np.float32)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_training_with_backward_and_closure():
    w = torch.tensor([2.0, -3.0], dtype=torch.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    ref_w, st = np.array([2.0, -3.0]), {}

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    for _ in range(4):
        loss = opt.step(closure)
        assert isinstance(loss, torch.Tensor) and not w.grad.requires_grad
        ref_w = ref_sgd(ref_w, 2 * ref_w, st, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(w.detach().cpu().numpy(), ref_w, rtol=1e-12)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_param_groups_with_different_lr():
    a = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"][0] is b
    a.grad, b.grad = torch.ones(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    opt.step()
    np.testing.assert_allclose(a.detach().cpu().numpy(), [0.9, 1.9])
    np.testing.assert_allclose(b.detach().cpu().numpy(), [2.5])
    c = torch.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["momentum"] == 0


def test_params_without_grad_are_skipped():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert b.tolist() == [1.0, 1.0] and a.tolist() != [1.0, 1.0]
    assert b not in opt.state and set(opt.state[a]) == {"step", "exp_avg", "exp_avg_sq"}
    assert opt.state[a]["step"].item() == 1.0


def test_zero_grad():
    w = torch.ones(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and w.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # no grad at all: nothing to do


def test_state_dict_format():
    a, b, c = (torch.ones(2, requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):
        p.grad = torch.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2] and set(sd["state"][0]) == {"momentum_buffer"}
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["nesterov"] is False
    assert set(sd["param_groups"][0]) == {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
                                          "foreach", "differentiable", "fused", "params"}


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                    (optim.Adam, dict(lr=0.01, amsgrad=True)), (optim.AdamW, dict(lr=0.01)),
                                    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
                                    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01))],
                         ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_state_dict_round_trip_continues_identically(cls, kw):
    def make(values):
        ps = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
        return ps, cls([{"params": ps[:1]}, {"params": ps[1:], "lr": kw["lr"] / 2}], **kw)

    def run(ps, opt, start, n):
        for step in range(start, start + n):
            for p in ps:
                p.grad = torch.tensor(grad_of(p.detach().cpu().numpy(), step))
            opt.step()

    ps, opt = make([[1.0, -2.0], [0.5, 0.25, 3.0]])
    run(ps, opt, 0, 3)
    saved = copy.deepcopy(opt.state_dict())
    ps2, opt2 = make([p.tolist() for p in ps])
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == kw["lr"] / 2 and opt2.param_groups[0]["params"][0] is ps2[0]
    run(ps, opt, 3, 3)
    run(ps2, opt2, 3, 3)
    for p, q in zip(ps, ps2):
        assert p.tolist() == q.tolist()


def test_load_state_dict_checks_group_sizes():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)


def test_constructor_errors():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid alpha"):
        optim.RMSprop([w], alpha=-0.1)
    with pytest.raises(ValueError, match="Invalid lr_decay"):
        optim.Adagrad([w], lr_decay=-0.1)


def test_defaults_match_pytorch():
    w = torch.ones(1, requires_grad=True)
    assert optim.SGD([w]).defaults["lr"] == 1e-3
    assert optim.Adam([w]).defaults["betas"] == (0.9, 0.999)
    assert optim.AdamW([w]).defaults["weight_decay"] == 1e-2
    assert optim.RMSprop([w]).defaults["alpha"] == 0.99
    assert optim.Adagrad([w]).defaults["eps"] == 1e-10
    assert "Adam (" in repr(optim.Adam([w]))


# -- LR schedulers: expected values recorded from torch.optim.lr_scheduler ------------------------------
def _schedule(make, n=12, metrics=None):
    w, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    sched = make(opt)
    out = [sched.get_last_lr()]
    for i in range(n):
        opt.step()
        sched.step(metrics[i]) if metrics else sched.step()
        out.append(sched.get_last_lr())
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return out


def _assert_lrs(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-12, abs=0)


def test_step_lr():
    got = _schedule(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5))
    lr0 = [0.1 * 0.5 ** (e // 3) for e in range(13)]
    _assert_lrs(got, [[x, 5 * x] for x in lr0])


def test_multistep_lr_with_repeated_milestone():
    got = _schedule(lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.1))
    _assert_lrs(got, [[0.1, 0.5]] * 2 + [[0.010000000000000002, 0.05]] * 3
                + [[0.00010000000000000005, 0.0005000000000000001]] * 4
                + [[1.0000000000000006e-05, 5.0000000000000016e-05]] * 4)


def test_exponential_lr():
    got = _schedule(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9))
    assert got[3] == [0.07290000000000002, 0.36450000000000005]
    _assert_lrs(got, [[0.1 * 0.9 ** e, 0.5 * 0.9 ** e] for e in range(13)])


def test_cosine_annealing_lr_past_t_max():
    got = _schedule(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01))
    _assert_lrs(got, [
        [0.1, 0.5], [0.09140576474687263, 0.45320916362186214], [0.06890576474687263, 0.33070916362186215],
        [0.04109423525312736, 0.1792908363781379], [0.018594235253127367, 0.0567908363781379], [0.01, 0.01],
        [0.018594235253127367, 0.05679083637813787], [0.04109423525312739, 0.17929083637813795],
        [0.06890576474687267, 0.33070916362186226], [0.09140576474687269, 0.45320916362186237],
        [0.10000000000000006, 0.5000000000000002], [0.09140576474687272, 0.4532091636218625],
        [0.06890576474687268, 0.3307091636218623]])


def test_lambda_lr_single_and_per_group():
    got = _schedule(lambda o: lr_scheduler.LambdaLR(o, lr_lambda=lambda e: 1.0 / (e + 1)))
    _assert_lrs(got, [[0.1 / (e + 1), 0.5 / (e + 1)] for e in range(13)])
    got = _schedule(lambda o: lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e, lambda e: e + 1]))
    assert got[5] == [0.07737809374999999, 3.0]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        _schedule(lambda o: lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 1.0]))


METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]


def test_reduce_lr_on_plateau():
    got = _schedule(lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1), metrics=METRICS)
    _assert_lrs(got, [[0.1, 0.5]] * 4 + [[0.010000000000000002, 0.05]] * 4
                + [[0.0010000000000000002, 0.005000000000000001]] * 2
                + [[0.00010000000000000003, 0.0005000000000000001]] * 2
                + [[1.0000000000000004e-05, 5.0000000000000016e-05]])
    got = _schedule(lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, cooldown=2, min_lr=[0.001, 0.04]),
                    metrics=METRICS)
    _assert_lrs(got, [[0.1, 0.5]] * 4 + [[0.010000000000000002, 0.05]] * 4 + [[0.0010000000000000002, 0.04]] * 5)
    got = _schedule(lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="max", patience=0, threshold=0.1,
                                                             threshold_mode="abs", factor=0.5), metrics=METRICS)
    _assert_lrs(got, [[0.1, 0.5]] * 2 + [[0.1 * 0.5 ** k, 0.5 * 0.5 ** k] for k in range(1, 12)])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        _schedule(lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), metrics=METRICS)


def test_scheduler_state_dict_round_trip():
    w = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    s = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4 and sd["base_lrs"] == [0.1]
    opt2 = optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    s2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(3):
        opt.step(), s.step()
        opt2.step(), s2.step()
        assert s.get_last_lr() == s2.get_last_lr()


def test_scheduler_before_optimizer_step_warns():
    opt = optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    opt2 = optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s2 = lr_scheduler.StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()
    assert s.last_epoch == 1 and s2.get_last_lr() == [pytest.approx(0.01)]
