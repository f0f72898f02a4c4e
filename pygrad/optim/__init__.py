"""Optimizers (``pygrad.optim.SGD``, ``Adam``, ...) and learning-rate schedulers (``optim.lr_scheduler``).

A training step is ``optimizer.zero_grad(); loss.backward(); optimizer.step()``: each optimizer
reads ``p.grad`` of its parameters and updates them in place with PyTorch's update rule.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
from .adadelta import Adadelta  # noqa: E402
from .adamax import Adamax  # noqa: E402
from .asgd import ASGD  # noqa: E402
from .lbfgs import LBFGS  # noqa: E402
from .nadam import NAdam  # noqa: E402
from .radam import RAdam  # noqa: E402
from .rprop import Rprop  # noqa: E402

__all__ += ["Adadelta", "Adamax", "ASGD", "LBFGS", "NAdam", "RAdam", "Rprop"]
