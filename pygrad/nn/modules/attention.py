"""``MultiheadAttention``: scaled dot-product attention with several heads, as in PyTorch.

Attention lets every position of a sequence look at every other one: scores ``Q Kᵀ / √d`` say how much,
a softmax over the keys turns them into weights, and the output is the weighted sum of the values ``V``.
Each of the ``num_heads`` heads does this on its own slice of the features.  Masks add ``-inf`` to the
scores that must be ignored (future tokens, padding).  Written with tensor ops only.
"""
import math
import warnings

from ... import creation, dtypes as D
from ...ops.movement import cat
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .linear import Linear, NonDynamicallyQuantizableLinear  # noqa: F401  (PyTorch also imports it here)


def _canonical_mask(mask, name, dtype, other=None, other_name=""):
    """A bool mask (True = ignore) becomes a float mask with -inf there; float masks pass unchanged."""
    if mask is None:
        return None
    if mask.dtype is not D.bool_ and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if mask.dtype is D.bool_:
        return creation.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads, each working on ``embed_dim // num_heads`` features.

    q, k, v are projections of query, key, value (packed in ``in_proj_weight``); the heads' outputs are
    concatenated and mixed by ``out_proj``.  Returns ``(attn_output, attn_weights)``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        super().__init__()
        fk = dict(device=device, dtype=dtype)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **fk))
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **fk))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **fk))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **fk))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **fk))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """Xavier-uniform projections and zero biases, as in PyTorch."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _project(self, query, key, value):
        """q, k, v = the three input projections (one fused matmul for self-attention)."""
        b = [None] * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight.chunk(3)
            if query is key and key is value:  # self-attention: one matmul for q, k and v
                return F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return F.linear(query, w[0], b[0]), F.linear(key, w[1], b[1]), F.linear(value, w[2], b[2])

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Inputs are (L, N, E) ((N, L, E) with ``batch_first``, (L, E) unbatched).  In bool masks True means
        *ignore this key* (the opposite of ``F.scaled_dot_product_attention``); float masks are added to scores."""
        if query.dim() not in (2, 3):
            raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                                 f"{query.dim()}-D query tensor")
        is_batched = query.dim() == 3
        if key.dim() != query.dim() or value.dim() != query.dim():
            raise AssertionError(f"For {'batched (3-D)' if is_batched else 'unbatched (2-D)'} `query`, expected "
                                 f"`key` and `value` to be {query.dim()}-D but found {key.dim()}-D and "
                                 f"{value.dim()}-D tensors respectively")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                               "method `generate_square_subsequent_mask` to create this mask.")
        if query.size(-1) != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got {query.size(-1)}")
        if is_batched and self.batch_first:  # work in (L, N, E) layout like PyTorch
            query, key, value = _each(lambda t: t.transpose(0, 1), query, key, value)
        if not is_batched:
            query, key, value = _each(lambda t: t.unsqueeze(1), query, key, value)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        L, N, E = query.shape
        H, d = self.num_heads, self.head_dim
        kpm = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype, attn_mask, "attn_mask")
        mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:  # one learned extra key/value position
            k = cat([k, self.bias_k.expand(1, N, E)])
            v = cat([v, self.bias_v.expand(1, N, E)])
            mask = None if mask is None else F.pad(mask, (0, 1))
            kpm = None if kpm is None else F.pad(kpm, (0, 1))
        # split heads: (seq, N, E) -> (N, H, seq, d)
        q, k, v = (t.reshape(t.size(0), N, H, d).permute(1, 2, 0, 3) for t in (q, k, v))
        if self.add_zero_attn:  # one extra all-zero key/value position
            z = creation.zeros(N, H, 1, d, dtype=k.dtype, device=k.device)
            k, v = cat([k, z], 2), cat([v, z], 2)
            mask = None if mask is None else F.pad(mask, (0, 1))
            kpm = None if kpm is None else F.pad(kpm, (0, 1))
        S = k.size(2)
        scores = (q * (1.0 / math.sqrt(d))) @ k.transpose(-2, -1)  # (N, H, L, S)
        if mask is not None:
            if mask.dim() == 2 and tuple(mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {mask.shape}, but should be {(L, S)}.")
            if mask.dim() == 3:
                if tuple(mask.shape) != (N * H, L, S):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {mask.shape}, but should be "
                                       f"{(N * H, L, S)}.")
                mask = mask.reshape(N, H, L, S)
            elif mask.dim() != 2:
                raise RuntimeError(f"attn_mask's dimension {mask.dim()} is not supported")
            scores = scores + mask
        if kpm is not None:
            for i, want in enumerate((N, S)):
                if kpm.size(i) != want:
                    raise AssertionError(f"Expected key_padded_mask.shape[{i}] to be {want}, but got {kpm.size(i)}")
            scores = scores + kpm.reshape(N, 1, 1, S)
        weights = scores.softmax(-1)
        weights = F.dropout(weights, self.dropout, self.training)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(L, N, E)  # concatenate the heads again
        out = self.out_proj(out)
        if self.batch_first and is_batched:
            out = out.transpose(0, 1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        if not need_weights:
            return out, None
        return out, (weights.mean(-3) if average_attn_weights else weights)


def _each(fn, query, key, value):
    """``fn`` applied to each of q, k, v, keeping ``query is key is value`` when it held (self-attention)."""
    q = fn(query)
    k = q if key is query else fn(key)
    v = k if value is key else fn(value)
    return q, k, v
