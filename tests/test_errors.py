"""Errors: each misuse raises the exception type PyTorch raises, with a message naming the problem.

Students catch and read these, so the *type* matters (``except RuntimeError`` around a shape
mismatch) and so does the text (the sizes involved).  Types were checked against PyTorch 2.13.
"""
import numpy as np
import pytest

import pygrad as torch


def raises(exc, fn, match=None):
    with pytest.raises(exc, match=match) as info:
        fn()
    assert type(info.value) is exc, f"expected exactly {exc.__name__}, got {type(info.value).__name__}"


# -- shapes --------------------------------------------------------------------------------------
def test_broadcast_mismatch_names_sizes():
    raises(RuntimeError, lambda: torch.zeros(2, 3) + torch.zeros(3, 2),
           r"The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1")
    raises(RuntimeError, lambda: torch.tensor([1, 2]) + torch.tensor([1, 2, 3]), r"\(2\).*\(3\)")
    raises(RuntimeError, lambda: torch.zeros(4).mul_(torch.zeros(2, 4)), "doesn't match the broadcast shape")
    raises(RuntimeError, lambda: torch.where(torch.ones(2, dtype=torch.bool), torch.zeros(3), 0.))


def test_matmul_cat_view_shape_errors():
    raises(RuntimeError, lambda: torch.ones(2, 3) @ torch.ones(4, 5), r"\(2x3 and 4x5\)")
    raises(RuntimeError, lambda: torch.mm(torch.ones(2, 3), torch.ones(2, 3)), r"\(2x3 and 2x3\)")
    raises(RuntimeError, lambda: torch.cat([torch.zeros(2, 3), torch.zeros(3, 2)]),
           "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 2")
    raises(RuntimeError, lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 3, 1)]), "same number of dimensions")
    raises(RuntimeError, lambda: torch.stack([torch.zeros(2), torch.zeros(3)]), r"\[2\] at entry 0 and \[3\]")
    raises(RuntimeError, lambda: torch.zeros(2, 3).view(4), r"shape '\[4\]' is invalid for input of size 6")
    raises(RuntimeError, lambda: torch.zeros(2, 3).view(-1, 4), "invalid for input of size 6")
    raises(RuntimeError, lambda: torch.zeros(2, 3).reshape(5), "invalid for input of size 6")
    raises(RuntimeError, lambda: torch.zeros(2, 3).t().view(6), "view size is not compatible")
    raises(RuntimeError, lambda: torch.zeros(2, 3).expand(3, 3), r"expanded size of the tensor \(3\) must match")
    raises(RuntimeError, lambda: torch.zeros(2, 3).permute(0), "number of dimensions")
    raises(RuntimeError, lambda: torch.zeros(2, 3).split([1, 3], 1), "sum exactly to 3")


def test_dimension_out_of_range_is_index_error():
    x = torch.zeros(2, 3)
    raises(IndexError, lambda: x.unsqueeze(4), r"Dimension out of range \(expected to be in range of \[-3, 2\]")
    for fn in (lambda: x.sum(2), lambda: x.transpose(0, 2), lambda: x.squeeze(3),
               lambda: x.softmax(-3), lambda: x.max(dim=5), lambda: x.flip(2), lambda: x.size(2),
               lambda: x.narrow(2, 0, 1), lambda: x.cumsum(2), lambda: torch.cat([x, x], 2)):
        raises(IndexError, fn, r"Dimension out of range \(expected to be in range of \[-2, 1\]")


# -- scalars out of tensors ----------------------------------------------------------------------------
def test_item_len_bool_conversions():
    raises(RuntimeError, lambda: torch.tensor([1, 2]).item(), "a Tensor with 2 elements cannot be converted to Scalar")
    raises(RuntimeError, lambda: torch.tensor([]).item(), "a Tensor with 0 elements")
    raises(TypeError, lambda: len(torch.tensor(1)), "len\\(\\) of a 0-d tensor")
    raises(TypeError, lambda: iter(torch.tensor(1)), "iteration over a 0-d tensor")
    raises(RuntimeError, lambda: bool(torch.tensor([1, 2])), "^Boolean value of Tensor with more than one value is ambiguous$")
    raises(RuntimeError, lambda: bool(torch.tensor([])), "Boolean value of Tensor with no values is ambiguous")
    raises(RuntimeError, lambda: 1 if torch.tensor([1, 2]) > 0 else 0, "ambiguous")
    raises(TypeError, lambda: [10, 20][torch.tensor(1.)], "only integer tensors of a single element")
    assert bool(torch.tensor([0])) is False and bool(torch.tensor(2.)) is True
    assert int(torch.tensor([3.7])) == 3 and float(torch.tensor(2)) == 2.0 and len(torch.zeros(3, 2)) == 3
    assert [10, 20][torch.tensor(1)] == 20


