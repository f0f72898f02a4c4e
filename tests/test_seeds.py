"""The deterministic examples of the course notes (/work/shared/seeds), with their exact printed text.

Each test runs the notes' code with ``import pygrad as torch`` and compares what ``print`` shows
with what PyTorch 2.13 prints for the same code (random tensors are replaced by the values the
notes print, so the text is deterministic).  Where an old PyTorch in the notes printed
differently (``1.0000`` for whole floats, extra padding), modern PyTorch's text is expected.
"""
import numpy as np

import pygrad as torch

X4x10 = [[2, 9, 2, 0, 0, 2, 6, 7, 9, 4],
         [1, 1, 6, 1, 2, 9, 4, 1, 3, 0],
         [0, 6, 5, 7, 9, 2, 1, 6, 0, 6],
         [6, 5, 3, 9, 4, 6, 1, 8, 0, 5]]


def printed(capsys, *values):
    """What ``print(*values)`` writes, without the final newline."""
    capsys.readouterr()
    print(*values)
    return capsys.readouterr().out[:-1]


def test_sum(capsys):
    x = torch.tensor([[4, 1, 0], [0, 4, 2]])
    assert printed(capsys, x) == "tensor([[4, 1, 0],\n        [0, 4, 2]])"
    assert printed(capsys, x.sum()) == "tensor(11)"
    assert printed(capsys, x.sum(dim=0)) == "tensor([4, 5, 2])"
    assert printed(capsys, x.sum(dim=1)) == "tensor([5, 6])"
    assert printed(capsys, x.float().sqrt()) == "tensor([[2.0000, 1.0000, 0.0000],\n        [0.0000, 2.0000, 1.4142]])"


def test_min_and_mean(capsys):
    x = torch.tensor([[4, -5, 0], [0, -2, -4]])
    assert printed(capsys, x) == "tensor([[ 4, -5,  0],\n        [ 0, -2, -4]])"
    assert printed(capsys, x.min()) == "tensor(-5)"
    assert printed(capsys, x.min(dim=0)) == (
        "torch.return_types.min(\nvalues=tensor([ 0, -5, -4]),\nindices=tensor([1, 0, 1]))")
    assert printed(capsys, x.min(dim=1)) == "torch.return_types.min(\nvalues=tensor([-5, -4]),\nindices=tensor([1, 2]))"
    assert printed(capsys, x.float().mean()) == "tensor(-1.1667)"
    assert printed(capsys, x.float().mean(dim=0)) == "tensor([ 2.0000, -3.5000, -2.0000])"
    assert printed(capsys, x.float().mean(dim=1)) == "tensor([-0.3333, -2.0000])"


def test_argmax(capsys):
    x = torch.tensor([[3, -1, 0], [1, 1, 5]])
    assert printed(capsys, x.argmax(dim=0)) == "tensor([0, 1, 1])"
    assert printed(capsys, x.argmax(dim=1)) == "tensor([0, 2])"
    assert x.argmin(dim=1).tolist() == [1, 0]


def test_slicing_the_4x10_matrix(capsys):
    x = torch.tensor(X4x10)
    assert printed(capsys, x[:, 3:8:2]) == ("tensor([[0, 2, 7],\n        [1, 9, 1],\n        [7, 2, 6],\n"
                                            "        [9, 6, 8]])")
    five = "tensor([[0, 0, 2, 6, 7],\n        [1, 2, 9, 4, 1],\n        [7, 9, 2, 1, 6],\n        [9, 4, 6, 1, 8]])"
    assert printed(capsys, x[:, 3:8:1]) == five
    assert printed(capsys, x[:, 3:8:]) == five
    assert printed(capsys, x[:, 3:8]) == five
    assert printed(capsys, x[:, -4:-1:]) == ("tensor([[6, 7, 9],\n        [4, 1, 3],\n        [1, 6, 0],\n"
                                             "        [1, 8, 0]])")
    assert printed(capsys, x[1:20:2, 3:8:]) == "tensor([[1, 2, 9, 4, 1],\n        [9, 4, 6, 1, 8]])"
    assert printed(capsys, x[:, [3, 1, 0, 0]]) == ("tensor([[0, 9, 2, 2],\n        [1, 1, 1, 1],\n"
                                                   "        [7, 6, 0, 0],\n        [9, 5, 6, 6]])")
    assert torch.equal(x[1::2, :], x[1::2])


