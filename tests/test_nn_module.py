"""nn.Module machinery: registration, tree walking, modes, casting, state dicts, hooks, containers, and
the course notes' ``MyModel`` (§1.5).  Layer ``repr`` text is checked in ``test_nn_repr.py``."""
import re
from collections import OrderedDict

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("cache", torch.ones(2), persistent=False)
        self.scale = nn.Parameter(torch.ones(3))
        self.alias = self.fc  # the same module twice: walked once

    def forward(self, x):
        return self.fc(x) * self.scale


# -- registration ---------------------------------------------------------------------------------
def test_attribute_registration_routes_into_the_right_dicts():
    m = Net()
    assert list(m._parameters) == ["scale"] and list(m._buffers) == ["steps", "cache"]
    assert list(m._modules) == ["fc", "alias"]
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == [
        "scale", "fc.weight", "fc.bias", "alias.weight", "alias.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "cache"]
    # 'cache' is not persistent; state_dict (unlike named_parameters) keeps the alias's entries
    assert list(m.state_dict()) == ["scale", "steps", "fc.weight", "fc.bias", "alias.weight", "alias.bias"]
    assert [n for n, _ in m.named_children()] == ["fc"]
    assert [n for n, _ in m.named_modules()] == ["", "fc"]
    assert [n for n, _ in m.named_modules(remove_duplicate=False)] == ["", "fc", "alias"]
    assert list(m.children()) == [m.fc] and list(m.modules()) == [m, m.fc]
    assert len(list(m.parameters())) == 3 and len(list(m.parameters(recurse=False))) == 1
    m.fc = nn.Linear(2, 3)  # re-assigning keeps the child's place in the order
    m.scale = nn.Parameter(torch.ones(3))
    assert list(m._modules) == ["fc", "alias"] and list(m._parameters) == ["scale"]
    m.plain = 3  # a plain attribute stays a plain attribute
    assert m.plain == 3 and "plain" not in m._parameters
    del m.scale
    assert "scale" not in m._parameters
    m.steps = torch.full((1,), 5.0)  # assigning a Tensor to a buffer name updates the buffer
    assert m._buffers["steps"].item() == 5.0
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        m.missing


def key_error(msg, fn, *args):
    with pytest.raises(KeyError) as e:
        fn(*args)
    assert e.value.args[0] == msg


def test_registration_errors_match_pytorch():
    m = nn.Linear(2, 2)
    key_error('buffer name can\'t contain "."', m.register_buffer, "a.b", torch.zeros(1))
    key_error('buffer name can\'t be empty string ""', m.register_buffer, "", torch.zeros(1))
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        m.register_buffer(3, None)
    with pytest.raises(TypeError, match=r"cannot assign 'int' object to buffer 'x' \(torch Tensor or None required\)"):
        m.register_buffer("x", 3)
    key_error("attribute 'weight' already exists", m.register_buffer, "weight", torch.zeros(1))
    key_error('parameter name can\'t contain "."', m.register_parameter, "a.b", None)
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter 'q'"):
        m.register_parameter("q", torch.zeros(1))
    key_error('module name can\'t contain ".", got: a.b', m.add_module, "a.b", nn.ReLU())
    key_error("attribute 'forward' already exists", m.add_module, "forward", nn.ReLU())
    key_error("attribute 'bias' already exists", m.add_module, "bias", nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'weight' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.weight = torch.zeros(2, 2)
    m.register_parameter("bias", None)  # re-registering an existing parameter name is allowed
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    nobias = nn.Linear(2, 2, bias=False)
    assert nobias.bias is None and "bias" in nobias._parameters

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_apply_train_eval_requires_grad_zero_grad():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Dropout", "BatchNorm1d", "Sequential", "Sequential"]  # children first
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m and not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m[1].train(False)
    assert m.training and m[0].training and not m[1][0].training and not m[1][1].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")
    m.train()
    m(torch.ones(3, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert not m(torch.ones(3, 2)).requires_grad


def test_to_float_double_keep_parameter_objects_and_int_buffers():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    m.double()
    assert m[0].weight is w and isinstance(w, nn.Parameter) and w.dtype is torch.float64
    assert m[1].running_mean.dtype is torch.float64 and m[1].num_batches_tracked.dtype is torch.int64
    assert m(torch.ones(3, 2, dtype=torch.float64)).dtype is torch.float64
    m.float()
    assert w.dtype is torch.float32 and m[1].running_var.dtype is torch.float32
    m.to(torch.float64)
    assert w.dtype is torch.float64 and w.requires_grad
    m.to(dtype=torch.float32)
    assert w.dtype is torch.float32
    m.to(torch.zeros(1, dtype=torch.float64))
    assert w.dtype is torch.float64 and m.to("cpu") is m


# -- state dicts ------------------------------------------------------------------------------------
def test_state_dict_keys_and_values():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 3))
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked", "4.weight", "4.bias"]
    assert sd["1.num_batches_tracked"].dtype is torch.int64 and sd["1.num_batches_tracked"].item() == 0
    assert not sd["0.weight"].requires_grad and np.array_equal(sd["0.weight"].cpu().numpy(), m[0].weight.detach().cpu().numpy())
    assert m.state_dict(keep_vars=True)["0.weight"] is m[0].weight
    features = nn.Module()
    features.features = nn.Sequential(nn.Conv2d(3, 4, 3))
    assert list(features.state_dict()) == ["features.0.weight", "features.0.bias"]


def test_load_state_dict_strict_and_errors():
    torch.manual_seed(0)
    src, dst = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)), nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    src[1].running_mean.fill_(0.5)
    r = dst.load_state_dict(src.state_dict())
    assert r.missing_keys == [] and r.unexpected_keys == [] and repr(r) == "<All keys matched successfully>"
    assert np.array_equal(dst[0].weight.detach().cpu().numpy(), src[0].weight.detach().cpu().numpy())
    assert dst[1].running_mean.tolist() == [0.5] * 3
    bad = OrderedDict(src.state_dict())
    del bad["0.bias"]
    bad["extra"] = torch.zeros(1)
    msg = ('Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "0.bias". \n\t'
           'Unexpected key(s) in state_dict: "extra". ')
    with pytest.raises(RuntimeError, match=re.escape(msg)):
        dst.load_state_dict(bad)
    r = dst.load_state_dict(bad, strict=False)
    assert r.missing_keys == ["0.bias"] and r.unexpected_keys == ["extra"]
    assert r == (["0.bias"], ["extra"])
    bad = OrderedDict(src.state_dict())
    bad["0.weight"] = torch.zeros(3, 5)
    msg = ("size mismatch for 0.weight: copying a param with shape torch.Size([3, 5]) from checkpoint, "
           "the shape in current model is torch.Size([3, 2]).")
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=re.escape(msg)):
            dst.load_state_dict(bad, strict=strict)


