"""Random numbers: ``Generator``, ``manual_seed`` and the random factories (``rand``, ``randn``, ...).

pygrad draws from NumPy's Philox generator, a *counter-based* generator: the stream is a pure
function of (seed, counter), which a GPU kernel can reproduce in parallel.  The values differ from
PyTorch's Mersenne Twister, but the same seed always gives the same numbers.
"""
import numpy as np

from . import dtypes as D
from .runtime import cpu
from .ops.movement import _sizes

_DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed


class Generator:
    """A source of random numbers with its own seed and state (``torch.Generator``)."""

    def __init__(self, device="cpu"):
        self.device = device
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._np = np.random.Generator(np.random.Philox(seed))
        self._counter = 0  # Philox counter position of the device kernels (cl_kernels/random.cl)
        return self

    def _claim(self, words):
        """Reserve ``words`` 32-bit random words of the device stream; returns (key, counter offset)."""
        offset = self._counter
        self._counter += -(-words // 4) + 1
        key = np.array([self._seed & 0xFFFFFFFF, (self._seed >> 32) & 0xFFFFFFFF], dtype=np.uint32)
        return key, offset

    def initial_seed(self):
        return self._seed

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(s)
        return s

    def get_state(self):
        import pickle

        return cpu.wrap(np.frombuffer(pickle.dumps(self._np.bit_generator.state), dtype=np.uint8).copy(), D.uint8)

    def set_state(self, state):
        import pickle

        self._np.bit_generator.state = pickle.loads(bytes(np.asarray(state._host(), dtype=np.uint8)))
        return self


default_generator = Generator()


def _gen(generator):
    return (generator or default_generator)._np


def manual_seed(seed):
    """Seed the default generator; returns it (as ``torch.manual_seed`` does)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


# -- samplers used by the factories and by the in-place fills (``uniform_``, ``normal_``) ------------
def _float_dtype(dtype):
    dtype = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if not dtype.is_floating_point:
        from .ops.reduce import _torch_type_word

        raise NotImplementedError(f'"check_uniform_bounds" not implemented for \'{_torch_type_word(dtype)}\'')
    return dtype


def _on_device(kind, shape, dtype, a, b, generator, device):
    """Sample on an OpenCL device with its Philox kernels; None for the CPU (NumPy's Philox)."""
    from .device import as_device

    dev = as_device(device)
    if dev.type == "cpu":
        return None
    from .runtime import get_backend

    return get_backend(dev).random(kind, tuple(shape), dtype, a, b, generator or default_generator)


def uniform(shape, dtype, low=0.0, high=1.0, generator=None, device="cpu"):
    dtype = _float_dtype(dtype)
    t = _on_device("uniform", shape, dtype, low, high, generator, device)
    if t is not None:
        return t
    arr = _gen(generator).random(shape, dtype=np.float64 if dtype is D.float64 else np.float32)
    return cpu.wrap((arr * (high - low) + low).astype(dtype.np), dtype)


def normal(shape, dtype, mean=0.0, std=1.0, generator=None, device="cpu"):
    dtype = _float_dtype(dtype)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    t = _on_device("normal", shape, dtype, mean, std, generator, device)
    if t is not None:
        return t
    arr = _gen(generator).standard_normal(shape, dtype=np.float64 if dtype is D.float64 else np.float32)
    return cpu.wrap((arr * std + mean).astype(dtype.np), dtype)


def random(shape, dtype, low=0, high=None, generator=None, device="cpu"):
    """Integers in [low, high) (``random_(from, to)``); one argument means [0, to)."""
    if high is None:
        low, high = 0, low if low else (2 ** (8 * min(dtype.itemsize, 4) - 1) if dtype.category else 2)
    t = _on_device("randint", shape, dtype, low, high, generator, device)
    if t is not None:
        return t
    return cpu.wrap(_gen(generator).integers(low, high, shape).astype(dtype.np), dtype)


def bernoulli(shape, dtype, p=0.5, generator=None):
    probs = p._host() if hasattr(p, "_storage") else p
    return cpu.wrap((_gen(generator).random(shape) < probs).astype(dtype.np), dtype)


def exponential(shape, dtype, lambd=1.0, generator=None):
    return cpu.wrap((_gen(generator).exponential(1.0 / lambd, shape)).astype(dtype.np), dtype)


# -- the public factories -------------------------------------------------------------------------------
def _place(t, device, requires_grad):
    from .creation import _finish

    return _finish(t, device, requires_grad)


def rand(*args, size=None, generator=None, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    """Uniform samples in [0, 1)."""
    shape = _sizes(args if size is None else size)
    return _place(uniform(shape, dtype, generator=generator, device=device), device, requires_grad)


def randn(*args, size=None, generator=None, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    """Standard normal samples (mean 0, variance 1)."""
    shape = _sizes(args if size is None else size)
    return _place(normal(shape, dtype, generator=generator, device=device), device, requires_grad)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False,
            layout=None):
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high), int64 by default."""
    args = args + tuple(v for v in (low, high) if v is not None)
    if low is None and high is not None and len(args) == 1:
        args = (0,) + args  # randint(high=10, size=...)
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)) and not hasattr(args[-1], "__len__"):
            raise TypeError("randint() missing required argument 'size'")
        *bounds, size = args
    else:
        bounds = list(args)
    if len(bounds) == 1:
        low, high = 0, bounds[0]
    elif len(bounds) == 2:
        low, high = bounds
    else:
        raise TypeError("randint() expects (high, size) or (low, high, size)")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = D.as_dtype(dtype) if dtype is not None else D.int64
    return _place(random(_sizes(size), dtype, low, high, generator, device), device, requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._shape, dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad, generator=generator)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None):
    return rand(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad,
                generator=generator)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None):
    return randn(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad,
                 generator=generator)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None):
    """A random permutation of 0..n-1."""
    dtype = D.as_dtype(dtype) if dtype is not None else D.int64
    return _place(cpu.wrap(_gen(generator).permutation(n).astype(dtype.np), dtype), device, requires_grad)


def normal_factory(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """``torch.normal``: tensor means/stds (broadcast) or scalar mean/std with ``size``."""
    if hasattr(mean, "_storage") or hasattr(std, "_storage"):
        ref = mean if hasattr(mean, "_storage") else std
        z = normal(ref._shape if not (hasattr(mean, "_storage") and hasattr(std, "_storage")) else
                   np.broadcast_shapes(mean._shape, std._shape), ref.dtype, generator=generator)
        return z.to(ref.device) * std + mean
    if size is None:
        raise TypeError("normal() missing required argument 'size' when mean and std are numbers")
    return _place(normal(_sizes(size), dtype, mean, std, generator), device, requires_grad)


def bernoulli_factory(input, p=None, *, generator=None):
    probs = input if p is None else p
    return bernoulli(input._shape, input.dtype, probs, generator).to(input.device)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample category indices from (rows of) non-negative weights."""
    probs = np.asarray(input._host(), dtype=np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    g = _gen(generator)
    p = rows / rows.sum(axis=1, keepdims=True)
    if replacement:
        # inverse-CDF sampling for all rows at once
        u = g.random((rows.shape[0], num_samples))
        out = (u[:, :, None] > np.cumsum(p, axis=1)[:, None, :]).sum(axis=2)
        out = np.minimum(out, rows.shape[1] - 1)
    else:
        # Gumbel-top-k: argsort of log p + Gumbel noise gives samples without replacement
        with np.errstate(divide="ignore"):  # log(0) = -inf for zero probabilities: never drawn, no warning
            keys = np.log(p) - np.log(-np.log(g.random(p.shape)))
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.reshape(probs.shape[:-1] + (num_samples,))
    return cpu.wrap(out.astype(np.int64), D.int64).to(input.device)