def test_setitem_slices(capsys):
    x = torch.tensor([[2, 9, 2, 0, 0], [2, 6, 7, 9, 4], [1, 1, 6, 1, 2], [9, 4, 1, 3, 0]])
    x[:, 2::2] = torch.zeros(4, 2)
    assert printed(capsys, x) == ("tensor([[2, 9, 0, 0, 0],\n        [2, 6, 0, 9, 0],\n        [1, 1, 0, 1, 0],\n"
                                  "        [9, 4, 0, 3, 0]])")
    assert torch.zeros_like(x).shape == x.shape and torch.ones_like(x).sum().item() == 20


def test_boolean_mask(capsys):
    x = torch.tensor([[-1, -4, 5, 0], [1, 2, 7, -5], [-4, 2, 1, 7]])
    assert printed(capsys, x) == "tensor([[-1, -4,  5,  0],\n        [ 1,  2,  7, -5],\n        [-4,  2,  1,  7]])"
    assert printed(capsys, x[x <= 0]) == "tensor([-1, -4,  0, -5, -4])"
    x[x <= 0] = 0
    assert printed(capsys, x) == "tensor([[0, 0, 5, 0],\n        [1, 2, 7, 0],\n        [0, 2, 1, 7]])"


def test_division_and_log2(capsys):
    x = torch.tensor([[3, 5, 0], [1, 1, 5]])
    y = torch.tensor([[1, 2, 7], [4, 2, 5]])
    assert printed(capsys, x.float() / y) == "tensor([[3.0000, 2.5000, 0.0000],\n        [0.2500, 0.5000, 1.0000]])"
    x = torch.tensor([[4, 4, 1, 3], [1, 3, 3, 1], [2, 3, 3, 3]])
    x = x / 2.
    assert printed(capsys, x) == ("tensor([[2.0000, 2.0000, 0.5000, 1.5000],\n"
                                  "        [0.5000, 1.5000, 1.5000, 0.5000],\n"
                                  "        [1.0000, 1.5000, 1.5000, 1.5000]])")
    assert printed(capsys, torch.log2(x)) == ("tensor([[ 1.0000,  1.0000, -1.0000,  0.5850],\n"
                                              "        [-1.0000,  0.5850,  0.5850, -1.0000],\n"
                                              "        [ 0.0000,  0.5850,  0.5850,  0.5850]])")


def test_broadcasting(capsys):
    x = torch.tensor([[3], [2], [3]])
    y = torch.tensor([[-1, 1, -1, 3]])
    assert printed(capsys, x) == "tensor([[3],\n        [2],\n        [3]])"
    assert printed(capsys, y) == "tensor([[-1,  1, -1,  3]])"
    assert printed(capsys, x + y) == "tensor([[2, 4, 2, 6],\n        [1, 3, 1, 5],\n        [2, 4, 2, 6]])"


def test_dot_mm_cat(capsys):
    assert printed(capsys, torch.dot(torch.tensor([5, 3, 2, 0]), torch.tensor([4, -1, 0, 2]))) == "tensor(17)"
    x = torch.tensor([[2, 1, 2], [1, 1, 0]])
    y = torch.tensor([[0, -2, 0, 2], [2, -2, 2, 1], [-1, 2, 1, -1]])
    assert printed(capsys, torch.mm(x, y)) == "tensor([[ 0, -2,  4,  3],\n        [ 2, -4,  2,  3]])"
    x1 = torch.tensor([[5, 0, 2, 5], [1, 4, 0, 3], [5, 5, 2, 5]])
    x2 = torch.tensor([[3, 5], [4, 1], [0, 2]])
    assert printed(capsys, torch.cat([x1, x2], dim=1)) == ("tensor([[5, 0, 2, 5, 3, 5],\n        [1, 4, 0, 3, 4, 1],\n"
                                                           "        [5, 5, 2, 5, 0, 2]])")
    parts = [torch.zeros(3, n, 5, 6, 7, dtype=torch.int64) for n in (2, 5, 6, 7)]
    assert printed(capsys, torch.cat(parts, dim=1).shape) == "torch.Size([3, 20, 5, 6, 7])"
    z = torch.matmul(torch.zeros(5, 7, 2, 3), torch.zeros(5, 7, 3, 4))
    assert printed(capsys, torch.zeros(5, 7, 2, 3).shape, "*", torch.zeros(5, 7, 3, 4).shape, "-->", z.shape) == (
        "torch.Size([5, 7, 2, 3]) * torch.Size([5, 7, 3, 4]) --> torch.Size([5, 7, 2, 4])")