def test_int_float_of_many_elements_is_value_error():
    raises(ValueError, lambda: int(torch.tensor([1, 2])), "only one element tensors")
    raises(ValueError, lambda: float(torch.tensor([1., 2])), "only one element tensors")


# -- argument types -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: torch.zeros("a", 3), lambda: torch.zeros(2.5), lambda: torch.ones(2, 3).reshape(2.0, 3),
    lambda: torch.ones(2).view(None), lambda: torch.ones(2).expand("a"), lambda: torch.ones(2).permute("a"),
    lambda: torch.ones(2).transpose(0.0, 0), lambda: torch.ones(2).unsqueeze(1.5), lambda: torch.ones(2).sum("a"),
    lambda: torch.ones(2) + "a", lambda: torch.ones(2) + [1, 2], lambda: torch.ones(2).add(None),
    lambda: torch.ones(2).mul(None), lambda: torch.ones(2).pow("a"), lambda: torch.ones(2) < "a",
    lambda: torch.ones(2) @ 3, lambda: torch.cat(torch.zeros(2, 3)), lambda: torch.cat([torch.zeros(2), 1]),
    lambda: torch.tensor("a"), lambda: torch.from_numpy([1, 2]), lambda: torch.ones(2).copy_([1, 2]),
    lambda: torch.full((2,), "a"), lambda: torch.set_default_dtype(torch.int32), lambda: torch.device(3.5),
    lambda: torch.ones(2)[1:2.5], lambda: ~torch.ones(2), lambda: torch.randint(5),
], ids=lambda f: "")
def test_wrong_argument_types_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_empty_sequence_errors():
    raises(ValueError, lambda: torch.cat([]), "non-empty list of Tensors")
    raises(RuntimeError, lambda: torch.stack([]), "non-empty")
    raises(ValueError, lambda: torch.tensor([[1, 2], [3]]))


