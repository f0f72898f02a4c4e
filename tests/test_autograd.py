"""The autograd engine: graph recording, backward, hooks, ``autograd.grad``, grad modes, memory.

In-place ops, views, custom Functions and anomaly detection are in ``test_autograd_inplace_and_functions.py``.
Expected values are those PyTorch gives for the same code (``import pygrad as torch`` must behave the same).
"""
import gc
import math

import pytest

import pygrad as torch


def leaf(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def name(t):
    return t.grad_fn.name()


# ---------------------------------------------------------------------------------------------
# the course-notes example and the basics of the graph
# ---------------------------------------------------------------------------------------------
def test_course_notes_example():
    x = torch.tensor([3.0], requires_grad=True)
    y = torch.tensor([2.0], requires_grad=True)
    z = 2 * x ** 2 - 6 * y ** 2
    seen = []
    z.register_hook(lambda g: seen.append(g.item()))
    f = z ** 2
    f.backward()
    assert f.item() == 36.0
    assert x.grad.item() == -144.0
    assert y.grad.item() == 288.0
    assert seen == [-12.0]
    on = "" if x.device.type == "cpu" else f", device='{x.device}'"
    assert repr(x) == f"tensor([3.]{on}, requires_grad=True)"
    assert repr(f) == f"tensor([36.]{on}, grad_fn=<PowBackward0>)"
    assert repr(x.grad) == f"tensor([-144.]{on})"


def test_requires_grad_and_is_leaf():
    a = torch.tensor([1.0, 2.0])
    assert not a.requires_grad and a.is_leaf and a.grad_fn is None
    assert a.requires_grad_() is a and a.requires_grad and a.is_leaf
    b = a * 2
    assert b.requires_grad and not b.is_leaf
    assert not (torch.tensor([1.0]) * 2).requires_grad
    a.requires_grad_(False)
    assert not a.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        b.requires_grad_(False)
    assert torch.zeros(2, requires_grad=True).requires_grad
    assert (a > 0).requires_grad is False


def test_grad_fn_names_and_next_functions():
    x = leaf([1.0, 2.0])
    y = leaf([3.0, 4.0])
    assert name(x * y) == "MulBackward0"
    assert name(x + y) == "AddBackward0"
    assert name(x ** 2) == "PowBackward0"
    assert name(x - y) == "SubBackward0"
    assert name(x / y) == "DivBackward0"
    assert name(x.sum()) == "SumBackward0"
    assert name(x.mean()) == "MeanBackward0"
    assert name(x.exp()) == "ExpBackward0"
    assert name(-x) == "NegBackward0"
    assert name(x.max()) == "MaxBackward1"
    assert name(x.view(2, 1)) == "ViewBackward0"
    assert name(x[0]) == "SelectBackward0"
    assert name(x[0:1]) == "SliceBackward0"
    assert name(x[[0, 0]]) == "IndexBackward0"
    assert name(x.clone()) == "CloneBackward0"
    assert name(x.unsqueeze(0) @ y.unsqueeze(1)) == "MmBackward0"
    assert name(x.softmax(0)) == "SoftmaxBackward0"
    assert name(x.to(torch.float64)) == "ToCopyBackward0"
    z = x * y + x
    add = z.grad_fn
    (mul, n0), (acc, n1) = add.next_functions
    assert (mul.name(), n0, acc.name(), n1) == ("MulBackward0", 0, "AccumulateGrad", 0)
    assert acc.variable is x
    assert [n.name() for n, _ in mul.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    assert mul.next_functions[0][0] is acc  # one AccumulateGrad node per leaf
    assert (x * 2).grad_fn.next_functions[1] == (None, 0)  # a Python scalar has no edge
    assert isinstance(add, torch.autograd.graph.Node)


def test_repr_suffixes():
    x = torch.tensor([3.0], requires_grad=True)
    on = "" if x.device.type == "cpu" else f", device='{x.device}'"
    assert repr(x) == f"tensor([3.]{on}, requires_grad=True)"
    assert repr(x * 2) == f"tensor([6.]{on}, grad_fn=<MulBackward0>)"
    assert repr(x.sum()) == f"tensor(3.{on}, grad_fn=<SumBackward0>)"
    assert repr((x * 2).detach()) == f"tensor([6.]{on})"
    assert repr(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)) == \
        f"tensor([1., 2.]{on}, dtype=torch.float64, requires_grad=True)"
    with torch.no_grad():
        assert repr(x * 2) == f"tensor([6.]{on})"


def test_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z = (y * y).sum()
    z.backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]
    assert z.grad is None  # a non-leaf without retain_grad keeps no .grad
    x.retain_grad()  # a no-op on leaves
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        torch.ones(2).retain_grad()


