"""A five-minute tour of pygrad's tensors, written exactly as PyTorch code (``import pygrad as torch``).

Run it with ``python examples/tensor_tour.py``; every line prints what PyTorch prints.
"""
import numpy as np

import pygrad as torch

torch.manual_seed(0)

print("== creating tensors ==")
x = torch.tensor([[1, 2], [3, 4], [5, 10]], dtype=torch.int32)
print(x)
print("shape:", x.shape, " dtype:", x.dtype, " device:", x.device)
print(torch.zeros(2, 3), torch.arange(6).reshape(2, 3), sep="\n")

print("\n== views share storage: shape + strides + offset ==")
y = x.t()
print(y, " stride:", y.stride(), " contiguous:", y.is_contiguous())
try:
    y.view(6)
except RuntimeError as e:
    print("y.view(6) ->", type(e).__name__ + ":", str(e).split(".")[0])
print("y.reshape(6) ->", y.reshape(6))

print("\n== indexing ==")
m = torch.arange(40).reshape(4, 10)
print(m[:, 3:8:2])
print(m[m % 7 == 0])
m[m % 2 == 1] = 0
print(m[:2])

print("\n== broadcasting and type promotion ==")
a = torch.tensor([[3], [2], [3]])
b = torch.tensor([[-1, 1, -1, 3]])
print(a + b)
print((a / 2).dtype, (a + 0.5).dtype, (a.byte() + 1000).dtype)

print("\n== reductions ==")
v = torch.tensor([[4, -5, 0], [0, -2, -4]])
print(v.sum(), v.float().mean(dim=0))
print(v.min(dim=1))

print("\n== matrix products ==")
p = torch.randint(0, 5, [32, 300, 400]).float()
q = torch.randint(-2, 3, [32, 400, 500]).float()
print(torch.bmm(p, q).shape, (p[0] @ q[0]).shape)

print("\n== NumPy interop (shared memory) ==")
n = np.ones(5)
t = torch.from_numpy(n)
n += 1
print(t)
