"""``pygrad.backends.mkldnn``: PyTorch's oneDNN flags (no oneDNN here)."""
enabled = True
deterministic = False


def is_available():
    return False
