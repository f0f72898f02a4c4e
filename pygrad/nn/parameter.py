"""``nn.Parameter``: a tensor that a Module registers as trainable (``requires_grad=True`` by default)."""
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor subclass; assigning one to a Module attribute adds it to ``module.parameters()``."""

    def __init__(self, data=None, requires_grad=True):
        from ..creation import empty

        if data is None:
            data = empty(0)
        self._init_from(data.detach())
        self.requires_grad = requires_grad

    def __new__(cls, data=None, requires_grad=True):
        return object.__new__(cls)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        from ..serialization import reduce_tensor

        return reduce_tensor(self)

    def __deepcopy__(self, memo):
        p = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = p
        return p
