"""``einsum``: Einstein summation, built from ops that have gradients (so it is differentiable).

Each operand's subscripts are first reduced to distinct labels (a repeated label such as ``"ii"`` takes
the diagonal: multiply by an identity mask, then sum one of the two axes), every operand is permuted and
unsqueezed onto one common label order, the operands are multiplied together with broadcasting, and
the labels missing from the output are summed.  Simple and exact; it holds the full product in memory,
which is fine for the small contractions of tutorials (``matmul`` is the fast path for big ones).
"""
import string

from .. import dtypes as D


def _parse(equation, operands):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
        explicit = True
    else:
        lhs, out, explicit = eq, None, False
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): more operands were provided than specified in the equation"
                         if len(operands) > len(terms) else
                         "einsum(): fewer operands were provided than specified in the equation")
    letters = [c for c in string.ascii_letters if c not in eq]
    ell_dims = 0
    for t, op in zip(terms, operands):
        if "..." in t:
            ell_dims = max(ell_dims, op.dim() - (len(t) - 3))
    ell = "".join(letters[:ell_dims])
    expanded = []
    for t, op in zip(terms, operands):
        if "..." in t:
            n = op.dim() - (len(t) - 3)
            t = t.replace("...", ell[ell_dims - n:] if n else "")
        for c in t:
            if not c.isalpha():
                raise ValueError(f"einsum(): invalid subscript given at index {t.index(c)} in the equation string, "
                                 "subscripts must be in [a-zA-Z]")
        if len(t) != op.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) does not match the "
                               f"number of dimensions ({op.dim()}) for operand {len(expanded)}"
                               + ("" if "..." in t else " and no ellipsis was given"))
        expanded.append(t)
    if explicit:
        out = out.replace("...", ell)
    else:  # implicit output: the ellipsis dims, then the labels used once, in alphabetical order
        counts = {}
        for t in expanded:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return expanded, out


def _distinct(op, labels):
    """Reduce repeated labels of one operand to their diagonal; returns (tensor, labels without repeats)."""
    while True:
        seen = {}
        dup = None
        for i, c in enumerate(labels):
            if c in seen:
                dup = (seen[c], i)
                break
            seen[c] = i
        if dup is None:
            return op, labels
        i, j = dup
        n = op.shape[i]
        if op.shape[j] != n:
            raise RuntimeError(f"einsum(): subscript {labels[i]} is repeated for operand but the sizes don't match, "
                               f"{op.shape[i]} != {op.shape[j]}")
        from ..creation import eye

        shape = [1] * op.dim()
        shape[i] = shape[j] = n
        op = (op * eye(n, dtype=op.dtype, device=op.device).reshape(shape)).sum(j)
        labels = labels[:j] + labels[j + 1:]


def einsum(equation, *operands):
    """``pygrad.einsum("ij,jk->ik", a, b)``; operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    terms, out = _parse(equation, operands)
    for c in out:
        if out.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
        if not any(c in t for t in terms):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input operand")
    ops = []
    labels_all = list(out)
    for op, t in zip(operands, terms):
        op, t = _distinct(op, t)
        ops.append((op, t))
        labels_all += [c for c in t if c not in labels_all]
    dtype = operands[0].dtype
    for op in operands[1:]:
        if op.dtype is not dtype:
            raise RuntimeError(f"expected scalar type {dtype.name.capitalize()} but found {op.dtype.name.capitalize()}")
    result = None
    for op, t in ops:  # onto the common order labels_all: output labels first, summed labels after
        perm = sorted(range(len(t)), key=lambda k: labels_all.index(t[k]))
        x = op.permute(*perm) if perm != list(range(len(t))) else op
        present = [t[k] for k in perm]
        shape = [x.shape[present.index(c)] if c in present else 1 for c in labels_all]
        x = x.reshape(shape)
        result = x if result is None else result * x
    summed = tuple(range(len(out), len(labels_all)))
    if summed:
        result = result.sum(summed)
    if result.dtype is not dtype and dtype is not D.bool_:
        result = result.to(dtype)
    return result.clone() if any(result is op for op in operands) else result
