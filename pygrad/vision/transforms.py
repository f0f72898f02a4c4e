"""Image transforms: small callables that turn one image into another (like ``torchvision.transforms``).

A transform is any callable ``img -> img``; ``Compose`` chains several.  A typical pipeline::

    from pygrad.vision import transforms as T

    train_tf = T.Compose([
        T.RandomCrop(28, padding=2),      # PIL image -> PIL image (random)
        T.RandomHorizontalFlip(),         # PIL image -> PIL image (random)
        T.ToTensor(),                     # PIL image -> float32 tensor C x H x W in [0, 1]
        T.Normalize((0.1307,), (0.3081,)),  # tensor -> tensor, per channel (x - mean) / std
    ])

Two image types appear here:

* a **PIL image** (from the Pillow library): what files decode to; ``Resize``/``RandomCrop`` work on it.
  Its size is ``img.size == (width, height)`` -- width first!
* a **tensor image**: a pygrad tensor of shape ``C x H x W`` (channels first), what models eat.

Pillow is imported only inside the functions that need it, so ``import pygrad`` never requires it.
The random transforms draw from pygrad's generator (``pygrad.rand``/``pygrad.randint``), so
``pygrad.manual_seed(0)`` makes an augmentation pipeline reproducible.

The lower-case functions (``to_tensor``, ``normalize``, ``resize``, ``hflip``, ``pad``, ``crop``, ...)
are the deterministic building blocks the classes use (``torchvision.transforms.functional``).
"""
import enum
import numbers
import sys

import numpy as np

from .. import dtypes as D
from ..creation import as_tensor, from_numpy
from ..random import rand, randint
from ..tensor import Tensor

__all__ = ["Compose", "Lambda", "ToTensor", "ToPILImage", "Normalize", "Resize", "RandomHorizontalFlip",
           "RandomCrop", "InterpolationMode", "to_tensor", "to_pil_image", "normalize", "resize", "hflip", "pad",
           "crop", "get_dimensions"]


# -- helpers: Pillow, image types, sizes -----------------------------------------------------------------
def _pil_image_module():
    """``PIL.Image``, imported on first use, with a helpful error when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("this transform needs the Pillow library for images: pip install pillow "
                          "(or pip install 'pygrad[demo]')") from None
    return Image


def _is_pil_image(img):
    # If PIL was never imported, ``img`` cannot be a PIL image: no need to import Pillow to find out.
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(img, pil.Image)


def _type_error(name, img, accepted):
    return TypeError(f"{name}: expected {accepted}, got {type(img).__name__}")


def get_dimensions(img):
    """``[channels, height, width]`` of a PIL image or of a ``... x C x H x W`` tensor image."""
    if _is_pil_image(img):
        width, height = img.size
        return [len(img.getbands()), height, width]
    if isinstance(img, Tensor):
        if img.dim() < 2:
            raise ValueError(f"a tensor image needs at least 2 dimensions (H x W), got shape {tuple(img.shape)}")
        channels = 1 if img.dim() == 2 else img.shape[-3]
        return [channels, img.shape[-2], img.shape[-1]]
    raise _type_error("get_dimensions", img, "a PIL image or a tensor")


def _setup_size(size, what="size"):
    """An int ``s`` or a sequence ``(s,)`` / ``(h, w)`` as the pair ``(h, w)``."""
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{what} should be an int or a sequence of one or two ints (h, w), got {size!r}")


# -- Compose and Lambda ----------------------------------------------------------------------------------
class Compose:
    """Apply ``transforms`` one after the other: ``Compose([f, g])(x) == g(f(x))``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        lines = [f"    {t}" for t in self.transforms]
        return "\n".join([f"{type(self).__name__}("] + lines + [")"])