# -- hooks ------------------------------------------------------------------------------------------
def test_forward_hooks_and_pre_hooks_with_remove():
    m, calls = nn.Linear(2, 2), []
    x = torch.ones(1, 2)
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(args[0].sum().item()) or out + 100)
    out = m(x)
    assert calls == [0.0] and np.allclose(out.detach().cpu().numpy(), m.bias.detach().cpu().numpy() + 100)
    pre.remove()
    m(x)
    assert calls == [0.0, 2.0]
    post.remove()
    assert np.allclose(m(x).detach().cpu().numpy(), F.linear(x, m.weight, m.bias).detach().cpu().numpy())


# -- containers -----------------------------------------------------------------------------------
def test_sequential_indexing_slicing_append_del():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(OrderedDict([("act", a), ("tanh", b)]))
    assert s.act is a and s[0] is a and s[-1] is b and len(s) == 2
    assert list(s.state_dict()) == [] and [n for n, _ in s.named_children()] == ["act", "tanh"]
    del s[0]  # PyTorch renumbers after a deletion, named children too
    assert list(s._modules) == ["0"] and s[0] is b
    s = nn.Sequential(a, b, c)
    sub = s[1:]
    assert type(sub) is nn.Sequential and list(sub) == [b, c] and [n for n, _ in sub.named_children()] == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    del s[0]
    assert list(s) == [b, c] and list(s._modules) == ["0", "1"]
    s.append(a)
    assert s[2] is a and len(s) == 3 and s.pop(0) is b and list(s) == [c, a]
    s[0] = b
    assert list(s) == [b, a]
    same = s
    s += nn.Sequential(c)
    assert s is same and list(s) == [b, a, c] and list(s + nn.Sequential(a)) == [b, a, c, a]
    x = torch.tensor([-1.0, 2.0])
    assert nn.Sequential(nn.ReLU(), nn.Tanh())(x).tolist() == pytest.approx([0.0, np.tanh(2.0)])


def test_modulelist_and_moduledict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.Sigmoid()])
    assert len(ml) == 4 and isinstance(ml[-1], nn.Sigmoid) and type(ml[1:3]) is nn.ModuleList
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias"]
    del ml[1]
    assert list(ml._modules) == ["0", "1", "2"] and isinstance(ml[1], nn.Tanh)
    with pytest.raises(IndexError):
        ml[5]
    md = nn.ModuleDict({"b": nn.Linear(1, 2), "a": nn.ReLU()})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert [n for n, _ in md.named_parameters()] == ["b.weight", "b.bias"] and list(md) == ["b", "a", "c"]
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]


def test_identity_flatten_unflatten():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert nn.Identity(54, unused="x")(x) is x
    assert tuple(nn.Flatten()(x).shape) == (2, 12) and tuple(nn.Flatten(0, 1)(x).shape) == (6, 4)
    assert tuple(nn.Unflatten(2, (2, 2))(x).shape) == (2, 3, 2, 2)
    assert nn.Unflatten(1, (3, 4))(nn.Flatten()(x)).tolist() == x.tolist()


