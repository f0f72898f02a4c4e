"""Placeholder for the backward engine (tracked by the autograd issue).

``attach`` is where ``Function.apply`` links a new node into the graph.  Until the engine lands, an
op on a tensor that requires grad raises instead of silently returning an untracked result.
"""


def attach(ctx, args, out):
    raise NotImplementedError(
        "pygrad's autograd engine is not built yet (see the autograd issue): "
        "operations on tensors with requires_grad=True cannot be recorded"
    )