class Lambda:
    """Wrap any function as a transform (e.g. ``Lambda(lambda x: x.flatten())``)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


# -- PIL image / NumPy array <-> tensor ------------------------------------------------------------------
def to_tensor(pic):
    """A PIL image or an ``H x W x C`` (or ``H x W``) NumPy array as a ``C x H x W`` tensor.

    8-bit images (``uint8``; PIL modes ``L``, ``RGB``, ``RGBA``, ...) are scaled from 0..255 to floats
    in [0, 1] of the default dtype (float32).  Other dtypes (e.g. a float array, PIL mode ``F``)
    are only moved to channels-first, not rescaled -- as torchvision does.
    """
    if _is_pil_image(pic):
        arr = np.array(pic)  # H x W (one band) or H x W x C; a copy, so the image can be closed
        if pic.mode == "1":  # 1-bit images decode to booleans: make them 0 / 255 like 8-bit ones
            arr = arr.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise _type_error("to_tensor", pic, "a PIL image or a NumPy array")
    if arr.ndim == 2:
        arr = arr[:, :, None]  # grayscale H x W -> H x W x 1
    if arr.ndim != 3:
        raise ValueError(f"to_tensor: expected an H x W or H x W x C array, got shape {arr.shape}")
    chw = np.array(arr.transpose(2, 0, 1), order="C")  # channels first: C x H x W (a copy)
    if chw.dtype == np.uint8:
        float_np = D.get_default_dtype().np
        return from_numpy(chw.astype(float_np) / np.array(255, dtype=float_np))
    return from_numpy(chw)


# The PIL mode for each channel count of an 8-bit image (what torchvision infers).
_MODES_FOR_CHANNELS = {1: ("L",), 2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}


def to_pil_image(pic, mode=None):
    """A ``C x H x W`` tensor (or ``H x W x C`` NumPy array) as a PIL image.

    Float values are taken to be in [0, 1] and become bytes as ``(x * 255)`` truncated, like
    torchvision (values outside [0, 1] are clipped first).  Without ``mode`` it is inferred from the
    channel count: 1 -> ``'L'``, 2 -> ``'LA'``, 3 -> ``'RGB'``, 4 -> ``'RGBA'``.  A single float
    channel can also be kept as floats with ``mode='F'``.
    """
    Image = _pil_image_module()
    if isinstance(pic, Tensor):
        if pic.dim() not in (2, 3):
            raise ValueError(f"to_pil_image: expected a 2-D or 3-D tensor, got {pic.dim()} dimensions")
        arr = pic.detach().cpu().numpy()
        arr = arr[None] if arr.ndim == 2 else arr
        arr = arr.transpose(1, 2, 0)  # C x H x W -> H x W x C
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: expected a 2-D or 3-D array, got {pic.ndim} dimensions")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise _type_error("to_pil_image", pic, "a tensor or a NumPy array")

    channels = arr.shape[2]
    if channels not in _MODES_FOR_CHANNELS:
        raise ValueError(f"to_pil_image: expected 1 to 4 channels, got {channels} (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.floating) and mode != "F":
        arr = (np.clip(arr, 0.0, 1.0) * np.float32(255)).astype(np.uint8)  # [0, 1] -> 0..255
    arr = np.ascontiguousarray(arr)

    if channels == 1:
        arr = arr[:, :, 0]
        inferred = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
                    np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode == "F" and arr.dtype != np.float32:
            arr, inferred = arr.astype(np.float32), "F"
        if inferred is None:
            raise TypeError(f"to_pil_image: cannot make a one-channel image from dtype {arr.dtype}")
        if mode is not None and mode != inferred:
            raise ValueError(f"to_pil_image: mode {mode!r} does not fit a one-channel {arr.dtype} image "
                             f"(it would be {inferred!r})")
        return Image.fromarray(arr)

    if arr.dtype != np.uint8:
        raise TypeError(f"to_pil_image: {channels}-channel images must be uint8 or float, got {arr.dtype}")
    allowed = _MODES_FOR_CHANNELS[channels]
    if mode is None:
        mode = allowed[0]
    elif mode not in allowed:
        raise ValueError(f"to_pil_image: only modes {list(allowed)} are supported for {channels}-channel "
                         f"input, got {mode!r}")
    # frombuffer reads the bytes as they are (no colour conversion), whatever the mode
    height, width = arr.shape[:2]
    return Image.frombuffer(mode, (width, height), arr.tobytes(), "raw", mode, 0, 1)


class ToTensor:
    """PIL image or ``H x W x C`` uint8 array -> float32 ``C x H x W`` tensor in [0, 1] (see ``to_tensor``)."""

    def __call__(self, pic):
        return to_tensor(pic)

    def __repr__(self):
        return f"{type(self).__name__}()"


class ToPILImage:
    """``C x H x W`` tensor or ``H x W x C`` array -> PIL image (see ``to_pil_image`` for the modes)."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return to_pil_image(pic, self.mode)

    def __repr__(self):
        return f"{type(self).__name__}(" + (f"mode={self.mode}" if self.mode is not None else "") + ")"


