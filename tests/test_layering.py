"""Layers point down: the runtime (storage and kernels) imports nothing from the layers above it."""
import ast
import pathlib

import pygrad

ROOT = pathlib.Path(pygrad.__file__).parent
ABOVE = ("tensor", "tensor_methods", "ops", "autograd", "nn", "optim", "creation", "_functional")


def _upward_imports(text, rel):
    """(line, module) of every import in source ``text`` of module ``rel`` (its dotted parts, such as
    ('pygrad', 'runtime', 'opencl', 'backend')) that resolves to a pygrad module above the runtime."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[:len(rel) - node.level])
                mod = base + (node.module.split(".") if node.module else [])
                names = [mod + [a.name] for a in node.names] if not node.module else [mod]
            else:
                names = [(node.module or "").split(".")]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".") for a in node.names]
        else:
            continue
        for parts in names:
            if len(parts) >= 2 and parts[0] == "pygrad" and parts[1] in ABOVE:
                found.append((node.lineno, ".".join(parts)))
    return found


def test_runtime_imports_nothing_above_it():
    files = sorted((ROOT / "runtime").rglob("*.py"))
    assert files
    bad = {}
    for f in files:
        imps = _upward_imports(f.read_text(), f.relative_to(ROOT.parent).with_suffix("").parts)
        if imps:
            bad[str(f.relative_to(ROOT))] = imps
    assert bad == {}


def test_checker_sees_upward_imports():
    # the checker itself must catch the forms it looks for (so the test above can fail)
    src = ("from ...tensor import Tensor\nfrom ..tensor import x\nfrom ...ops.movement import expand\nimport pygrad.ops\n"
           "from ... import ops\nfrom . import kernels\nfrom ... import _core\n")
    found = _upward_imports(src, ("pygrad", "runtime", "opencl", "backend"))
    assert [m for _, m in found] == ["pygrad.tensor", "pygrad.ops.movement", "pygrad.ops", "pygrad.ops"]
