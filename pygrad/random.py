"""Random numbers: ``Generator``, ``manual_seed`` and the random factories (``rand``, ``randn``, ...).

On the CPU pygrad draws exactly PyTorch's numbers: ``pygrad._rng.CPUGenerator`` is PyTorch's CPU
generator (mt19937 with PyTorch's seeding, 32/64-bit draws and cached Box-Muller value) and every
sampler below consumes the same words in the same order and applies the same floating-point
transform as PyTorch's CPU kernel, so ``manual_seed(s)`` followed by the same calls gives the same
tensors, bit for bit (``get_rng_state()`` even has PyTorch's 5056-byte layout).

OpenCL devices draw from their own counter-based Philox stream (``cl_kernels/random.cl``): the
stream is a pure function of (seed, counter), which a kernel can compute in parallel.  It is
reproducible for a seed but not PyTorch's CUDA stream; ``pygrad.opencl.get_rng_state()`` saves it.
"""
import contextlib
import os

import numpy as np

from . import _rng
from . import dtypes as D
from .runtime import cpu
from .ops.movement import _sizes

_DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed


def _has_avx2():
    """PyTorch's float32 ``normal_`` uses its AVX2 kernel on x86 CPUs with AVX2 + FMA (the scalar one elsewhere)."""
    return _rng.cpu_has_avx2_fma()


_AVX2 = _has_avx2()


class Generator:
    """A source of random numbers with its own seed and state (``torch.Generator``).

    The CPU state is PyTorch's (mt19937); ``_counter`` is the position in the OpenCL Philox stream.
    """

    def __init__(self, device="cpu"):
        from .device import as_device

        self.device = as_device(device)
        self._cpu = _rng.CPUGenerator(_DEFAULT_SEED)
        self._seed = _DEFAULT_SEED
        self._counter = 0

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < -(1 << 63) or seed >= (1 << 64):
            raise ValueError("Overflow when unpacking long long")
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._cpu.manual_seed(seed)
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
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def get_state(self):
        """PyTorch's ``CPUGeneratorImplState`` bytes (a uint8 tensor of 5056 elements)."""
        if self.device.type != "cpu":
            return _device_state(self)
        return cpu.wrap(self._cpu.get_state(), D.uint8)

    def set_state(self, new_state):
        if getattr(new_state, "dtype", None) is not D.uint8:
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if self.device.type != "cpu":
            _set_device_state(self, new_state)
        else:
            self._cpu.set_state(np.asarray(new_state._host(), dtype=np.uint8).reshape(-1))
        return self

    def __getstate__(self):
        return {"device": str(self.device), "seed": self._seed, "counter": self._counter, "cpu": self._cpu.get_state()}

    def __setstate__(self, st):
        from .device import as_device

        self.device, self._seed, self._counter = as_device(st["device"]), st["seed"], st["counter"]
        self._cpu = _rng.CPUGenerator(self._seed)
        self._cpu.set_state(st["cpu"])

    def clone_state(self):
        g = Generator(self.device)
        g._seed, g._counter = self._seed, self._counter
        g._cpu.clone_state_from(self._cpu)
        return g


def _device_state(gen):
    """The OpenCL stream position as 16 bytes: seed and Philox counter (little-endian uint64)."""
    return cpu.wrap(np.array([gen._seed, gen._counter], dtype="<u8").view(np.uint8), D.uint8)


def _set_device_state(gen, state):
    arr = np.asarray(state._host(), dtype=np.uint8).reshape(-1)
    if arr.size != 16:
        raise RuntimeError(f"Expected an OpenCL generator state of 16 bytes but found {arr.size}")
    seed, counter = (int(v) for v in arr.view("<u8"))
    gen._seed, gen._counter = seed, counter


default_generator = Generator()


def _g(generator):
    return (generator or default_generator)._cpu


def manual_seed(seed):
    """Seed the default generator; returns it (as ``torch.manual_seed`` does)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    """The default CPU generator's state: a uint8 tensor in PyTorch's layout (``torch.get_rng_state``)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Run a block with the default generator's state saved and restored afterwards (``torch.random.fork_rng``)."""
    if not enabled:
        yield
        return
    state = _get_all_rng_states()
    try:
        yield
    finally:
        _set_all_rng_states(state)


def _get_all_rng_states():
    """Everything ``pygrad demo --resume`` needs to continue the default streams (CPU and OpenCL)."""
    return {"cpu": get_rng_state(), "opencl": _device_state(default_generator)}


def _set_all_rng_states(state):
    set_rng_state(state["cpu"])
    _set_device_state(default_generator, state["opencl"])