# -- Normalize -------------------------------------------------------------------------------------------
def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean[c]) / std[c]`` for each channel ``c`` of a ``... x C x H x W`` float tensor."""
    if not isinstance(tensor, Tensor):
        raise _type_error("normalize", tensor, "a tensor image (use ToTensor() first)")
    if not tensor.is_floating_point():
        raise TypeError(f"normalize: expected a float tensor, got {tensor.dtype} (use ToTensor() first)")
    if tensor.dim() < 3:
        raise ValueError(f"normalize: expected a tensor image of shape (..., C, H, W), got {tuple(tensor.shape)}")
    channels = tensor.shape[-3]
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    std = np.atleast_1d(np.asarray(std, dtype=np.float64))
    for name, v in (("mean", mean), ("std", std)):
        if v.ndim != 1 or len(v) not in (1, channels):
            raise ValueError(f"normalize: {name} needs 1 or {channels} values (one per channel), got {len(v)}")
    if (std.astype(tensor.dtype.np) == 0).any():
        raise ValueError(f"normalize: std must not be zero (got std={std.tolist()}): it would divide by zero")
    mean_t = as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std_t = as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    if inplace:
        return tensor.sub_(mean_t).div_(std_t)
    return (tensor - mean_t) / std_t


class Normalize:
    """Per-channel standardisation ``(x - mean) / std`` of a tensor image (after ``ToTensor``).

    ``mean`` and ``std`` hold one value per channel (or a single value for all channels), e.g.
    ``Normalize((0.1307,), (0.3081,))`` for MNIST.  ``inplace=True`` overwrites the input tensor.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


