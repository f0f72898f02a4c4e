"""``pygrad.backends.cudnn``: PyTorch's cuDNN flags (settable, no effect: there is no cuDNN here)."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