def test_shape_prints(capsys):
    x = torch.zeros(10, 20, dtype=torch.int64)
    assert printed(capsys, x.shape) == "torch.Size([10, 20])"
    assert printed(capsys, x.unsqueeze(0).shape) == "torch.Size([1, 10, 20])"
    assert printed(capsys, x.unsqueeze(1).shape) == "torch.Size([10, 1, 20])"
    x = torch.zeros(1, 1, 1, 10, 20)
    assert printed(capsys, x.squeeze(2).shape) == "torch.Size([1, 1, 10, 20])"
    assert printed(capsys, x.squeeze(3).shape) == "torch.Size([1, 1, 1, 10, 20])"
    assert printed(capsys, x.squeeze().shape) == "torch.Size([10, 20])"
    x = torch.zeros(2, 4)
    assert printed(capsys, x.shape, x.t().shape) == "torch.Size([2, 4]) torch.Size([4, 2])"
    x = torch.zeros(2, 4, 6, 8)
    assert printed(capsys, x.shape, x.transpose(0, 2).shape) == "torch.Size([2, 4, 6, 8]) torch.Size([6, 4, 2, 8])"
    assert printed(capsys, torch.zeros(10, 20).reshape(10, 4, 5).shape) == "torch.Size([10, 4, 5])"
    assert printed(capsys, torch.zeros(4, 4).view(-1, 8).size()) == "torch.Size([2, 8])"
    x0, x3 = torch.tensor(2), torch.tensor([[2, 3, 4], [5, 6, 7]])
    assert "{} {} {} {}".format(x0.ndim, x0.size(), x3.ndim, x3.size()) == "0 torch.Size([]) 2 torch.Size([2, 3])"


def test_int32_matrix(capsys):
    x = torch.tensor([[1, 2], [3, 4], [5, 10]], dtype=torch.int32)
    assert printed(capsys, x) == "tensor([[ 1,  2],\n        [ 3,  4],\n        [ 5, 10]], dtype=torch.int32)"
    assert printed(capsys, x.size()) == "torch.Size([3, 2])"
    assert printed(capsys, x.view(2, 3)) == "tensor([[ 1,  2,  3],\n        [ 4,  5, 10]], dtype=torch.int32)"
    assert printed(capsys, x.t()) == "tensor([[ 1,  3,  5],\n        [ 2,  4, 10]], dtype=torch.int32)"
    assert printed(capsys, x.max()) == "tensor(10, dtype=torch.int32)"
    assert printed(capsys, x.dtype) == "torch.int32"
    assert x.dim() == 2
    x[1, 1] = 100
    assert x[1, 1].item() == 100


def test_ones_numpy_and_types(capsys):
    assert printed(capsys, torch.ones(5)) == "tensor([1., 1., 1., 1., 1.])"
    assert printed(capsys, torch.from_numpy(np.ones(5))) == "tensor([1., 1., 1., 1., 1.], dtype=torch.float64)"
    t = torch.ones(5)
    assert printed(capsys, f"t: {t}") == "t: tensor([1., 1., 1., 1., 1.])"
    assert printed(capsys, f"n: {t.numpy()}") == "n: [1. 1. 1. 1. 1.]"
    a = torch.tensor([1, 2], dtype=torch.int32)
    assert printed(capsys, a) == "tensor([1, 2], dtype=torch.int32)"
    assert printed(capsys, a.type(torch.float)) == "tensor([1., 2.])"
    assert printed(capsys, a.double()) == "tensor([1., 2.], dtype=torch.float64)"
    assert printed(capsys, torch.tensor([1, 2]).int()) == "tensor([1, 2], dtype=torch.int32)"
    assert printed(capsys, torch.tensor(np.arange(1))) == "tensor([0])"


