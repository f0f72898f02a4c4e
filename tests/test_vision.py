"""pygrad.vision: transforms (PIL image <-> tensor, Normalize, Resize, random flips and crops, Compose),
the IDX reader, MNIST over small synthetic IDX files, and scikit-learn's Digits with a DataLoader.

Tests that need Pillow or scikit-learn skip when it is missing (both are in the ``test`` extra).
"""
import gzip
import subprocess
import sys

import numpy as np
import pytest

import pygrad as torch
from pygrad.utils.data import DataLoader
from pygrad.vision import Digits, MNIST, datasets, transforms as T
from pygrad.vision.datasets import read_idx


@pytest.fixture
def Image():
    return pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def sklearn():
    return pytest.importorskip("sklearn")


def rgb_array(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_import_pygrad_does_not_import_pillow_or_sklearn():
    code = "import sys, pygrad; assert 'PIL' not in sys.modules and 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- ToTensor / ToPILImage -------------------------------------------------------------------------------
def test_to_tensor_numpy_rgb_and_grayscale():
    arr = rgb_array()
    t = T.ToTensor()(arr)
    assert t.dtype == torch.float32 and tuple(t.shape) == (3, 5, 7)
    np.testing.assert_array_equal(t.numpy(), arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert 0.0 <= t.min().item() and t.max().item() <= 1.0
    gray = arr[:, :, 0]
    g = T.ToTensor()(gray)
    assert tuple(g.shape) == (1, 5, 7)
    np.testing.assert_array_equal(g.numpy()[0], gray / np.float32(255))
    arr[0, 0, 0] ^= 1  # the tensor is a copy, not a view of the array
    assert t[0, 0, 0].item() != arr[0, 0, 0] / 255


def test_to_tensor_keeps_non_uint8_values():
    arr = np.linspace(0, 3, 12, dtype=np.float32).reshape(2, 2, 3)
    t = T.ToTensor()(arr)
    assert tuple(t.shape) == (3, 2, 2) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), arr.transpose(2, 0, 1))


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="PIL image or a NumPy array"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="H x W"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), dtype=np.uint8))


@pytest.mark.parametrize("mode,channels", [("L", 1), ("RGB", 3), ("RGBA", 4)])
def test_pil_round_trip(Image, mode, channels):
    arr = np.random.default_rng(1).integers(0, 256, size=(6, 4, channels), dtype=np.uint8)
    img = Image.fromarray(arr[:, :, 0] if channels == 1 else arr)
    assert img.mode == mode and img.size == (4, 6)
    t = T.ToTensor()(img)
    assert t.dtype == torch.float32 and tuple(t.shape) == (channels, 6, 4)
    back = T.ToPILImage()(t)
    assert back.mode == mode and back.size == img.size
    np.testing.assert_array_equal(np.array(back), np.array(img))  # exact: uint8 -> /255 -> *255 -> uint8


def test_to_pil_image_from_uint8_tensor_numpy_and_2d(Image):
    arr = rgb_array()
    img = T.ToPILImage()(torch.from_numpy(arr.transpose(2, 0, 1).copy()))
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.array(img), arr)
    img = T.ToPILImage()(arr)  # an H x W x C array goes straight through
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.array(img), arr)
    img = T.ToPILImage()(torch.full((3, 2), 0.5))  # 2-D float tensor: one channel
    assert img.mode == "L" and img.size == (2, 3)
    assert np.array(img).tolist() == [[127, 127]] * 3  # 0.5 * 255 = 127.5, truncated like torchvision
    img = T.ToPILImage(mode="F")(torch.full((1, 2, 2), 0.25))
    assert img.mode == "F" and np.array(img).tolist() == [[0.25, 0.25]] * 2
    img = T.ToPILImage()(torch.zeros(2, 3, 3))
    assert img.mode == "LA"