# -- Resize ----------------------------------------------------------------------------------------------
class InterpolationMode(str, enum.Enum):
    """How ``Resize`` computes the new pixels (the names of ``torchvision.transforms.InterpolationMode``)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _resized_size(height, width, size, max_size=None):
    """The output ``(h, w)``: a pair is used as is; an int sets the smaller edge, keeping the aspect ratio."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size is only allowed when size is a single int")
        return int(size[0]), int(size[1])
    short, long = (width, height) if width <= height else (height, width)
    new_short = int(size if isinstance(size, numbers.Integral) else size[0])
    new_long = int(new_short * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested size "
                             f"for the smaller edge = {new_short}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None):
    """Resize a PIL image to ``size``: an int for the smaller edge (aspect ratio kept), or ``(h, w)``."""
    if not _is_pil_image(img):
        raise _type_error("resize", img, "a PIL image (apply Resize before ToTensor)")
    Image = _pil_image_module()
    height, width = img.size[1], img.size[0]
    new_h, new_w = _resized_size(height, width, size, max_size)
    if (new_h, new_w) == (height, width):
        return img.copy()
    resampling = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 moved the constants into an enum
    return img.resize((new_w, new_h), getattr(resampling, InterpolationMode(interpolation).name))


class Resize:
    """Resize a PIL image.  ``size=28`` makes the *smaller* edge 28 and keeps the aspect ratio (a
    64 x 32 image becomes 56 x 28); ``size=(h, w)`` gives exactly that size.  ``interpolation`` is an
    ``InterpolationMode`` or its name (``"bilinear"``, ``"nearest"``, ``"bicubic"``, ...).  With an int
    ``size``, ``max_size`` caps the longer edge.  Pillow always antialiases when shrinking.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        if not (isinstance(size, numbers.Integral) or (isinstance(size, (tuple, list)) and len(size) in (1, 2))):
            raise TypeError(f"Size should be an int or a sequence of length 1 or 2, got {size!r}")
        self.size = size
        self.interpolation = InterpolationMode(interpolation)  # a clear ValueError for unknown names
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        return resize(img, self.size, self.interpolation, self.max_size)

    def __repr__(self):
        return (f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation.value}, "
                f"max_size={self.max_size}, antialias={self.antialias})")


# -- flips, padding and crops ----------------------------------------------------------------------------
def hflip(img):
    """Mirror an image left <-> right (a PIL image, or a tensor along its last dimension)."""
    if _is_pil_image(img):
        Image = _pil_image_module()
        transpose = getattr(Image, "Transpose", Image)
        return img.transpose(transpose.FLIP_LEFT_RIGHT)
    if isinstance(img, Tensor):
        return img.flip(-1)
    raise _type_error("hflip", img, "a PIL image or a tensor")


class RandomHorizontalFlip:
    """Mirror the image left <-> right with probability ``p`` (PIL image or tensor)."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        # Always draw, even for p = 0 or 1, so the random stream does not depend on p.
        if rand(1).item() < self.p:
            return hflip(img)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


def _parse_padding(padding):
    """``padding`` (int, (lr, tb) or (l, t, r, b)) as ``(left, top, right, bottom)``."""
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            return (int(padding[0]),) * 4
        if len(padding) == 2:
            return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
        if len(padding) == 4:
            return tuple(int(p) for p in padding)
    raise ValueError(f"padding should be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")


def pad(img, padding, fill=0):
    """Add a border of constant ``fill`` around an image; ``padding`` is an int (every side),
    ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``."""
    left, top, right, bottom = _parse_padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    if _is_pil_image(img):
        Image = _pil_image_module()
        bands = len(img.getbands())
        if isinstance(fill, numbers.Number) and bands > 1:
            fill = (fill,) * bands  # one value for every channel (PIL would read an int as packed RGB)
        elif isinstance(fill, (tuple, list)):
            fill = tuple(fill) if bands > 1 else fill[0]
        width, height = img.size
        out = Image.new(img.mode, (width + left + right, height + top + bottom), fill)
        if img.mode == "P":
            out.putpalette(img.getpalette())
        out.paste(img, (left, top))
        return out
    if isinstance(img, Tensor):
        if not isinstance(fill, numbers.Number):
            raise TypeError("pad: a tensor image only takes a single number as fill")
        from ..nn.functional import pad as tensor_pad

        return tensor_pad(img, (left, right, top, bottom), value=fill)
    raise _type_error("pad", img, "a PIL image or a tensor")


def crop(img, top, left, height, width):
    """The ``height x width`` window of an image whose top-left corner is at (``top``, ``left``)."""
    if _is_pil_image(img):
        return img.crop((left, top, left + width, top + height))
    if isinstance(img, Tensor):
        return img[..., top:top + height, left:left + width]
    raise _type_error("crop", img, "a PIL image or a tensor")


class RandomCrop:
    """Cut a ``size`` window (int or ``(h, w)``) at a random place of the image.

    ``padding`` first adds a border of ``fill`` (int: every side; ``(lr, tb)``; ``(l, t, r, b)``), the
    classic CIFAR augmentation is ``RandomCrop(32, padding=4)``.  With ``pad_if_needed=True`` an image
    smaller than ``size`` is padded up to it instead of raising an error.  Works on PIL images and tensors.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0):
        self.size = _setup_size(size)
        if padding is not None:
            _parse_padding(padding)  # validate early
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill

    @staticmethod
    def get_params(img, output_size):
        """A random window ``(top, left, height, width)`` of ``output_size`` inside ``img``."""
        _, h, w = get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)} "
                             "(use padding or pad_if_needed=True)")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        i = randint(0, h - th + 1, size=(1,)).item()
        j = randint(0, w - tw + 1, size=(1,)).item()
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill)
        _, height, width = get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = pad(img, (self.size[1] - width, 0), self.fill)  # as torchvision: both sides
        if self.pad_if_needed and height < self.size[0]:
            img = pad(img, (0, self.size[0] - height), self.fill)
        return crop(img, *self.get_params(img, self.size))

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"
