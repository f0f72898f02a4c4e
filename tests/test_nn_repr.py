"""The exact ``repr`` of every layer and container, against the text PyTorch 2.x prints for the same call
(``print(model)`` is how the course notes inspect a model)."""
from collections import OrderedDict

import pytest

import pygrad as torch
import pygrad.nn as nn


# -- repr: expected text printed by PyTorch 2.x --------------------------------------------------------
REPRS = [
    ('nn.Conv2d(3, 20, 5)', 'Conv2d(3, 20, kernel_size=(5, 5), stride=(1, 1))'),
    ('nn.Conv2d(3, 8, 3, stride=2, padding=1)', 'Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))'),
    ('nn.Conv2d(3, 8, (3, 5), bias=False)', 'Conv2d(3, 8, kernel_size=(3, 5), stride=(1, 1), bias=False)'),
    ('nn.Conv2d(4, 8, 3, groups=2)', 'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), groups=2)'),
    ('nn.Conv2d(4, 8, 3, dilation=2)', 'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2))'),
    ("nn.Conv2d(4, 8, 3, padding='same')", 'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=same)'),
    ("nn.Conv2d(4, 8, 3, padding=1, padding_mode='reflect')",
     'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), padding_mode=reflect)'),
    ("nn.Conv2d(4, 8, 3, padding='valid')", 'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=valid)'),
    ('nn.Conv1d(4, 8, 3)', 'Conv1d(4, 8, kernel_size=(3,), stride=(1,))'),
    ('nn.Conv1d(4, 8, 3, stride=2, padding=1, bias=False)',
     'Conv1d(4, 8, kernel_size=(3,), stride=(2,), padding=(1,), bias=False)'),
    ('nn.ConvTranspose2d(4, 8, 3)', 'ConvTranspose2d(4, 8, kernel_size=(3, 3), stride=(1, 1))'),
    ('nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1)',
     'ConvTranspose2d(4, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))'),
    ('nn.ConvTranspose2d(4, 8, 3, groups=2, bias=False, dilation=2)',
     'ConvTranspose2d(4, 8, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=2, bias=False)'),
    ('nn.Linear(4, 3)', 'Linear(in_features=4, out_features=3, bias=True)'),
    ('nn.Linear(4, 3, bias=False)', 'Linear(in_features=4, out_features=3, bias=False)'),
    ('nn.Bilinear(2, 3, 4)', 'Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)'),
    ('nn.ReLU()', 'ReLU()'),
    ('nn.ReLU(inplace=True)', 'ReLU(inplace=True)'),
    ('nn.ReLU6()', 'ReLU6()'),
    ('nn.Sigmoid()', 'Sigmoid()'),
    ('nn.Tanh()', 'Tanh()'),
    ('nn.SiLU()', 'SiLU()'),
    ('nn.Mish()', 'Mish()'),
    ('nn.SELU()', 'SELU()'),
    ('nn.LogSigmoid()', 'LogSigmoid()'),
    ('nn.Softsign()', 'Softsign()'),
    ('nn.Hardtanh()', 'Hardtanh(min_val=-1.0, max_val=1.0)'),
    ('nn.Hardtanh(-2, 2)', 'Hardtanh(min_val=-2, max_val=2)'),
    ('nn.LeakyReLU()', 'LeakyReLU(negative_slope=0.01)'),
    ('nn.LeakyReLU(0.2, inplace=True)', 'LeakyReLU(negative_slope=0.2, inplace=True)'),
    ('nn.ELU()', 'ELU(alpha=1.0)'),
    ('nn.ELU(alpha=0.5)', 'ELU(alpha=0.5)'),
    ('nn.GELU()', "GELU(approximate='none')"),
    ("nn.GELU(approximate='tanh')", "GELU(approximate='tanh')"),
    ('nn.Softplus()', 'Softplus(beta=1.0, threshold=20.0)'),
    ('nn.Softplus(beta=2, threshold=10)', 'Softplus(beta=2, threshold=10)'),
    ('nn.Softmax(dim=1)', 'Softmax(dim=1)'),
    ('nn.Softmax()', 'Softmax(dim=None)'),
    ('nn.LogSoftmax(dim=-1)', 'LogSoftmax(dim=-1)'),
    ('nn.Softmin(dim=0)', 'Softmin(dim=0)'),
    ('nn.MaxPool2d(2)', 'MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)'),
    ('nn.MaxPool2d(3, stride=2, padding=1)',
     'MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)'),
    ('nn.MaxPool2d((2, 3), ceil_mode=True)',
     'MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=True)'),
    ('nn.MaxPool1d(2)', 'MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)'),
    ('nn.MaxPool1d(3, 2, 1)', 'MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)'),
    ('nn.AvgPool2d(2)', 'AvgPool2d(kernel_size=2, stride=2, padding=0)'),
    ('nn.AvgPool2d(3, stride=2, padding=1)', 'AvgPool2d(kernel_size=3, stride=2, padding=1)'),
    ('nn.AvgPool1d(2)', 'AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))'),
    ('nn.AdaptiveAvgPool2d((32, 32))', 'AdaptiveAvgPool2d(output_size=(32, 32))'),
    ('nn.AdaptiveAvgPool2d(1)', 'AdaptiveAvgPool2d(output_size=1)'),
    ('nn.AdaptiveAvgPool1d(4)', 'AdaptiveAvgPool1d(output_size=4)'),
    ('nn.AdaptiveMaxPool2d((2, 3))', 'AdaptiveMaxPool2d(output_size=(2, 3))'),
    ('nn.AdaptiveMaxPool2d(1)', 'AdaptiveMaxPool2d(output_size=1)'),
    ('nn.BatchNorm1d(10)',
     'BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)'),
    ('nn.BatchNorm2d(16)',
     'BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)'),
    ('nn.BatchNorm2d(16, affine=False, momentum=None)',
     'BatchNorm2d(16, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)'),
    ('nn.BatchNorm1d(4, track_running_stats=False)',
     'BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=False)'),
    ('nn.LayerNorm(10)', 'LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)'),
    ('nn.LayerNorm((3, 4), elementwise_affine=False)',
     'LayerNorm((3, 4), eps=1e-05, elementwise_affine=False, bias=False)'),
    ('nn.LayerNorm(5, bias=False)', 'LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=False)'),
    ('nn.GroupNorm(2, 4)', 'GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)'),
    ('nn.GroupNorm(2, 4, affine=False)', 'GroupNorm(2, 4, eps=1e-05, affine=False, bias=False)'),
    ('nn.Dropout()', 'Dropout(p=0.5, inplace=False)'),
    ('nn.Dropout(0.2)', 'Dropout(p=0.2, inplace=False)'),
    ('nn.Dropout(p=0.3, inplace=True)', 'Dropout(p=0.3, inplace=True)'),
    ('nn.Dropout2d()', 'Dropout2d(p=0.5, inplace=False)'),
    ('nn.Dropout1d(0.1)', 'Dropout1d(p=0.1, inplace=False)'),
    ('nn.Embedding(10, 3)', 'Embedding(10, 3)'),
    ('nn.Embedding(10, 3, padding_idx=0)', 'Embedding(10, 3, padding_idx=0)'),
    ('nn.Embedding(10, 3, padding_idx=-1)', 'Embedding(10, 3, padding_idx=9)'),
    ('nn.Flatten()', 'Flatten(start_dim=1, end_dim=-1)'),
    ('nn.Flatten(0, 2)', 'Flatten(start_dim=0, end_dim=2)'),
    ('nn.Unflatten(1, (2, 5))', 'Unflatten(dim=1, unflattened_size=(2, 5))'),
    ('nn.Identity()', 'Identity()'),
    ('nn.MSELoss()', 'MSELoss()'),
    ('nn.L1Loss()', 'L1Loss()'),
    ('nn.SmoothL1Loss()', 'SmoothL1Loss()'),
    ('nn.HuberLoss()', 'HuberLoss()'),
    ('nn.CrossEntropyLoss()', 'CrossEntropyLoss()'),
    ('nn.NLLLoss()', 'NLLLoss()'),
    ('nn.BCELoss()', 'BCELoss()'),
    ('nn.BCEWithLogitsLoss()', 'BCEWithLogitsLoss()'),
    ('nn.KLDivLoss()', 'KLDivLoss()'),
    ("nn.MSELoss(reduction='sum')", 'MSELoss()'),
    ('nn.Sequential()', 'Sequential()'),
    ('nn.ModuleList()', 'ModuleList()'),
    ('nn.ParameterList([nn.Parameter(torch.zeros(2, 3))])',
     'ParameterList(  (0): Parameter containing: [torch.float32 of size 2x3])'),
    ('nn.Upsample(scale_factor=2)', "Upsample(scale_factor=2.0, mode='nearest')"),
    ("nn.Upsample(size=(4, 5), mode='bilinear', align_corners=True)", "Upsample(size=(4, 5), mode='bilinear')"),
    ('nn.UpsamplingNearest2d(scale_factor=2)', "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"),
    ('nn.UpsamplingBilinear2d(size=3)', "UpsamplingBilinear2d(size=3, mode='bilinear')"),
    ('nn.Unfold((2, 3), dilation=2, padding=1, stride=(1, 2))',
     'Unfold(kernel_size=(2, 3), dilation=2, padding=1, stride=(1, 2))'),
    ('nn.Fold((4, 5), 2)', 'Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=1)'),
    ('nn.ZeroPad2d(2)', 'ZeroPad2d((2, 2, 2, 2))'),
    ('nn.ConstantPad1d(2, 3.5)', 'ConstantPad1d(padding=(2, 2), value=3.5)'),
    ('nn.ConstantPad2d((1, 0, 2, 0), 1)', 'ConstantPad2d(padding=(1, 0, 2, 0), value=1)'),
    ('nn.ReflectionPad1d((1, 2))', 'ReflectionPad1d((1, 2))'),
    ('nn.ReflectionPad2d(1)', 'ReflectionPad2d((1, 1, 1, 1))'),
    ('nn.ReplicationPad2d((1, 1, 2, 0))', 'ReplicationPad2d((1, 1, 2, 0))'),
    ('nn.CircularPad1d(1)', 'CircularPad1d((1, 1))'),
    ('nn.CosineSimilarity(dim=0, eps=1e-6)', 'CosineSimilarity()'),
    ('nn.SoftMarginLoss()', 'SoftMarginLoss()'),
    ('nn.CosineEmbeddingLoss(margin=0.5)', 'CosineEmbeddingLoss()'),
    ('nn.InstanceNorm2d(3)',
     'InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)'),
    ('nn.InstanceNorm1d(3, affine=True)',
     'InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=False)'),
    ('nn.PReLU(3, 0.1)', 'PReLU(num_parameters=3)'),
    ('nn.Hardswish(inplace=True)', 'Hardswish()'),
    ('nn.Hardsigmoid()', 'Hardsigmoid()'),
    ('nn.ReLU6(inplace=True)', 'ReLU6(inplace=True)'),
    ('nn.Hardtanh(inplace=True)', 'Hardtanh(min_val=-1.0, max_val=1.0, inplace=True)'),
]


