"""pygrad's ops, one family per module; each op is a ``Function`` with its forward and backward."""