def test_detach_and_detach_():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d[0] = 10.0  # shares storage with y
    assert y.tolist() == [10.0, 4.0]
    z = x * 2
    assert z.detach_() is z and not z.requires_grad and z.is_leaf
    assert x.data.requires_grad is False
    ((x * 2).detach() * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_clone_is_differentiable():
    x = leaf([1.0, 2.0])
    c = x.clone()
    assert name(c) == "CloneBackward0" and c.requires_grad
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------------------------------------
# backward(): roots, retain_graph, accumulation
# ---------------------------------------------------------------------------------------------
def test_backward_non_scalar_needs_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(gradient=torch.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(torch.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(2).sum().backward()
    s = (x * x).sum(0, keepdim=True)  # one element: implicit gradient works
    x.grad = None
    s.backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_second_backward_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        y.backward()
    x.grad = None
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward(retain_graph=True)
    assert torch.allclose(x.grad, first * 2)
    y.backward()
    assert torch.allclose(x.grad, first * 3)


def test_graph_without_saved_tensors_runs_twice():
    x = leaf([1.0, 2.0])
    y = (x + 1).sum()
    y.backward()
    y.backward()  # nothing was saved, so nothing was freed (as in PyTorch)
    assert x.grad.tolist() == [2.0, 2.0]


def test_zero_grad_and_grad_none():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="assigned grad has data of a different size"):
        x.grad = torch.ones(3)


def test_variable_used_twice_and_diamond():
    x = leaf([2.0])
    a = x * 3
    b = x * x
    (a * b + a).sum().backward()  # d/dx (3x^3 + 3x) = 9x^2 + 3
    assert x.grad.tolist() == [39.0]


def test_deep_graph_has_no_recursion_limit():
    x = leaf(1.0, torch.float64)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 3000) < 1e-9


def test_backward_inputs_restricts_accumulation():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [1.0, 2.0]
    y = x * 2
    (y * y).sum().backward(inputs=[y])  # a non-leaf input gets a .grad too
    assert y.grad.tolist() == [4.0, 8.0] and x.grad is None
    torch.autograd.backward([x * 2, x * x], [torch.ones(2), torch.tensor([1.0, 0.0])])
    assert x.grad.tolist() == [4.0, 2.0]
    s = leaf(2.0)
    s.backward()  # a scalar leaf is its own root
    assert s.grad.item() == 1.0


def test_broadcast_gradients_are_reduced_to_input_shape():
    a = torch.ones(3, 1, requires_grad=True)
    b = torch.ones(4, requires_grad=True)
    c = torch.ones(2, 1, 1, requires_grad=True)
    (a * b + c).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.tolist() == [[8.0]] * 3
    assert b.grad.shape == (4,) and b.grad.tolist() == [6.0] * 4
    assert c.grad.shape == (2, 1, 1) and c.grad.tolist() == [[[12.0]], [[12.0]]]
    s = torch.tensor(2.0, requires_grad=True)
    (s * torch.ones(2, 3)).sum().backward()
    assert s.grad.shape == () and s.grad.item() == 6.0


def test_index_gradients_accumulate_over_repeats():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    x[[0, 0, 1]].sum().backward()
    assert x.grad.tolist() == [2.0, 1.0, 0.0, 0.0]
    m = leaf([[1.0, 2.0], [3.0, 4.0]])
    m[[1, 1, 0], [0, 0, 1]].sum().backward()
    assert m.grad.tolist() == [[0.0, 1.0], [2.0, 0.0]]


# ---------------------------------------------------------------------------------------------
# hooks and autograd.grad
# ---------------------------------------------------------------------------------------------
def test_hooks_replace_gradients_and_can_be_removed():
    x = leaf([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0, 20.0]
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]

    x.grad = None
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))  # returns None: gradient unchanged
    h = y.register_hook(lambda g: g + 1)
    (y * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [8.0, 8.0]
    h.remove()
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        torch.ones(1).register_hook(lambda g: g)


def test_autograd_grad():
    x = leaf([1.0, 2.0, 3.0])
    y = x ** 2
    (g,) = torch.autograd.grad(y, x, grad_outputs=torch.tensor([1.0, 0.0, 2.0]))
    assert g.tolist() == [2.0, 0.0, 12.0] and x.grad is None and not g.requires_grad
    unused = leaf([1.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        torch.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = torch.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0, 2.0, 2.0] and gu is None
    a, b = torch.autograd.grad([(x * 2).sum(), (x * x).sum()], [x, x])
    assert a.tolist() == b.tolist() == [4.0, 6.0, 8.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.autograd.grad((x * 2).sum(), torch.ones(1))


def test_higher_order_gradients():
    x = leaf([2.0], torch.float64)
    y = x ** 3
    (d1,) = torch.autograd.grad(y, x, create_graph=True)
    assert d1.requires_grad and d1.tolist() == [12.0]  # 3x^2
    (d2,) = torch.autograd.grad(d1, x, create_graph=True)
    assert d2.tolist() == [12.0]  # 6x
    (d3,) = torch.autograd.grad(d2, x)
    assert d3.tolist() == [6.0]
    z = leaf([0.5], torch.float64)
    (g,) = torch.autograd.grad(z.tanh(), z, create_graph=True)
    g.backward()  # d2/dz2 tanh(z) = -2 tanh(z) (1 - tanh(z)^2)
    t = math.tanh(0.5)
    assert abs(z.grad.item() - (-2 * t * (1 - t * t))) < 1e-12


def test_backward_with_create_graph_builds_graph_of_grad():
    x = leaf([3.0], torch.float64)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.tolist() == [27.0]
    x.grad = None
    g.backward()
    assert x.grad.tolist() == [18.0]


# ---------------------------------------------------------------------------------------------
# grad modes
# ---------------------------------------------------------------------------------------------
def test_no_grad_enable_grad_set_grad_enabled():
    x = leaf([1.0])
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
        with torch.enable_grad():
            assert (x * 2).requires_grad
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with torch.set_grad_enabled(True):
        assert (x * 2).requires_grad
    torch.set_grad_enabled(False)
    assert not torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def f():
        assert not torch.is_grad_enabled()
        return x * 2

    @torch.enable_grad()
    def g():
        return x * 2

    @torch.set_grad_enabled(False)
    def h():
        return x * 2

    assert not f().requires_grad and not h().requires_grad and torch.is_grad_enabled()
    with torch.no_grad():
        assert g().requires_grad and not torch.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError
    assert torch.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.0])
    with torch.inference_mode():
        assert not (x * 2).requires_grad and not torch.is_grad_enabled()
    with torch.inference_mode(False):
        assert (x * 2).requires_grad

    @torch.inference_mode()
    def f():
        return x * 2

    assert not f().requires_grad and torch.is_grad_enabled()


# ---------------------------------------------------------------------------------------------
# memory: the engine leaves nothing behind
# ---------------------------------------------------------------------------------------------
def _count_autograd_objects():
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, (torch.Tensor, torch.autograd.graph.Node)))