def test_to_pil_image_errors(Image):
    with pytest.raises(ValueError, match="1 to 4 channels"):
        T.ToPILImage()(torch.zeros(5, 2, 2))
    with pytest.raises(ValueError, match="only modes"):
        T.ToPILImage(mode="L")(torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        T.ToPILImage(mode="RGB")(torch.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="tensor or a NumPy array"):
        T.ToPILImage()([[0]])


# -- Normalize -------------------------------------------------------------------------------------------
def test_normalize_matches_numpy():
    x = torch.rand(3, 4, 5)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    out = T.Normalize(mean, std)(x)
    expected = (x.numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert out is not x and out.dtype == torch.float32
    batch = torch.rand(2, 3, 4, 5)  # a batch of images: per channel along dim -3
    np.testing.assert_allclose(T.Normalize(mean, std)(batch).numpy()[1], T.Normalize(mean, std)(batch[1]).numpy())
    one = T.Normalize((0.5,), (0.25,))(x)  # one value for every channel
    np.testing.assert_allclose(one.numpy(), (x.numpy() - 0.5) / 0.25, rtol=1e-6)


def test_normalize_inplace():
    x = torch.ones(1, 2, 2)
    before = x.clone()
    T.Normalize((0.5,), (0.5,))(x)
    assert torch.equal(x, before)
    out = T.Normalize((0.5,), (0.5,), inplace=True)(x)
    assert out is x and x.tolist() == [[[1.0, 1.0], [1.0, 1.0]]]


def test_normalize_errors():
    x = torch.rand(3, 2, 2)
    with pytest.raises(ValueError, match="mean needs 1 or 3 values"):
        T.Normalize((0.5, 0.5), (1.0,))(x)
    with pytest.raises(ValueError, match="std needs 1 or 3 values"):
        T.Normalize((0.5,), (1.0, 1.0))(x)
    with pytest.raises(ValueError, match="std must not be zero"):
        T.Normalize((0.5, 0.5, 0.5), (1.0, 0.0, 1.0))(x)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(torch.zeros(1, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(..., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(torch.rand(2, 2))


# -- Resize ----------------------------------------------------------------------------------------------
def test_resize_sizes(Image):
    landscape = Image.fromarray(np.zeros((32, 64), dtype=np.uint8))  # 64 wide, 32 high
    portrait = Image.fromarray(np.zeros((50, 20, 3), dtype=np.uint8))  # 20 wide, 50 high
    assert T.Resize(28)(landscape).size == (56, 28)  # smaller edge 28, aspect ratio 2:1 kept
    assert T.Resize(8)(portrait).size == (8, 20)
    assert T.Resize([8])(portrait).size == (8, 20)
    assert T.Resize(9)(portrait).size == (9, 22)  # the long edge rounds down: int(9 * 50 / 20)
    assert T.Resize((10, 12))(landscape).size == (12, 10)  # (h, w) -> PIL's (w, h)
    assert T.Resize(28, max_size=40)(landscape).size == (40, 20)
    assert T.Resize((7, 3))(portrait).mode == "RGB"


def test_resize_nearest_upscale_repeats_pixels(Image):
    arr = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    out = np.array(T.Resize((4, 4), interpolation="nearest")(Image.fromarray(arr)))
    np.testing.assert_array_equal(out, np.repeat(np.repeat(arr, 2, 0), 2, 1))


def test_resize_repr_and_errors():
    assert repr(T.Resize(28)) == "Resize(size=28, interpolation=bilinear, max_size=None, antialias=True)"
    assert T.Resize(28, interpolation=T.InterpolationMode.NEAREST).interpolation == "nearest"
    with pytest.raises(ValueError):
        T.Resize(28, interpolation="cubic-ish")
    with pytest.raises(TypeError, match="Size should be"):
        T.Resize((1, 2, 3))
    with pytest.raises(TypeError, match="before ToTensor"):
        T.Resize(4)(torch.zeros(1, 8, 8))


# -- RandomHorizontalFlip --------------------------------------------------------------------------------
def test_horizontal_flip_p0_p1_tensor():
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    assert torch.equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[:, :, ::-1])


def test_horizontal_flip_p0_p1_pil(Image):
    arr = rgb_array()
    img = Image.fromarray(arr)
    np.testing.assert_array_equal(np.array(T.RandomHorizontalFlip(p=0.0)(img)), arr)
    np.testing.assert_array_equal(np.array(T.RandomHorizontalFlip(p=1.0)(img)), arr[:, ::-1])


def test_horizontal_flip_reproducible_with_manual_seed():
    x = torch.arange(4, dtype=torch.float32).reshape(1, 1, 4)
    flip = T.RandomHorizontalFlip()

    def run():
        torch.manual_seed(123)
        return [flip(x)[0, 0, 0].item() == 3.0 for _ in range(40)]

    first = run()
    assert first == run()
    assert 5 < sum(first) < 35  # both outcomes happen with p = 0.5
    assert repr(flip) == "RandomHorizontalFlip(p=0.5)"


# -- RandomCrop ------------------------------------------------------------------------------------------
def test_random_crop_shapes_and_window(Image):
    arr = np.arange(10 * 12, dtype=np.uint8).reshape(10, 12)  # every pixel value is unique
    img = Image.fromarray(arr)
    out = np.array(T.RandomCrop((4, 6))(img))
    assert out.shape == (4, 6)
    top, left = np.argwhere(arr == out[0, 0])[0]
    np.testing.assert_array_equal(out, arr[top:top + 4, left:left + 6])  # a window of the input
    assert T.RandomCrop(10)(Image.fromarray(arr[:, :10])).size == (10, 10)  # same size: the whole image
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(11)(img)


def test_random_crop_padding_and_fill(Image):
    img = Image.fromarray(np.full((4, 4, 3), 200, dtype=np.uint8))
    out = np.array(T.RandomCrop(8, padding=2, fill=7)(img))  # padded to 8 x 8: the crop is all of it
    assert out.shape == (8, 8, 3)
    assert (out[:2] == 7).all() and (out[:, -2:] == 7).all() and (out[2:6, 2:6] == 200).all()
    out = np.array(T.RandomCrop((6, 4), padding=(0, 1), fill=(1, 2, 3))(img))  # (left/right, top/bottom)
    assert out.shape == (6, 4, 3) and out[0, 0].tolist() == [1, 2, 3] and out[1, 0].tolist() == [200] * 3
    out = T.RandomCrop((6, 5), pad_if_needed=True)(img)
    assert out.size == (5, 6)
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"


def test_random_crop_tensor():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(2, 5, 5)
    out = T.RandomCrop(3)(x)
    assert tuple(out.shape) == (2, 3, 3)
    out = T.RandomCrop(7, padding=1, fill=-1.0)(x)
    assert tuple(out.shape) == (2, 7, 7) and out[0, 0, 0].item() == -1.0 and out[0, 1, 1].item() == 0.0


def test_random_crop_reproducible_with_manual_seed():
    x = torch.arange(100, dtype=torch.float32).reshape(1, 10, 10)
    crop = T.RandomCrop(4, padding=2)

    def run():
        torch.manual_seed(7)
        return [crop(x).tolist() for _ in range(10)]

    first = run()
    assert first == run()
    assert len({str(c) for c in first}) > 1  # the windows do move


# -- Compose ---------------------------------------------------------------------------------------------
def test_compose_order_and_repr():
    calls = []
    tf = T.Compose([T.Lambda(lambda v: calls.append("a") or v * 2), T.Lambda(lambda v: calls.append("b") or v + 1)])
    assert tf(3) == 7 and calls == ["a", "b"]  # (3 * 2) + 1, first transform first
    pipeline = T.Compose([T.ToTensor(), T.Normalize(mean=(0.5,), std=(0.5,))])
    assert repr(pipeline) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"
    out = pipeline(np.array([[0, 255]], dtype=np.uint8))
    assert out.tolist() == [[[-1.0, 1.0]]]


# -- the IDX reader --------------------------------------------------------------------------------------
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(arr):
    """An IDX file's bytes: 0, 0, type code, ndim, big-endian dims, then big-endian data."""
    header = bytes([0, 0, IDX_CODES[arr.dtype], arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, gz=False):
    data = idx_bytes(arr)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    got = read_idx(write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), arr, gz))
    assert got.dtype == arr.dtype and got.dtype.isnative and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, arr)


def test_read_idx_corrupt_header(tmp_path):
    good = idx_bytes(np.zeros((2, 2), dtype=np.uint8))
    cases = {"magic.idx": (b"\x01" + good[1:], "two zero bytes"),
             "type.idx": (good[:2] + b"\x07" + good[3:], "unknown IDX element type code 0x07"),
             "ndim0.idx": (good[:3] + b"\x00", "0 dimensions"),
             "short.idx": (b"\x00\x00", "shorter than the 4-byte magic number"),
             "dims.idx": (good[:6], "truncated IDX header")}
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=message):
            read_idx(tmp_path / name)


def test_read_idx_truncated_and_trailing_data(tmp_path):
    good = idx_bytes(np.zeros((3, 4), dtype=np.int32))
    (tmp_path / "cut.idx").write_bytes(good[:-5])
    with pytest.raises(ValueError, match=r"truncated: shape \(3, 4\) of int32 needs 48 bytes .* found 43"):
        read_idx(tmp_path / "cut.idx")
    (tmp_path / "long.idx").write_bytes(good + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(tmp_path / "long.idx")
    with gzip.open(tmp_path / "cut.idx.gz", "wb") as f:
        f.write(good[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "cut.idx.gz")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:-10])  # a cut-off gzip stream
    with pytest.raises(ValueError, match="could not read"):
        read_idx(tmp_path / "broken.gz")


# -- MNIST over synthetic files --------------------------------------------------------------------------
def make_mnist(folder, n_train=5, n_test=3, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sets = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        sets[prefix] = images, labels
    return sets


def test_mnist_data_and_targets(tmp_path):
    sets = make_mnist(tmp_path)
    train, test = MNIST(tmp_path), MNIST(str(tmp_path), train=False)
    assert len(train) == 5 and len(test) == 3
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (5, 28, 28)
    assert test.targets.dtype == torch.int64 and test.targets.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(train.data.numpy(), sets["train"][0])
    assert "Number of datapoints: 5" in repr(train) and "Split: Test" in repr(test)


def test_mnist_items(tmp_path, Image):
    images, labels = make_mnist(tmp_path, gz=True)["train"]
    ds = MNIST(tmp_path)
    img, label = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    assert type(label) is int and label == 3
    np.testing.assert_array_equal(np.array(img), images[3])
    ds = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))]),
               target_transform=lambda y: y + 100)
    x, y = ds[-1]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == torch.float32 and y == 104
    np.testing.assert_allclose(x.numpy()[0], (images[4] / np.float32(255) - 0.5) / 0.5, rtol=1e-6, atol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28) and yb.tolist() == [100, 101, 102, 103]


