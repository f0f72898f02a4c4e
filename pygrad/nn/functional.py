"""``pygrad.nn.functional`` (``F``): the stateless functions that layers call.

The math lives in ``pygrad/ops/`` (``conv``, ``pool``, ``activation``, ``normalization``, ``loss``);
this module only gathers the names PyTorch users know.
"""
from ..ops.activation import (bilinear, cosine_similarity, dropout, dropout2d, elu, embedding, gelu, hardsigmoid,
                               hardswish, hardtanh, leaky_relu, linear, log_softmax, logsigmoid, mish, normalize,
                               one_hot, prelu, relu, relu6, scaled_dot_product_attention, selu, sigmoid, silu, softmax,
                               softmin, softplus, softsign, tanh)
from ..ops.conv import conv1d, conv2d, conv_transpose2d, fold, unfold
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss,
                        cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
                        soft_margin_loss)
from ..ops.movement import pixel_shuffle, pixel_unshuffle
from ..ops.normalization import batch_norm, group_norm, instance_norm, interpolate, layer_norm
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d,
                        max_pool1d, max_pool2d, pad)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return dropout2d(input.unsqueeze(-1), p, training, inplace).squeeze(-1)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)