# -- dtypes -----------------------------------------------------------------------------------------------------
def test_unsupported_dtype_combinations():
    f = torch.tensor([1., 2.])
    raises(NotImplementedError, lambda: f & f, "\"bitwise_and_cpu\" not implemented for 'Float'")
    raises(NotImplementedError, lambda: f | 1, "\"bitwise_or_cpu\" not implemented for 'Float'")
    raises(NotImplementedError, lambda: f ^ True, "\"bitwise_xor_cpu\" not implemented for 'Float'")
    raises(NotImplementedError, lambda: torch.tensor([1, 2]) & torch.tensor([1.5]), "'Float'")
    raises(NotImplementedError, lambda: f.bitwise_not(), "\"bitwise_not_cpu\" not implemented for 'Float'")
    raises(NotImplementedError, lambda: torch.tensor([1., 2.], dtype=torch.float64) & 1, "'Double'")
    raises(TypeError, lambda: ~f, "only implemented on integer and Boolean-type tensors")
    raises(NotImplementedError, lambda: torch.tensor([True]).abs(), "'Bool'")
    raises(NotImplementedError, lambda: torch.tensor([[1, 2]]).softmax(1), "'Long'")
    raises(NotImplementedError, lambda: torch.rand(2, dtype=torch.int64), "'Long'")
    raises(NotImplementedError, lambda: torch.tensor([True]) @ torch.tensor([True]), "'Bool'")
    raises(RuntimeError, lambda: torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.int64), "same dtype")
    raises(RuntimeError, lambda: torch.tensor([4, -5]).mean(), "Long")
    raises(RuntimeError, lambda: torch.tensor([4, -5]).var(), "floating point")
    raises(RuntimeError, lambda: -torch.tensor([True]), "Negation, the `-` operator, on a bool tensor")
    raises(RuntimeError, lambda: torch.tensor([True]) - torch.tensor([True]), "two bool tensors")
    raises(RuntimeError, lambda: torch.tensor([1, 2]) - torch.tensor([True]), "with a bool tensor")
    raises(RuntimeError, lambda: torch.tensor([1, 2]) - True, "with a bool tensor")
    raises(RuntimeError, lambda: torch.tensor([1, 2]) ** -1, "Integers to negative integer powers")
    raises(RuntimeError, lambda: torch.tensor([1, 2]) // 0, "ZeroDivisionError")
    raises(RuntimeError, lambda: torch.where(f, f, f), "boolean")
    raises(RuntimeError, lambda: f.masked_select(torch.tensor([1, 0])), "BoolTensor")
    raises(RuntimeError, lambda: f.gather(0, torch.tensor([0.0])), "index")
    raises(RuntimeError, lambda: torch.tensor([1, 2]).requires_grad_(), "floating point")
    raises(RuntimeError, lambda: torch.tensor([1, 2]).add(1, alpha=0.5), "alpha")


def test_in_place_cast_errors():
    i = torch.tensor([1, 2])
    raises(RuntimeError, lambda: i.__itruediv__(2), "result type Float can't be cast to the desired output type Long")
    raises(RuntimeError, lambda: i.add_(1.5), "can't be cast")
    raises(RuntimeError, lambda: i.mul_(torch.tensor([1.5, 2])), "can't be cast")
    b = torch.tensor([True])
    raises(RuntimeError, lambda: b.add_(2), "result type Long can't be cast to the desired output type Bool")


# -- indexing and values ----------------------------------------------------------------------------------------
def test_index_errors():
    x = torch.arange(12).reshape(3, 4)
    raises(IndexError, lambda: x[3], "index 3 is out of bounds for dimension 0 with size 3")
    raises(IndexError, lambda: x[:, -5], "index -5 is out of bounds for dimension 1 with size 4")
    raises(IndexError, lambda: x[[0, 3]], "out of bounds")
    raises(IndexError, lambda: x[torch.tensor([True, False])], r"shape of the mask \[2\] at index 0 does not match")
    raises(IndexError, lambda: x[1.0])
    raises(IndexError, lambda: x[torch.tensor([0.5])], "long, int, byte or bool")
    raises(IndexError, lambda: x[0, 0, 0], "too many indices for tensor of dimension 2")
    raises(IndexError, lambda: x.select(0, 5))
    raises(IndexError, lambda: x[[0, 1], [0, 1, 2]])
    raises(RuntimeError, lambda: x.index_select(1, torch.tensor([4])))
    raises(RuntimeError, lambda: x.gather(1, torch.tensor([[4]])))

    def assign_wrong_shape():
        x[1] = torch.tensor([1, 2, 3])

    raises(RuntimeError, assign_wrong_shape, r"[\[(]3[\])].*[\[(]4[\])]|[\[(]4[\])].*[\[(]3[\])]")


def test_value_errors_in_factories_and_ops():
    raises(RuntimeError, lambda: torch.zeros(2, -1), "negative")
    raises(RuntimeError, lambda: torch.arange(0, 10, 0), "step must be nonzero")
    raises(RuntimeError, lambda: torch.arange(0, -10, 1), "bound")
    raises(RuntimeError, lambda: torch.randint(5, 5, (2,)), "from=5 >= to=5")
    raises(RuntimeError, lambda: torch.eye(-1), "n must be greater or equal to 0")
    raises(RuntimeError, lambda: torch.linspace(0, 1, -1), "non-negative")
    raises(RuntimeError, lambda: torch.zeros(3).topk(4), "out of range")
    raises(RuntimeError, lambda: torch.zeros(3).chunk(0), "chunks")
    raises(RuntimeError, lambda: torch.zeros(3).clamp(), "At least one of 'min' or 'max'")
    raises(RuntimeError, lambda: torch.zeros(0, 3).max(), "numel\\(\\) == 0")
    raises(IndexError, lambda: torch.zeros(0, 3).max(0), "dim 0 to have non-zero size")
    raises(RuntimeError, lambda: torch.tensor([1., 2.]).div(2, rounding_mode="round"), "rounding_mode")
    raises(RuntimeError, lambda: torch.device("blah"))
    raises(RuntimeError, lambda: torch.zeros(2, 3).view(-1, -1), "only one dimension can be inferred")
    raises(RuntimeError, lambda: torch.zeros(2, 3).roll(1, dims=(0, 1)), "shifts and dimensions must align")


def test_device_errors():
    x = torch.ones(2)
    raises(AssertionError, lambda: x.cuda(), "not compiled with CUDA")
    raises(AssertionError, lambda: x.to("cuda"), "not compiled with CUDA")
    t = torch.ones(2, requires_grad=True)
    raises(RuntimeError, lambda: t.numpy(), "Use tensor.detach\\(\\).numpy\\(\\) instead")
    raises(RuntimeError, lambda: t.add_(1), "leaf Variable that requires grad")
    assert np.array_equal(t.detach().numpy(), [1., 1.])