@pytest.mark.parametrize("expr, expected", REPRS, ids=[e for e, _ in REPRS])
def test_layer_repr_matches_pytorch(expr, expected):
    assert repr(eval(expr)) == expected


def test_container_repr_matches_pytorch():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()))
    assert repr(s) == """Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): ReLU()
  (2): Sequential(
    (0): Linear(in_features=3, out_features=3, bias=True)
    (1): Tanh()
  )
)"""
    assert repr(nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))) == """Sequential(
  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))
  (act): ReLU()
)"""
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    assert repr(ml) == """ModuleList(
  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)
  (3): ReLU()
)"""
    assert repr(nn.Sequential(nn.ModuleList([nn.ReLU(), nn.ReLU()]))) == """Sequential(
  (0): ModuleList(
    (0-1): 2 x ReLU()
  )
)"""
    assert repr(nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 1)})) == """ModuleDict(
  (a): ReLU()
  (b): Linear(in_features=1, out_features=1, bias=True)
)"""
    assert repr(nn.Sequential()) == "Sequential()" and repr(nn.ModuleList()) == "ModuleList()"
    assert repr(nn.ParameterList([nn.Parameter(torch.zeros(2, 3))])) == \
        "ParameterList(  (0): Parameter containing: [torch.float32 of size 2x3])"
