"""``pygrad.utils.viz.draw_graph``: the autograd graph as Graphviz DOT text, optionally rendered."""
import re
import shutil
import stat
import sys
import textwrap
import warnings

import pytest

import pygrad as torch
from pygrad.utils.viz import draw_graph

NODE_DECL = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)", re.M)


def course_example():
    """The example of the course notes: z = 2x² - 6y², f = z² at x = 3, y = 2."""
    x = torch.tensor([3.], requires_grad=True)
    y = torch.tensor([2.], requires_grad=True)
    z = 2 * x ** 2 - 6 * y ** 2
    f = z ** 2
    return x, y, f


def graph_objects(t):
    """Distinct graph nodes reachable from ``t.grad_fn``, and the leaf tensors behind AccumulateGrad."""
    nodes, leaves, stack = {}, {}, [t.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in nodes:
            continue
        nodes[id(n)] = n
        if n.name() == "AccumulateGrad":
            leaves[id(n.variable)] = n.variable
        stack.extend(m for m, _ in n.next_functions)
    return nodes, leaves


def parse(dot):
    decls = NODE_DECL.findall(dot)
    return dict(decls), [d for d, _ in decls], EDGE.findall(dot)


def test_course_example_dot_text():
    x, y, f = course_example()
    dot = draw_graph(f)
    assert dot.lstrip().startswith("digraph")
    assert dot.count("{") == dot.count("}") and dot.rstrip().endswith("}")
    for name in ("PowBackward0", "SubBackward0", "MulBackward0", "AccumulateGrad"):
        assert name in dot
    labels, ids, edges = parse(dot)
    # one declaration per distinct graph node, plus one box per leaf and one for the root
    nodes, leaves = graph_objects(f)
    assert len(nodes) == 8 and len(leaves) == 2
    assert len(ids) == len(set(ids)) == len(nodes) + len(leaves) + 1
    names = sorted(labels[i] for i in ids if not labels[i].startswith("("))
    assert names == sorted(n.name() for n in nodes.values())
    assert names.count("PowBackward0") == 3 and names.count("MulBackward0") == 2
    # the leaves and the root are boxes labelled with their shape
    assert sum(1 for i in ids if labels[i] == "(1,)") == 3
    assert len(re.findall(r"shape=box", dot)) == 3
    # edges only between declared nodes; one edge per graph edge, root -> grad_fn first
    assert all(a in labels and b in labels for a, b in edges)
    n_graph_edges = sum(1 for n in nodes.values() for m, _ in n.next_functions if m is not None)
    assert len(edges) == 1 + n_graph_edges + len(leaves)
    root, fn = edges[0]
    assert labels[root] == "(1,)" and labels[fn] == "PowBackward0"


def test_edges_follow_backward_direction():
    x, y, f = course_example()
    labels, ids, edges = parse(draw_graph(f))
    out = {}
    for a, b in edges:
        out.setdefault(labels[a], set()).add(labels[b])
    assert out["SubBackward0"] == {"MulBackward0"}
    assert out["AccumulateGrad"] == {"(1,)"}
    # nothing points back at the root, and leaves have no outgoing edges
    root = ids[0]
    assert all(b != root for _, b in edges)
    leaf_ids = {b for a, b in edges if labels[a] == "AccumulateGrad"}
    assert all(a not in leaf_ids for a, _ in edges)


def test_shared_leaf_is_one_node_and_shapes_show():
    a = torch.ones(3, 4, requires_grad=True)
    dot = draw_graph((a * a).sum())
    labels, ids, edges = parse(dot)
    assert sorted(labels.values()) == sorted(["()", "SumBackward0", "MulBackward0", "AccumulateGrad", "(3, 4)"])
    # MulBackward0 sends two gradients to the one AccumulateGrad: two edges, one node
    mul = next(i for i in ids if labels[i] == "MulBackward0")
    acc = next(i for i in ids if labels[i] == "AccumulateGrad")
    assert edges.count((mul, acc)) == 2


def test_leaf_and_no_grad_tensors():
    a = torch.ones(2, 3, requires_grad=True)
    labels, ids, edges = parse(draw_graph(a))
    assert list(labels.values()) == ["(2, 3)"] and edges == []
    labels, ids, edges = parse(draw_graph(torch.ones(5) * 2))
    assert list(labels.values()) == ["(5,)"] and edges == []


def test_deep_graph_needs_no_recursion():
    x = torch.tensor(1., requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() + 500):
        y = y * 1.0
    labels, ids, edges = parse(draw_graph(y))
    assert len(ids) == sys.getrecursionlimit() + 500 + 3


def test_write_without_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    x, y, f = course_example()
    path = tmp_path / "graph.dot"
    with pytest.warns(UserWarning, match="not installed"):
        dot = draw_graph(f, str(path))
    assert path.read_text(encoding="utf-8") == dot
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]


def _fake_dot(tmp_path):
    """A stand-in ``dot`` executable: checks its arguments and writes a tiny file at ``-o``."""
    exe = tmp_path / "bin" / "dot"
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""
        import sys
        args = sys.argv[1:]
        fmt = next(a[2:] for a in args if a.startswith("-T"))
        out = args[args.index("-o") + 1]
        src = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-o"][0]
        text = open(src, encoding="utf-8").read()
        assert text.startswith("digraph"), text
        open(out, "w").write("<svg/>" if fmt == "svg" else "PNG")
    """))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_write_with_dot(tmp_path, monkeypatch):
    exe = _fake_dot(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: exe if name == "dot" else None)
    x, y, f = course_example()
    for fmt, content in (("svg", "<svg/>"), ("png", "PNG")):
        path = tmp_path / f"graph_{fmt}.dot"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dot = draw_graph(f, path, format=fmt)
        assert path.read_text(encoding="utf-8") == dot
        assert (tmp_path / f"graph_{fmt}.dot.{fmt}").read_text() == content


def test_failing_dot_only_warns(tmp_path, monkeypatch):
    exe = tmp_path / "dot"
    exe.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(shutil, "which", lambda *a, **k: str(exe))
    x, y, f = course_example()
    with pytest.warns(UserWarning, match="failed"):
        draw_graph(f, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.dot.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_real_dot_renders(tmp_path):
    x, y, f = course_example()
    draw_graph(f, tmp_path / "g.dot")
    assert (tmp_path / "g.dot.svg").read_text().lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))
