"""A leaf's first gradient keeps the backward's fresh result instead of a copy (as PyTorch does), but only
when nothing else references that tensor or its memory: shared gradients are still copied."""
import pygrad as torch
from pygrad.autograd import engine


def _count_clones(monkeypatch):
    calls = []
    orig = torch.Tensor.clone
    monkeypatch.setattr(torch.Tensor, "clone", lambda self, *a, **k: (calls.append(1), orig(self, *a, **k))[1])
    return calls


def test_fresh_gradient_is_kept_without_a_copy(monkeypatch, device):
    a = torch.randn(3, 4, device=device, requires_grad=True)
    w = torch.randn(4, 2, device=device, requires_grad=True)
    (a @ w).sum().backward()  # calibrates the engine's own reference count
    a.grad = w.grad = None
    calls = _count_clones(monkeypatch)
    (a @ w).sum().backward()
    assert not calls
    expected = torch.ones(3, 2, device=device) @ w.detach().t()
    assert torch.allclose(a.grad, expected)


def test_shared_gradients_are_copied(device):
    b = torch.randn(3, 4, device=device, requires_grad=True)
    c = torch.randn(3, 4, device=device, requires_grad=True)
    (b + c).backward(torch.ones(3, 4, device=device))  # AddBackward sends one tensor to both leaves
    b.grad += 1
    assert c.grad.tolist() == [[1.0] * 4] * 3
    g0 = torch.ones(3, device=device)
    x = torch.randn(3, device=device, requires_grad=True)
    x.backward(g0)  # the caller still holds the gradient it passed in
    x.grad += 1
    assert g0.tolist() == [1.0, 1.0, 1.0]
    y = torch.randn(2, 3, device=device, requires_grad=True)
    z = y.t()
    z.backward(torch.ones(3, 2, device=device))  # a view of another tensor's memory
    assert y.grad.is_contiguous() and y.grad.tolist() == [[1.0] * 3] * 2


def test_calibration_is_recorded():
    x = torch.randn(2, requires_grad=True)
    (x * 2).sum().backward()
    assert engine._own["refs"] and engine._own["refs"] > 1


def test_dense_view_of_a_fresh_result_is_kept_but_not_a_view_of_a_kept_tensor(monkeypatch):
    a = torch.randn(6, requires_grad=True)
    w = torch.randn(2, 3)
    (a.reshape(2, 3) * w).sum().backward()
    a.grad = None
    calls = _count_clones(monkeypatch)
    (a.reshape(2, 3) * w).sum().backward()  # ReshapeBackward: a view of MulBackward's fresh g * w
    assert not calls and a.grad.tolist() == w.reshape(6).tolist()

    kept = torch.ones(2, 3)

    class Keep(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return kept.reshape(6)  # a view of a tensor the caller keeps

    b = torch.randn(6, requires_grad=True)
    Keep.apply(b).sum().backward()
    assert calls  # copied
    b.grad += 1
    assert kept.tolist() == [[1.0] * 3] * 2