# -- samplers used by the factories and by the in-place fills (``uniform_``, ``normal_``) ------------
# Each returns a flat NumPy array of ``n`` values in PyTorch's draw order, in the target dtype.
def _float_dtype(dtype):
    dtype = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if not dtype.is_floating_point:
        from .ops.reduce import _torch_type_word

        raise NotImplementedError(f'"check_uniform_bounds" not implemented for \'{_torch_type_word(dtype)}\'')
    return dtype


def _on_device(kind, shape, dtype, a, b, generator, device):
    """Sample on an OpenCL device with its Philox kernels; None for the CPU (PyTorch's mt19937)."""
    from .device import as_device

    dev = as_device(device)
    if dev.type == "cpu":
        return None
    from .runtime import get_backend

    return get_backend(dev).random(kind, tuple(shape), dtype, a, b, generator or default_generator)


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _from_double(arr, dtype):
    """double -> dtype as C++ ``static_cast`` does (to half through float: two roundings)."""
    if dtype is D.float16:
        return arr.astype(np.float32).astype(np.float16)
    return arr.astype(dtype.np)


def _uniform_values(n, dtype, low, high, generator):
    g = _g(generator)
    if dtype is D.float64:
        return g.uniform_double(n, float(low), float(high))
    if dtype is D.float32:
        return g.uniform_float(n, float(low), float(high))
    # float16: PyTorch computes in float (24 random bits, float bounds) and rounds the result
    return g.uniform_float(n, float(low), float(high)).astype(np.float16)


def _check_uniform(low, high, dtype):
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}")
    if high - low > np.finfo(dtype.np).max:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{dtype.name}>::max(), but found "
                           f"to={high} and from={low} which result in to-from to exceed the limit")


def uniform(shape, dtype, low=0.0, high=1.0, generator=None, device="cpu"):
    dtype = _float_dtype(dtype)
    _check_uniform(low, high, dtype)
    t = _on_device("uniform", shape, dtype, low, high, generator, device)
    if t is not None:
        return t
    return cpu.wrap(_uniform_values(_numel(shape), dtype, low, high, generator).reshape(shape), dtype)


def _normal_values(n, dtype, mean, std, generator, contiguous=True):
    g = _g(generator)
    if n >= 16 and contiguous:
        if dtype is D.float32:
            return g.normal_fill_float(n, float(mean), float(std), _AVX2)
        if dtype is D.float64:
            return g.normal_fill_double(n, float(mean), float(std))
        return g.normal_fill_half(n, float(mean), float(std), _AVX2).astype(np.float16)
    return _from_double(g.normal_scalar(n, float(mean), float(std)), dtype)


def normal(shape, dtype, mean=0.0, std=1.0, generator=None, device="cpu", contiguous=True):
    dtype = _float_dtype(dtype)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    t = _on_device("normal", shape, dtype, mean, std, generator, device)
    if t is not None:
        return t
    return cpu.wrap(_normal_values(_numel(shape), dtype, mean, std, generator, contiguous).reshape(shape), dtype)


_INT_RANGE = {"bool": 2, "uint8": 1 << 8, "int8": 1 << 7, "int16": 1 << 15, "int32": 1 << 31, "int64": 1 << 63}


_INT_BOUNDS = {"bool": (0, 1), "uint8": (0, 255), "int8": (-128, 127), "int16": (-(1 << 15), (1 << 15) - 1),
               "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}


def _float_bounds(low, high, dtype):
    """Move ``from``/``to`` inwards when ``from + 1`` / ``to - 1`` round outside them in ``dtype``."""
    digits = {"float16": 11, "float32": 24, "float64": 53}[dtype.name]

    def as_t(v):  # static_cast<int64_t>(static_cast<scalar_t>(v))
        if dtype is D.float64:
            return int(float(v))
        return int(np.asarray(float(v), dtype=np.float32).astype(dtype.np))
    up = as_t(low + 1)
    if up < low:
        low = up + (1 << (abs(low + 1).bit_length() - 1 - digits + 1))
    down = as_t(high - 1)
    if down >= high:
        high = down - (1 << (abs(high - 1).bit_length() - 1 - digits + 1))
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than 'to' casted to dtype, but got "
                           f"from={low} >= to={high}")
    return low, high