def test_mnist_torchvision_layout_and_missing_files(tmp_path):
    make_mnist(tmp_path / "MNIST" / "raw", n_train=2)
    assert len(MNIST(tmp_path)) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="'train-images-idx3-ubyte'.*not found.*does not download"):
        MNIST(empty)
    make_mnist(empty)
    (empty / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte"):
        MNIST(empty, train=False)


def test_mnist_label_count_mismatch(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        MNIST(tmp_path)


# -- Digits ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits(sklearn):
    return Digits(train=True), Digits(train=False)


def test_digits_sizes_dtypes_and_range(digits):
    train, test = digits
    assert len(train) + len(test) == 1797 and len(test) == 360  # ceil(0.2 * 1797)
    x, y = train[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == (1, 8, 8) and type(y) is int and 0 <= y <= 9
    assert train.data.dtype == torch.float32 and tuple(train.data.shape) == (len(train), 8, 8)
    assert train.targets.dtype == torch.int64
    assert train.data.min().item() == 0.0 and train.data.max().item() == 1.0
    assert set(test.targets.tolist()) == set(range(10))
    levels = np.unique(train.data.numpy() * 16)
    np.testing.assert_allclose(levels, np.arange(17))  # 0..16 scaled by 1/16 exactly


def test_digits_split_is_disjoint_and_deterministic(digits):
    train, test = digits
    assert not set(train.indices.tolist()) & set(test.indices.tolist())
    assert len(set(train.indices.tolist()) | set(test.indices.tolist())) == 1797
    again = Digits(train=False)
    np.testing.assert_array_equal(again.indices, test.indices)
    assert torch.equal(again.data, test.data)
    other = Digits(train=False, seed=1)
    assert not np.array_equal(other.indices, test.indices)
    assert len(Digits(train=False, test_fraction=0.5)) == 899
    with pytest.raises(ValueError, match="test_fraction"):
        Digits(test_fraction=1.0)


def test_digits_transform_and_dataloader(digits, sklearn):
    ds = Digits(train=False, transform=T.Normalize((0.5,), (0.5,)), target_transform=lambda y: -y)
    x, y = ds[5]
    raw_x, raw_y = digits[1][5]
    assert torch.allclose(x, (raw_x - 0.5) / 0.5) and y == -raw_y
    torch.manual_seed(0)
    batches = list(DataLoader(digits[0], batch_size=32, shuffle=True))
    assert tuple(batches[0][0].shape) == (32, 1, 8, 8) and batches[0][0].dtype == torch.float32
    assert batches[0][1].dtype == torch.int64 and tuple(batches[0][1].shape) == (32,)
    assert sum(len(b[1]) for b in batches) == len(digits[0])


def test_exports():
    import pygrad

    assert pygrad.vision.MNIST is MNIST and pygrad.vision.Digits is Digits
    assert pygrad.vision.datasets is datasets and pygrad.vision.transforms is T
