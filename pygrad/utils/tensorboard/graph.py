"""A TensorBoard ``GraphDef`` from one forward pass: walk ``grad_fn`` / ``next_functions`` from the outputs."""
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, versions_pb2


def _shape_attr(shape):
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=int(s)) for s in shape]
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(
        shape=[tensor_shape_pb2.TensorShapeProto(dim=dims)]))


def graph_def(model, inputs):
    from ...autograd import enable_grad

    params = {id(p): name for name, p in model.named_parameters()} if hasattr(model, "named_parameters") else {}
    with enable_grad():
        out = model(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    nodes, names, order = [], {}, []

    def name_of(fn):
        if id(fn) in names:
            return names[id(fn)]
        var = getattr(fn, "variable", None)
        if var is not None:  # AccumulateGrad: a leaf (parameter or input that requires grad)
            n = "params/" + params.get(id(var), f"leaf{len(names)}").replace(".", "/")
        else:
            n = f"{type(fn).__name__}_{len(names)}"
        names[id(fn)] = n
        return n

    seen, stack = set(), [t.grad_fn for t in outs if getattr(t, "grad_fn", None) is not None]
    while stack:  # iterative DFS, then emit nodes inputs-first
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        order.append(fn)
        for nxt, _ in getattr(fn, "next_functions", ()):
            if nxt is not None:
                stack.append(nxt)
    for fn in reversed(order):
        ins = [name_of(nxt) for nxt, _ in getattr(fn, "next_functions", ()) if nxt is not None]
        var = getattr(fn, "variable", None)
        node = node_def_pb2.NodeDef(name=name_of(fn), op="Parameter" if var is not None else type(fn).__name__,
                                    input=ins)
        if var is not None:
            node.attr["_output_shapes"].CopyFrom(_shape_attr(var.shape))
        nodes.append(node)
    for i, t in enumerate(outs):
        if getattr(t, "grad_fn", None) is not None:
            node = node_def_pb2.NodeDef(name=f"output/{i}", op="Output", input=[name_of(t.grad_fn)])
            node.attr["_output_shapes"].CopyFrom(_shape_attr(t.shape))
            nodes.append(node)
    return graph_pb2.GraphDef(node=nodes, versions=versions_pb2.VersionDef(producer=22))
