"""Flatten parameters into one vector and back (used by second-order methods and tests)."""


def parameters_to_vector(parameters):
    from ...ops.movement import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    from ...autograd.grad_mode import no_grad

    if not hasattr(vec, "_storage"):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    start = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[start:start + n].view_as(p))
            start += n
