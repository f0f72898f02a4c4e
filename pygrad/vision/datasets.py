"""Image datasets: ``MNIST`` (from local IDX files) and ``Digits`` (scikit-learn's bundled 8 x 8 digits).

Both are map-style ``Dataset``s: ``ds[i]`` is ``(image, label)`` and ``len(ds)`` the number of samples,
so they plug straight into ``pygrad.utils.data.DataLoader``::

    from pygrad.utils.data import DataLoader
    from pygrad.vision import Digits

    loader = DataLoader(Digits(train=True), batch_size=64, shuffle=True)
    images, labels = next(iter(loader))      # float32 (64, 1, 8, 8) and int64 (64,)

Nothing is downloaded: ``MNIST`` reads files you put in a folder, and ``Digits`` ships with
scikit-learn, so it works offline (handy for a first CNN in a classroom).
"""
import gzip
import os

import numpy as np

from ..creation import from_numpy
from ..utils.data import Dataset

__all__ = ["read_idx", "MNIST", "Digits"]


# -- the IDX file format ---------------------------------------------------------------------------------
# An IDX file is a tiny header followed by the raw array, all numbers big-endian:
#   bytes 0-1: zero        byte 2: the element type (a code below)     byte 3: the number of dimensions
#   then one 4-byte unsigned int per dimension, then the elements in row-major (C) order.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),  # unsigned byte (MNIST images and labels)
    0x09: np.dtype(">i1"),  # signed byte
    0x0B: np.dtype(">i2"),  # short
    0x0C: np.dtype(">i4"),  # int
    0x0D: np.dtype(">f4"),  # float
    0x0E: np.dtype(">f8"),  # double
}


def _read_bytes(path):
    """The bytes of ``path``, decompressed if the name ends in ``.gz``."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def read_idx(path):
    """Read an IDX file (``.gz`` too) into a NumPy array of the stored type and shape.

    Raises ``ValueError`` with the reason when the header is not a valid IDX header or when the
    file holds fewer (or more) bytes than the header announces.
    """
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError) as e:  # e.g. a truncated or not-really-gzip ``.gz`` file
        raise ValueError(f"{path}: could not read the file: {e}") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(raw)} bytes, shorter than the 4-byte magic number")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"{path}: not an IDX file: the magic number {raw[:4].hex()} should start with two "
                         "zero bytes")
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX element type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header announces 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {header_size} header bytes, "
                         f"the file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX data {problem}: shape {shape} of {dtype.name} needs {expected} bytes "
                         f"after the header, found {found}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order (and a writable copy)


# -- MNIST -----------------------------------------------------------------------------------------------
class MNIST(Dataset):
    """The MNIST handwritten digits (60 000 training and 10 000 test images, 28 x 28 grey levels).

    ``root`` is a folder holding the four IDX files, plain or gzipped::

        train-images-idx3-ubyte   train-labels-idx1-ubyte   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

    (directly in ``root`` or in ``root/MNIST/raw``, where torchvision keeps them).  ``ds[i]`` is
    ``(image, label)``: a PIL image (mode ``'L'``) passed through ``transform`` if given -- so
    ``transform=ToTensor()`` gives a float32 1 x 28 x 28 tensor -- and an int label passed through
    ``target_transform``.  ``ds.data`` is the uint8 tensor N x 28 x 28, ``ds.targets`` the int64 labels.
    """

    resources = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.download = download  # accepted as in torchvision; files already in place are used, none fetched
        images_name, labels_name = self.resources[bool(train)]
        images = read_idx(self._find(images_name))
        labels = read_idx(self._find(labels_name))
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(f"MNIST: expected images N x H x W and labels N, got shapes {images.shape} "
                             f"and {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"MNIST: {len(images)} images but {len(labels)} labels")
        self.data = from_numpy(images.astype(np.uint8))
        self.targets = from_numpy(labels.astype(np.int64))

    def _find(self, name):
        """The path of IDX file ``name`` (plain or ``.gz``), or a RuntimeError saying where to put it."""
        folders = [self.root, os.path.join(self.root, "MNIST", "raw")]
        for folder in folders:
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        why = ("download=True was given, but pygrad never downloads datasets (no network access)"
               if getattr(self, "download", False) else "pygrad does not download datasets")
        raise RuntimeError(
            f"MNIST file '{name}' (or '{name}.gz') not found in {' or '.join(repr(f) for f in folders)}. "
            f"{why}: get the four MNIST IDX files (e.g. from a mirror such as "
            "https://ossci-datasets.s3.amazonaws.com/mnist/) and put them, gzipped or not, in that folder.")

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        from .transforms import _pil_image_module

        index = int(index)
        img = _pil_image_module().fromarray(self.data.numpy()[index])  # a 2-D uint8 array -> mode 'L'
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines += ["    Transform: " + repr(self.transform).replace("\n", "\n    ")]
        if self.target_transform is not None:
            lines += [f"    Target transform: {self.target_transform!r}"]
        return "\n".join(lines)


# -- scikit-learn's 8 x 8 digits -------------------------------------------------------------------------
class Digits(Dataset):
    """scikit-learn's bundled handwritten digits: 1797 grey 8 x 8 images of 0-9, no download needed.

    The images are split once into a training and a test part: a random permutation seeded by
    ``seed`` puts ``test_fraction`` of them (rounded up) in the test part, so ``Digits(train=True)`` and
    ``Digits(train=False)`` with the same ``seed`` are disjoint and always the same.

    ``ds[i]`` is ``(image, label)``: a float32 1 x 8 x 8 tensor with the original 0..16 grey levels
    scaled to [0, 1] (passed through ``transform`` if given -- a tensor transform such as ``Normalize``)
    and an int label (passed through ``target_transform``).  ``ds.data`` holds all images as an
    N x 8 x 8 float32 tensor, ``ds.targets`` the int64 labels.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train=True, transform=None, target_transform=None, test_fraction=0.2, seed=0):
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("Digits needs scikit-learn (it ships the images): pip install scikit-learn "
                              "(or pip install 'pygrad[demo]')") from None
        digits = load_digits()
        n = len(digits.target)
        order = np.random.default_rng(seed).permutation(n)
        n_test = int(np.ceil(test_fraction * n))
        indices = np.sort(order[n_test:] if train else order[:n_test])  # keep the bundled order inside a split
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.indices = indices  # positions in sklearn's array: which images this split holds
        self.data = from_numpy((digits.images[indices] / 16.0).astype(np.float32))  # 0..16 -> [0, 1]
        self.targets = from_numpy(digits.target[indices].astype(np.int64))

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        index = int(index)
        img = from_numpy(self.data.numpy()[index][None].copy())  # 1 x 8 x 8: one channel, like a tensor image
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines += ["    Transform: " + repr(self.transform).replace("\n", "\n    ")]
        return "\n".join(lines)