# -- the course notes' model (§1.5) ------------------------------------------------------------------
class MyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 20, 5),
            nn.ReLU(),
            nn.Conv2d(20, 10, 3),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((32, 32))
        self.fc = nn.Linear(10 * 32 * 32, 2)

    def forward(self, x):
        out = self.features(x)
        out = torch.max_pool2d(out, 2, 2)
        out = self.avgpool(out)
        out = out.reshape(x.shape[0], -1)
        out = self.fc(out)
        return out


# The notes print kernel_size=(3, 3) for the first conv: a typo there, PyTorch prints (5, 5).
FEATURES = """Sequential(
  (0): Conv2d(3, 20, kernel_size=(5, 5), stride=(1, 1))
  (1): ReLU()
  (2): Conv2d(20, 10, kernel_size=(3, 3), stride=(1, 1))
)"""
AVGPOOL = "AdaptiveAvgPool2d(output_size=(32, 32))"
FC = "Linear(in_features=10240, out_features=2, bias=True)"


def test_course_model_forward_shape():
    torch.manual_seed(0)
    mymodel = MyModel()
    x = torch.randn(32, 3, 224, 224)  # the notes' input (this forward takes a second or two)
    pre_y = mymodel(x)
    assert pre_y.shape == torch.Size([32, 2]) and pre_y.requires_grad
    assert mymodel(torch.randn(1, 3, 300, 200)).shape == torch.Size([1, 2])  # any height and width
    layer = mymodel.features[2]
    assert layer(torch.randn(2, 20, 100, 100)).shape == torch.Size([2, 10, 98, 98])


def test_course_model_layers_print_as_in_the_notes():
    mymodel = MyModel()
    printed = [str(layer) for layer in mymodel.children()]
    assert printed == [FEATURES, AVGPOOL, FC]
    assert [(name, str(layer)) for name, layer in mymodel.named_children()] == [
        ("features", FEATURES), ("avgpool", AVGPOOL), ("fc", FC)]
    whole = ("MyModel(\n  (features): " + FEATURES.replace("\n", "\n  ") + f"\n  (avgpool): {AVGPOOL}\n"
             f"  (fc): {FC}\n)")
    assert [str(m) for m in mymodel.modules()] == [
        whole, FEATURES, "Conv2d(3, 20, kernel_size=(5, 5), stride=(1, 1))", "ReLU()",
        "Conv2d(20, 10, kernel_size=(3, 3), stride=(1, 1))", AVGPOOL, FC]
    assert str(mymodel) == whole


def test_course_model_parameters_names_and_freezing():
    mymodel = MyModel()
    param_num = 0
    shapes = []
    for param in mymodel.parameters():
        param_num += torch.numel(param)
        shapes.append(param.shape)
    assert param_num == 23812
    assert shapes == [torch.Size([20, 3, 5, 5]), torch.Size([20]), torch.Size([10, 20, 3, 3]), torch.Size([10]),
                      torch.Size([2, 10240]), torch.Size([2])]
    assert [(n, tuple(p.shape)) for n, p in mymodel.named_parameters()] == [
        ("features.0.weight", (20, 3, 5, 5)), ("features.0.bias", (20,)), ("features.2.weight", (10, 20, 3, 3)),
        ("features.2.bias", (10,)), ("fc.weight", (2, 10240)), ("fc.bias", (2,))]
    x = torch.randn(2, 3, 20, 20)
    for param in mymodel.features.parameters():  # freeze the convolutions only
        param.requires_grad = False
    mymodel(x).sum().backward()
    assert all(p.grad is None for p in mymodel.features.parameters())
    assert all(p.grad is not None for p in mymodel.fc.parameters())
    for param in mymodel.parameters():  # freeze everything
        param.requires_grad = False
    assert not mymodel(x).requires_grad


def test_course_model_rejects_wrong_inputs():
    mymodel = MyModel()
    with pytest.raises(RuntimeError, match=re.escape("expected input[32, 4, 224, 224] to have 3 channels, "
                                                     "but got 4 channels instead")):
        mymodel(torch.zeros(32, 4, 224, 224))
    with pytest.raises(RuntimeError, match=re.escape("Expected 3D (unbatched) or 4D (batched) input to conv2d, but "
                                                     "got input of size: [1, 32, 3, 224, 224]")):
        mymodel(torch.zeros(1, 32, 3, 224, 224))


def test_course_model_save_and_load(tmp_path):
    if not hasattr(torch, "save"):
        pytest.skip("pygrad.save / pygrad.load do not exist yet")
    torch.manual_seed(1)
    mymodel = MyModel()
    x = torch.randn(1, 3, 24, 24)
    expected = mymodel(x).detach().cpu().numpy()
    torch.save(mymodel.state_dict(), tmp_path / "mymodel.pth")  # (a) parameters only
    my_new_model = MyModel()
    my_new_model.load_state_dict(torch.load(tmp_path / "mymodel.pth"))
    assert np.allclose(my_new_model(x).detach().cpu().numpy(), expected)
    torch.save(mymodel, tmp_path / "whole.pth")  # (b) the whole model
    loaded = torch.load(tmp_path / "whole.pth", weights_only=False)
    assert type(loaded) is MyModel and str(loaded) == str(mymodel)
    assert np.allclose(loaded(x).detach().cpu().numpy(), expected)