def _train_step(w1, w2, x, target):
    h = (x @ w1 + 0.1).tanh()
    loss = ((h @ w2).relu() - target).pow(2).mean() + w1.norm() * 1e-3
    loss.backward()
    with torch.no_grad():
        for w in (w1, w2):
            w -= 0.01 * w.grad
            w.grad = None
    return loss.item()


def test_training_loop_does_not_leak_or_make_cycles():
    torch.manual_seed(0)
    w1 = torch.randn(4, 8, requires_grad=True)
    w2 = torch.randn(8, 1, requires_grad=True)
    x, target = torch.randn(16, 4), torch.randn(16, 1)
    for _ in range(20):
        _train_step(w1, w2, x, target)
    before = _count_autograd_objects()
    losses = [_train_step(w1, w2, x, target) for _ in range(300)]
    after = _count_autograd_objects()
    assert after <= before and losses[-1] < losses[0]

    def step_and_discarded_graph():
        _train_step(w1, w2, x, target)
        y = w1 * 2  # a graph that is freed without backward
        y[0] = 1.0
        y.t()[1:].mul_(3)
        del y

    step_and_discarded_graph()  # first use may build device kernels (pyopencl leaves cyclic garbage then)
    gc.collect()
    gc.disable()
    try:
        cycles = []
        for _ in range(5):
            step_and_discarded_graph()
            cycles.append(gc.collect())
    finally:
        gc.enable()
    assert cycles == [0] * 5