def _random_values(n, dtype, low=None, high=None, generator=None):
    """``random_()``, ``random_(to)``, ``random_(from, to)`` exactly as PyTorch's CPU kernels draw them."""
    g = _g(generator)
    if low is None and high is None:  # random_(): [0, 2**mantissa] for floats, [0, max] for integers
        if dtype is D.bool_:
            return (g.random_words(n, False, 2) != 0)
        if dtype.is_floating_point:
            digits = {"float16": 11, "float32": 24, "float64": 53}[dtype.name]
            return g.random_words(n, dtype is D.float64, (1 << digits) + 1).astype(dtype.np)
        return g.random_words(n, dtype is D.int64, _INT_RANGE[dtype.name]).astype(dtype.np)
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if not dtype.is_floating_point:  # PyTorch's check_from_to_in_range, with C++ type names
        name, (lo, hi) = D.CPP_NAMES[dtype.name], _INT_BOUNDS[dtype.name]
        if not lo <= low <= hi:
            raise RuntimeError(f"from is out of bounds for {name}")
        if not lo <= high - 1 <= hi:
            raise RuntimeError(f"to - 1 is out of bounds for {name}")
    low, high = int(low), int(high)
    if dtype.is_floating_point:  # PyTorch's update_from/update_to: bounds a float type can hold
        low, high = _float_bounds(low, high, dtype)
    rng = (high - low) & ((1 << 64) - 1)
    vals = g.randint(n, rng, low)
    if dtype is D.bool_:
        return vals != 0
    return vals.astype(dtype.np)


def random(shape, dtype, low=None, high=None, generator=None, device="cpu"):
    """Integers in [low, high) (``random_(from, to)``); one bound means [0, to); none: the dtype's range."""
    t = None
    if low is not None or high is not None:
        lo, hi = (0, low) if high is None else (low, high)
        t = _on_device("randint", shape, dtype, lo, hi, generator, device)
    if t is not None:
        return t
    return cpu.wrap(_random_values(_numel(shape), dtype, low, high, generator).reshape(shape), dtype)


def _bernoulli_values(n, p, generator):
    """``bernoulli_``: 1 where a uniform < p.  A scalar or float64 p draws 53-bit doubles; a float32/float16
    tensor of probabilities draws 24-bit floats (PyTorch's ``bernoulli_distribution<float>``)."""
    g = _g(generator)
    if hasattr(p, "_storage"):
        probs = np.asarray(p._host())
        if probs.dtype == np.float64:
            return g.bernoulli_double(probs)
        return g.bernoulli_float(probs.astype(np.float32))
    p = float(p)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return g.bernoulli_double_scalar(n, p)


def bernoulli(shape, dtype, p=0.5, generator=None):
    """0/1 samples of ``shape`` in ``dtype`` (``p`` a number or a tensor broadcast to ``shape``)."""
    n = _numel(shape)
    if hasattr(p, "_storage"):
        p = p.to("cpu").expand(tuple(shape)).contiguous() if tuple(p._shape) != tuple(shape) else p.to("cpu")
    return cpu.wrap(_bernoulli_values(n, p, generator).reshape(shape).astype(dtype.np), dtype)


def exponential(shape, dtype, lambd=1.0, generator=None):
    """``exponential_``: ``-1/lambda * log1p(-u)`` on 53-bit uniforms, computed in double."""
    dtype = _float_dtype(dtype)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    vals = _g(generator).exponential(_numel(shape), float(lambd))
    return cpu.wrap(_from_double(vals, dtype).reshape(shape), dtype)


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
    """A random permutation of 0..n-1 (PyTorch's Fisher-Yates on 32-bit draws)."""
    dtype = D.as_dtype(dtype) if dtype is not None else D.int64
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    return _place(cpu.wrap(_g(generator).randperm(int(n)).astype(dtype.np), dtype), device, requires_grad)


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
    """``torch.bernoulli``: PyTorch fills a contiguous ``empty_like(input)``, so draws follow the logical order."""
    probs = input if p is None else p
    return bernoulli(input._shape, input.dtype, probs, generator).to(input.device)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample category indices from (rows of) non-negative weights, drawing what PyTorch draws: without
    replacement (or one sample) ``argmax``/``topk`` of ``p / q`` with ``q ~ Exp(1)``; with replacement a
    binary search of the normalised cumulative sums per 53-bit uniform."""
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype.name.capitalize()}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    probs = np.asarray(input._host())
    rows = probs.reshape(-1, probs.shape[-1]) if probs.size else probs.reshape(-1, max(probs.shape[-1], 1))
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1, dtype=np.float64) == 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    g = _g(generator)
    if not replacement or num_samples == 1:
        q = _from_double(g.exponential(rows.size, 1.0), input.dtype).reshape(rows.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = rows / q
        if num_samples == 1:
            out = np.argmax(keys, axis=1)[:, None]
        else:
            out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    else:
        work = rows.astype(np.float32) if rows.dtype == np.float16 else rows
        out = g.multinomial_replacement(work, int(num_samples))
    out = out.reshape(probs.shape[:-1] + (num_samples,))
    return cpu.wrap(out.astype(np.int64), D.int64).to(input.device)