def test_attributes_in_f_strings():
    t = torch.rand(3, 4)
    assert f"{t.shape}" == "torch.Size([3, 4])"
    assert f"{t.dtype}" == "torch.float32"
    assert f"{t.device}" == "cpu"
    assert torch.cuda.is_available() is False


def test_creation_examples(capsys):
    assert printed(capsys, torch.tensor([[1., -1.], [1., -1.]])) == "tensor([[ 1., -1.],\n        [ 1., -1.]])"
    assert printed(capsys, torch.tensor(np.array([[1, 2, 3], [4, 5, 6]]))) == "tensor([[1, 2, 3],\n        [4, 5, 6]])"
    assert printed(capsys, torch.Tensor(data=[[1.1, 1.2, 1.3], [2.2, 2.3, 2.4]])) == (
        "tensor([[1.1000, 1.2000, 1.3000],\n        [2.2000, 2.3000, 2.4000]])")
    assert printed(capsys, torch.IntTensor([[1.1, 2, 3.7], [4, 5, 6]])) == (
        "tensor([[1, 2, 3],\n        [4, 5, 6]], dtype=torch.int32)")
    assert printed(capsys, torch.FloatTensor([[1.1, 2, 3.7], [4, 5, 6]])) == (
        "tensor([[1.1000, 2.0000, 3.7000],\n        [4.0000, 5.0000, 6.0000]])")
    assert printed(capsys, torch.arange(start=0, end=10, step=2)) == "tensor([0, 2, 4, 6, 8])"
    assert printed(capsys, torch.linspace(start=0, end=9, steps=9)) == (
        "tensor([0.0000, 1.1250, 2.2500, 3.3750, 4.5000, 5.6250, 6.7500, 7.8750, 9.0000])")
    assert printed(capsys, torch.arange(12).reshape(3, 4)) == (
        "tensor([[ 0,  1,  2,  3],\n        [ 4,  5,  6,  7],\n        [ 8,  9, 10, 11]])")
    assert printed(capsys, torch.full_like(input=torch.tensor([[1, 2], [3, 4]]), fill_value=100)) == (
        "tensor([[100, 100],\n        [100, 100]])")
    assert printed(capsys, torch.full(size=(2, 3, 4), fill_value=10)[1]) == (
        "tensor([[10, 10, 10, 10],\n        [10, 10, 10, 10],\n        [10, 10, 10, 10]])")
    t1 = torch.tensor(data=10)
    assert printed(capsys, t1, t1.shape, t1.item()) == "tensor(10) torch.Size([]) 10"
    t1 = torch.tensor(data=[[1., 2., 3.], [4., 5., 6.]], dtype=torch.float16)
    assert printed(capsys, t1.dtype, t1.type(dtype=torch.FloatTensor).dtype, t1.type(dtype=torch.int64).dtype) == (
        "torch.float16 torch.float32 torch.int64")


def test_numpy_memory_sharing_examples(capsys):
    n1 = np.array([[1, 2, 3], [4, 5, 6]])
    t1 = torch.from_numpy(n1)
    t1[0][0] = 8888
    assert printed(capsys, t1) == "tensor([[8888,    2,    3],\n        [   4,    5,    6]])"
    assert printed(capsys, n1) == "[[8888    2    3]\n [   4    5    6]]"
    t1 = torch.tensor([[1, 2, 3], [4, 5, 6]])
    n1 = t1.numpy()
    n1[0][0] = 100
    assert printed(capsys, t1) == "tensor([[100,   2,   3],\n        [  4,   5,   6]])"


def test_arithmetic_examples(capsys):
    t1 = torch.tensor(data=[1, 2, 3, 4])
    t2 = t1 + 10
    assert printed(capsys, t2) == "tensor([11, 12, 13, 14])"
    assert printed(capsys, t1 + t2) == "tensor([12, 14, 16, 18])"
    assert printed(capsys, torch.add(input=t1, other=100)) == "tensor([101, 102, 103, 104])"
    t5 = t1.neg_()
    assert printed(capsys, t1, t5) == "tensor([-1, -2, -3, -4]) tensor([-1, -2, -3, -4])"
    a, b = torch.tensor(data=[1, 2]), torch.tensor(data=[[5, 6], [7, 8]])
    assert printed(capsys, a * b) == "tensor([[ 5, 12],\n        [ 7, 16]])"
    assert printed(capsys, torch.mul(input=a, other=b)) == "tensor([[ 5, 12],\n        [ 7, 16]])"
    m1, m2 = torch.tensor(data=[[1, 2], [3, 4]]), torch.tensor(data=[[5, 6, 7], [8, 9, 10]])
    assert printed(capsys, m1 @ m2) == "tensor([[21, 24, 27],\n        [47, 54, 61]])"
    assert printed(capsys, torch.matmul(input=m1, other=m2)) == "tensor([[21, 24, 27],\n        [47, 54, 61]])"


def test_reduction_and_math_function_examples(capsys):
    t1 = torch.tensor(data=[[1., 2, 3, 4], [5, 6, 7, 8]])
    assert printed(capsys, t1.mean()) == "tensor(4.5000)"
    assert printed(capsys, t1.mean(dim=0)) == "tensor([3., 4., 5., 6.])"
    assert printed(capsys, t1.mean(dim=1)) == "tensor([2.5000, 6.5000])"
    assert printed(capsys, t1.sum(), t1.sum(dim=1)) == "tensor(36.) tensor([10., 26.])"
    assert printed(capsys, torch.pow(input=t1, exponent=2)) == (
        "tensor([[ 1.,  4.,  9., 16.],\n        [25., 36., 49., 64.]])")
    assert printed(capsys, t1.sqrt()) == (
        "tensor([[1.0000, 1.4142, 1.7321, 2.0000],\n        [2.2361, 2.4495, 2.6458, 2.8284]])")
    assert printed(capsys, torch.exp(input=t1)) == (
        "tensor([[2.7183e+00, 7.3891e+00, 2.0086e+01, 5.4598e+01],\n"
        "        [1.4841e+02, 4.0343e+02, 1.0966e+03, 2.9810e+03]])")
    assert printed(capsys, torch.log(input=t1)) == (
        "tensor([[0.0000, 0.6931, 1.0986, 1.3863],\n        [1.6094, 1.7918, 1.9459, 2.0794]])")
    assert printed(capsys, t1.log10()) == (
        "tensor([[0.0000, 0.3010, 0.4771, 0.6021],\n        [0.6990, 0.7782, 0.8451, 0.9031]])")


def test_tensor_ops_chapter(capsys):
    tensor = torch.ones(4, 4)
    tensor[:, 1] = 0
    row = "[1., 0., 1., 1.]"
    assert printed(capsys, tensor) == "tensor([" + ",\n        ".join([row] * 4) + "])"
    wide = "[1., 0., 1., 1., 1., 0., 1., 1., 1., 0., 1., 1.]"
    assert printed(capsys, torch.cat([tensor, tensor, tensor], dim=1)) == "tensor([" + ",\n        ".join([wide] * 4) + "])"
    assert printed(capsys, f"tensor * tensor: \n {tensor * tensor}") == (
        "tensor * tensor: \n tensor([" + ",\n        ".join([row] * 4) + "])")
    three = "[3., 3., 3., 3.]"
    assert printed(capsys, tensor @ tensor.T) == "tensor([" + ",\n        ".join([three] * 4) + "])"
    assert torch.equal(tensor.matmul(tensor.T), tensor @ tensor.T)
    tensor.add_(5)
    assert printed(capsys, tensor[0]) == "tensor([6., 5., 6., 6.])"
    x = torch.ones(5, 3).new_ones(5, 3, dtype=torch.float)
    assert printed(capsys, (x + 10)[:2]) == "tensor([[11., 11., 11.],\n        [11., 11., 11.]])"
    assert printed(capsys, torch.ones(1).to("cpu", torch.double)) == "tensor([1.], dtype=torch.float64)"
